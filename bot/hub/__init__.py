"""The Hub's REST API as the bot uses it.

client.py         whoami, discussions (read, comment), repo reads, webhooks
webhook_watch.py  whether the Hub suspended the webhook that sends to us, for the status page
token.py          what the bot's token may do (whoami-v2, fine-grained scopes)
jobs.py           the Hub's Jobs API: start, find by label, inspect; discussions by title
"""
