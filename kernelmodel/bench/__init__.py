"""Benchmark driver loops (model scaffolding, compiled so the loops cost what the
kernel's would)."""
