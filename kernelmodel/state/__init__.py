"""State plumbing: the declared fields of the model's classes and the generated functions that
save and load them (docs/ARCHITECTURE.md, "State: declared once")."""
