"""`python -m bot` and every operator command, one module each.

main.py      the command line: serve (the default), and the subcommands below
startup.py   before serving: who the bot is, how its model is reached, the banner
check.py     `check`: can this deployment answer? one line per check, with its fix
preview.py   `preview`: the prompt (and with --generate the reply) without posting;
             preview_discussion.py what `preview --discussion` reads from the Hub
send.py      `send`: a delivery made the way the Hub makes it, to a running bot
jobs.py      `jobs list|show|retry`, and Job mode (`job`, WEBHOOK_PAYLOAD)
webhooks.py  `webhooks create|list|update|enable|disable|delete`
output.py    what every command prints, secrets masked and control characters escaped
"""
