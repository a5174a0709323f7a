"""State plumbing, not kernel code: the declared fields of the model's classes and the generated
functions that save and load them (docs/ARCHITECTURE.md, "State: declared once"), and rebuilding
a kernel from its plain data (restore)."""
