-- wrk script: POST the body in $BENCH_BODY to $BENCH_PATH with the webhook secret.
-- With $BENCH_UNIQUE=1, every request gets its own comment id and discussion number, so each
-- mention is new to the bot (a durable insert) and none waits behind another.
local body = io.open(os.getenv("BENCH_BODY")):read("*a")
local path = os.getenv("BENCH_PATH") or "/webhook"
local unique = os.getenv("BENCH_UNIQUE") == "1"
local headers = {
  ["Content-Type"] = "application/json",
  ["X-Webhook-Secret"] = os.getenv("BENCH_SECRET") or "",
}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function request()
  if not unique then
    return wrk.format("POST", path, headers, body)
  end
  counter = counter + 1
  local serial = thread_id * 100000000 + counter
  local text = body:gsub("COMMENT_ID", string.format("%024x", serial))
  text = text:gsub("\"num\": 4", "\"num\": " .. serial)
  return wrk.format("POST", path, headers, text)
end
