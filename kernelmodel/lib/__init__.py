"""Generic library code (lib/ in the kernel tree: the radix tree) and the model's seeded randomness
and write payloads.
"""
