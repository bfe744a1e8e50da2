"""Automations: rules that act on repo events (a push to main, a new pull request), run as
jobs of their own kind on the same store, with the same guarantees as mentions.

    rules.py        the automations file (AUTOMATIONS_FILE), read and checked
    rule.py         one rule as data; rule_reader.py the checks, every problem noted
    events.py       a delivery's repo event; matching.py which rules it sets off
    discussions.py  where automations speak: a discussion by title, one comment per run
    templates.py    their words, from prompts/automations/
    run_job.py      do: run_job (start one Hub Job, follow it, report its end)
    card_review.py  do: card_review (check a card's metadata, say what changed)
    comment.py      do: comment (an operator's template, posted once per run)

The handler that runs them is bot.handlers.automation.
"""
