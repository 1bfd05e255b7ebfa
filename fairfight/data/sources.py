"""Data sources -> tables: `hf:` and files through `datasets`, `builtin:` from the generators.

Every failure is a SpecError pointing at the spec line that named the source.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..errors import FairfightError
from .files import is_pattern, matched_files
from ..spec.ir import DatasetSpec, Spec

_BUILDERS = {"jsonl": "json", "csv": "csv", "parquet": "parquet"}


@dataclass(frozen=True)
class Table:
    """Columns of equal length: column name -> list of values."""

    columns: dict

    def __len__(self):
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def names(self) -> list:
        return list(self.columns)

    def take(self, indices) -> "Table":
        return Table({c: [v[i] for i in indices] for c, v in self.columns.items()})

    def row(self, i, cols=None) -> dict:
        return {c: self.columns[c][i] for c in (cols or self.columns)}

    def fingerprint(self) -> str:
        blob = json.dumps(self.columns, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def _first_line(exc: BaseException) -> str:
    """The first line of the innermost explicit cause: datasets wraps a file's own error (a JSON
    parse error in row 1) in a generic DatasetGenerationError."""
    seen = {id(exc)}
    while (inner := exc.__cause__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _load_with_datasets(kind: str, target: str, ds: DatasetSpec | None) -> dict:
    """part name -> Table. Only this function talks to `datasets`."""
    import datasets
    from datasets.utils import logging as ds_logging

    datasets.disable_progress_bars()
    verbosity = ds_logging.get_verbosity()
    ds_logging.set_verbosity(ds_logging.CRITICAL)  # a broken file is reported once, as a positioned error
    try:
        if kind == "hf":
            from ..hub import unreachable

            unreachable()  # one quick probe: an unreachable hub goes offline now, not after ~70 s of retries
            loaded = datasets.load_dataset(target, ds.config if ds else None, revision=ds.revision if ds else None)
        else:
            # a pattern's files in sorted order (data/files.py), not in the order datasets globs them
            files = [str(f) for f in matched_files(target)] if is_pattern(target) else target
            loaded = datasets.load_dataset(_BUILDERS[kind], data_files=files)
    finally:
        ds_logging.set_verbosity(verbosity)
    if isinstance(loaded, datasets.Dataset):
        loaded = {None: loaded}
    return {part: Table(d.to_dict()) for part, d in loaded.items()}


def load_source(source: str, spec: Spec, at: str, ds: DatasetSpec | None = None) -> dict:
    """Read `source` ("jsonl:/abs/path", "builtin:NAME", "hf:ID", ...) into part name -> Table."""
    kind, target = source.split(":", 1)
    try:
        if kind == "builtin":
            from .builtin import generate

            parts = generate(target, dict(ds.options) if ds else None)
            return {part: _rows_to_table(rows) for part, rows in parts.items()}
        return _load_with_datasets(kind, target, ds)
    except FairfightError as exc:
        raise spec.error(at, str(exc)) from None
    except Exception as exc:  # datasets raises many kinds: each becomes a positioned error
        if kind == "hf":
            from ..hub import hint as hub_hint

            hint = hub_hint(f"dataset '{target}'")
            raise spec.error(at, f"cannot load dataset '{target}'{hint} [{_first_line(exc)}]") from None
        from pathlib import Path

        if Path(target).is_file() and Path(target).stat().st_size == 0:  # datasets says only StopIteration
            raise spec.error(at, f"{kind} file '{target}' is empty") from None
        raise spec.error(at, f"cannot read {kind} file '{target}': {_first_line(exc)}") from None


def _rows_to_table(rows) -> Table:
    if not rows:
        return Table({})
    return Table({c: [r[c] for r in rows] for c in rows[0]})


def prepare(parts: dict, ds: DatasetSpec, spec: Spec) -> dict:
    """Apply the dataset's text column and label maps to every part."""
    at = f"datasets.{ds.name}"
    out = {}
    for part, table in parts.items():
        cols = dict(table.columns)
        if ds.text not in cols:
            raise spec.error(f"{at}.text" if ds.text != "text" else f"{at}.source",
                             f"the data has no text column '{ds.text}' (columns: {', '.join(cols) or 'none'})"
                             + ("; set datasets.{0}.text".format(ds.name) if ds.text == "text" else ""))
        if ds.text != "text":
            cols["text"] = cols.pop(ds.text)
        for column, mapping in ds.labels.items():
            if column not in cols:
                raise spec.error(f"{at}.labels.{column}", f"the data has no column '{column}' to map "
                                                          f"(columns: {', '.join(cols)})")
            # Unmapped values become None; a split that keeps such a row is an error (see splits).
            cols[column] = [mapping.get(_raw(v)) for v in cols[column]]
        out[part] = Table(cols)
    return out


def _raw(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
