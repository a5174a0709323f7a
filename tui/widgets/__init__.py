"""The dashboard's widgets, one module per subject."""
