"""The invariant checkers: model-only scaffolding, no kernel counterpart; kernel-tree code never
imports them.
"""
