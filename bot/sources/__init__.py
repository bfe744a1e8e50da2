"""What a question needs, read from the Hub: one module per source, one interface, each within
its own cap and deadline at the revision the reply is about, each giving short text for the
model and a citation (a label and a link to the Hub's web page at that revision).

    found.py       Where (repo and revision), Found (label, url, text), Unread, the Toolbox
    files.py       the repo's files at the revision: safe paths, paths-info, caps, a cache
    config.py      config.json (+ generation and tokenizer configs), summarised
    weights.py     parameters by dtype, GGUF facts, weight formats (from the repo's facts)
    evaluation.py  the card's model-index (from the repo's facts)
    viewer.py      the dataset viewer (DATASET_VIEWER_URL): status, splits, rows, its errors
    space.py       a Space's runtime: stage, hardware, the error of a failed build or run
    choose.py      which lookups a question asks for, by the phrasings in phrasings.toml
    lookups.py     for one mention: the facts sheet and the chosen reads, within the budget
    tools.py       the same lookups offered to a chat model as tools

A source never raises for an unreadable answer: it gives Unread, the lookup is left out, and
the job's reason names what was missing.
"""
