"""What a question needs, read from the Hub: one module per source (config, weights,
evaluation, dataset viewer, Space runtime, named files), one interface, each within its own
budget at the revision the reply is about, each returning short text for the model and a
citation (a label and a link to the Hub's web page at that revision).

Empty for now: the lookups arrive with the next feature. A source never raises for an
unreadable answer; it is left out, and the job's reason names what was missing.
"""
