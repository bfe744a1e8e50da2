"""The parts of a reply that every handler shares: what is read, what the model is asked, and
what is made fit to post.

    gather.py    what is read for a mention, in parallel: the discussion and the repo
    context.py   the repo's facts and card, within budgets, kept per repo and revision
    changes.py   a pull request's changes: the diff cut per file within its budget
    thread.py    what of the discussion the model sees, and the bot's own marker
    prompts.py   the prompt templates (PROMPTS_DIR), checked at startup
    prompt_folders.py  where each prompt set lives, checked before the bot serves
    prompt_context.py  what a template is given, and the samples it is checked with
    fence.py     the one fence for what other people wrote, wherever it reaches a prompt
    compose.py   mention + what was read -> prompt -> model -> cleaned reply
    clean.py     making model output fit to post
    post.py      posting a reply once: noted first, looked for after an unclear POST
"""
