"""The shipped JSON Schemas (links to the top-level schema/ folder, the public contract)."""
