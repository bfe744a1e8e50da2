"""The bot's parts, assembled from settings: HTTP clients, store, model, composer, handlers.

Shared by the web app (which adds the webhook receiver and the worker) and by `python -m bot
job` (which handles one payload and exits). Tests pass fake transports and a retry policy.
The receiving half is built first and imports none of the reply machinery: `python -m bot`
answers deliveries with it while the rest is loaded.

    clients.py      the HTTP clients, each bound to the origin its token may go to
    options.py      the receiving half's options: store, guards, the model's route, status page
    receiving.py    the receiving half: store, clients, whoami, guards, metrics, webhook watch
    parts.py        the reply machinery's parts, each built from settings
    assembly.py     the whole: the receiving half with the replies on it (Services)
    automations.py  the automations' rules and matcher, only when there is an AUTOMATIONS_FILE
    automation_flow.py  the handler of automation jobs, built with the replies when there are rules

Nothing is imported here, so that importing one of them loads only what it needs.
"""
