"""Shared kernel structs and constants: what include/ holds in the kernel tree (struct page,
mm_struct, writeback_control, page_state, BUG_ON, the system-call ABI).
"""
