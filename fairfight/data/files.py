"""The files a file source (`jsonl:`, `csv:`, `parquet:`) names: one path, or a glob pattern.

Data often comes as several files of one table: one CSV per class, parquet shards
(`parquet:shards/part-*.parquet`), a folder of JSONL files (`jsonl:bios/**/*.jsonl`). A pattern
(`*`, `?`, `[...]`; `**` crosses folders) names every file it matches, in sorted path order, so
the table's rows come in the same order on every machine; a pattern that matches no file is an
error, like a missing file. Run keys hash every matched file (its path below the pattern's
fixed folder and its content): a file added, removed, renamed or changed reruns what read it.

No torch, no datasets: `fairfight validate` uses this.
"""
from __future__ import annotations

import glob
from pathlib import Path

from ..spec.vocabulary import FILE_SOURCES

GLOB_CHARS = frozenset("*?[")


def is_pattern(target) -> bool:
    return any(c in GLOB_CHARS for c in str(target))


def matched_files(target, base_dir: Path | None = None) -> list[Path]:
    """The files `target` names (relative to `base_dir` when given): [] when none exists."""
    path = Path(target) if base_dir is None else Path(base_dir) / target
    if not is_pattern(target):
        return [path] if path.is_file() else []
    return sorted(Path(f) for f in glob.glob(str(path), recursive=True) if Path(f).is_file())


def fixed_folder(target) -> Path:
    """The folder a pattern's matches live under: its parts before the first one with a glob character."""
    parts = Path(target).parts
    cut = next((i for i, part in enumerate(parts) if is_pattern(part)), len(parts))
    return Path(*parts[:cut]) if cut else Path(".")


def spec_sources(spec) -> dict:
    """Every data source the spec reads (IR; file paths absolute): datasets by name, and the splits
    that name a source themselves (`from: jsonl:test.jsonl`) as 'splits.NAME'."""
    out = {name: ds.source for name, ds in spec.datasets.items()}
    out.update((f"splits.{name}", sp.source) for name, sp in spec.splits.items() if sp.source)
    return out


def file_sources(spec) -> dict:
    """The file sources among `spec_sources`."""
    return {label: s for label, s in spec_sources(spec).items() if s.split(":", 1)[0] in FILE_SOURCES}


def source_files(source: str) -> list[Path]:
    """The files a file source ('csv:/abs/data/*.csv') reads; the named path itself when it is not
    a pattern, whether or not it exists (a wall around a missing file costs nothing)."""
    target = source.split(":", 1)[1]
    return matched_files(target) if is_pattern(target) else [Path(target)]


def missing_message(target, base_dir: Path | None = None, kind: str = "jsonl") -> str:
    """Why `target` names no data file (matched_files gave none)."""
    if is_pattern(target):
        return f"no data file matches '{target}' (paths are relative to the spec's folder)"
    path = Path(target) if base_dir is None else Path(base_dir) / target
    if path.is_dir():
        return (f"'{target}' is a folder, not a data file: name its files with a pattern, e.g. "
                f"{kind}:{str(target).rstrip('/')}/*.{kind}")
    if path.exists():
        return f"'{target}' is not a regular file (a pipe or a device?): give a data file"
    return f"data file '{target}' does not exist (paths are relative to the spec's folder)"


__all__ = ["is_pattern", "matched_files", "fixed_folder", "spec_sources", "file_sources", "source_files",
           "missing_message", "GLOB_CHARS"]
