"""State and snapshot plumbing: rebuilding a kernel from its plain data (model only)."""
