-- wrk script: POST the body in $BENCH_BODY to $BENCH_PATH with the webhook secret and, as the
-- Hub does, a Webhook-Id of its own on every delivery.
-- With $BENCH_UNIQUE=1, every request also gets its own comment id and discussion number, so
-- each mention is new to the bot (a durable insert) and none waits behind another; $BENCH_RUN
-- keeps the ids of one wrk run apart from the next's.
local body = io.open(os.getenv("BENCH_BODY")):read("*a")
local path = os.getenv("BENCH_PATH") or "/webhook"
local unique = os.getenv("BENCH_UNIQUE") == "1"
local secret = os.getenv("BENCH_SECRET") or ""
local run = tonumber(os.getenv("BENCH_RUN") or "0") -- each wrk run its own ids
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local serial = (run * 10 + thread_id) * 1000000 + counter -- below 2^32: %x wants that
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Webhook-Secret"] = secret,
    ["Webhook-Id"] = string.format("bench%019d", serial),
  }
  if not unique then
    return wrk.format("POST", path, headers, body)
  end
  local text = body:gsub("COMMENT_ID", string.format("%024x", serial))
  text = text:gsub("\"num\": 4", "\"num\": " .. serial)
  return wrk.format("POST", path, headers, text)
end
