"""Data sources: deterministic builtin datasets (see `fairfight.data.builtin`)."""
