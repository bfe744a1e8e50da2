"""The model, behind one interface, in the three shapes servers speak.

    text_generation  {"inputs", "parameters"} -> [{"generated_text"}]: BLOOM's API (TGI,
                     Inference Endpoints, hf-inference); the completion prompt
    completions      OpenAI /v1/completions {"model", "prompt"} -> {"choices": [{"text"}]}:
                     text generation through Inference Providers, vLLM, TGI, llama.cpp
    chat             OpenAI /v1/chat/completions {"model", "messages"}: chat models

`endpoint` holds what they share: the call, the retry policy, failing over to the next
provider, reasoning cut from answers, the errors and their hints.
`models` holds the one in use (`Models`), built from the route `routing` found. This file
imports nothing: `routing` is asked at startup, before the bot answers its first delivery, and
the backends (with the prompts they render) are loaded after.
"""
