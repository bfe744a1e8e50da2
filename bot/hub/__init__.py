"""The Hub's REST API as the bot uses it.

client.py         whoami, discussions (read, comment), repo reads, webhooks
webhook_watch.py  whether the Hub suspended the webhook that sends to us, for the status page
"""
