"""The columns of a local data file, from its first line, header or schema alone.

`validate` (without --data) checks the columns a spec names against files it can read this cheaply
(jsonl: the first row's keys; csv: the header; parquet: the schema), so a misspelt column is found
at once, as `validate --data` and `eval` would find it after loading. No datasets, no torch.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from .files import is_pattern, matched_files

_MAX_LINE = 1 << 20  # a first jsonl row longer than this is left to the loader


def file_columns(kind: str, target: str, base_dir: Path) -> frozenset | None:
    """The columns of `kind:target` (relative to base_dir), or None when they cannot be read cheaply
    (no such file, an unreadable first row, a pattern that matches nothing): loading will say why."""
    files = matched_files(target, base_dir)
    if not files:
        return None
    path = files[0]  # a pattern's files are one table: the first tells its columns
    try:
        if kind == "jsonl":
            with _open_text(path) as f:
                for line in f:
                    if len(line) > _MAX_LINE:
                        return None
                    if line.strip():
                        row = json.loads(line)
                        return frozenset(row) if isinstance(row, dict) else None
            return None
        if kind == "csv":
            with _open_text(path) as f:
                header = next(csv.reader(f), None)
            return frozenset(h for h in header if h) if header else None
        if kind == "parquet":
            import pyarrow.parquet as pq

            return frozenset(pq.read_schema(path).names)
    except (OSError, ValueError, UnicodeDecodeError, csv.Error, ImportError, EOFError):
        return None
    except Exception:  # noqa: BLE001 - pyarrow's own errors: the loader reports a broken file properly
        return None
    return None


def _open_text(path: Path):
    """A text file, or a gzip-compressed one (`.gz`, as datasets reads them): only its start is read."""
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def split_file_columns(source: str, base_dir: Path, text: str | None) -> frozenset | None:
    """The columns a split drawn from file `source` has after its dataset's text column becomes 'text'."""
    kind, _, target = source.partition(":")
    if kind not in ("jsonl", "csv", "parquet") or not target:
        return None
    columns = file_columns(kind, target, base_dir)
    if columns is None:
        return None
    if text and text != "text":
        if text not in columns:
            return None  # the loader says "the data has no text column", positioned on datasets.X.text
        columns = (columns - {text}) | {"text"}
    return columns


__all__ = ["file_columns", "split_file_columns", "is_pattern"]
