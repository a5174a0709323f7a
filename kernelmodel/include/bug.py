"""BUG() and BUG_ON() (include/asm-generic/bug.h; the same in 2.6.5, 2.6.6 and 2.6.7).

A kernel BUG is a broken invariant inside the model. It is raised as ``KernelBug`` with a
message "function: condition", so a failing test or run names the exact check. It is never a
user error: bad input is rejected in ``scenarios/`` before it reaches the model.
"""

from __future__ import annotations


class KernelBug(Exception):
    """A violated kernel invariant (the model's BUG())."""


def bug_on(cond: bool, what: str) -> None:
    """BUG_ON(cond): raise KernelBug(what) when ``cond`` holds.

    Args:
        cond: the condition that must not hold.
        what: "function: condition" text naming the check.
    """
    if cond:
        raise KernelBug(what)
