"""The bundle folder of one eval: every file written atomically, finished runs never lost.

    OUT/results.json  OUT/provenance.json  OUT/runs/<key>/{record.json, predictions.jsonl, ledger.json, log.txt}

A run is finished when its record.json exists (it is written last), so a re-run with the same
--out skips it, whatever interrupted the eval before.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

RESULTS_FORMAT = "fairfight-results"
RESULTS_VERSION = 1
FINISHED = ("succeeded", "refused")  # failed runs are tried again on resume


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a bundle is for reviewers to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finite(value):
    """NaN and infinities are not JSON: they become null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def ledger_text(ledger: dict) -> str:
    """ledger.json: its entries one per line, each compact. Indented, the edits' vectors (hundreds of
    floats per model call, repeated per chunk of inputs) put one float per line and made the
    quickstart's ledgers 8 MB of its 10 MB bundle; one line per operation is a third of that and
    still reads (and diffs, and greps) one model call at a time."""
    def dump(value):
        return json.dumps(_finite(value), default=str, allow_nan=False)

    head = [f"  {json.dumps(k)}: {dump(v)}" for k, v in ledger.items() if k != "entries"]
    if "entries" in ledger:
        rows = ",\n".join(f"    {dump(e)}" for e in ledger["entries"])
        head.append('  "entries": [' + (f"\n{rows}\n  ]" if rows else "]"))
    return "{\n" + ",\n".join(head) + "\n}\n" if head else "{}\n"


def write_json(path: Path, data) -> None:
    write_atomic(path, json.dumps(_finite(data), indent=2, sort_keys=False, default=str, allow_nan=False) + "\n")


class Bundle:
    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)

    def run_dir(self, key: str) -> Path:
        return self.root / "runs" / key

    def finished(self, key: str) -> dict | None:
        """The record of a finished run, or None (absent, unreadable, or failed)."""
        return _finished(self.run_dir(key))

    def write_run(self, key: str, record: dict, predictions, ledger, log: str) -> None:
        folder = self.run_dir(key)
        write_atomic(folder / "predictions.jsonl", "".join(json.dumps(p) + "\n" for p in predictions or []))
        write_atomic(folder / "ledger.json", ledger_text(ledger or {}))
        write_atomic(folder / "log.txt", log)
        write_json(folder / "record.json", record)  # last: its presence means the run is complete

    def read_predictions(self, key: str) -> list:
        path = self.run_dir(key) / "predictions.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


MANIFEST = "MANIFEST.json"
UNSEALED = ("report.md", "report.html", MANIFEST)  # derived files that `fairfight report` re-renders


def sealed_files(root: Path) -> list:
    """Every evidence file of a bundle (relative paths), in a stable order."""
    root = Path(root)
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts) and rel.name not in UNSEALED:
            out.append(str(rel))
    return out


def write_manifest(root: Path) -> dict:
    """sha256 of every evidence file, so an audit can tell edited, missing and added files."""
    import hashlib

    root = Path(root)
    files = {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in sealed_files(root)}
    manifest = {"format": "fairfight-manifest", "version": 1, "algorithm": "sha256", "files": files}
    write_json(root / MANIFEST, manifest)
    return manifest


def _finished(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if record.get("status") in FINISHED else None


class Cache:
    """Finished runs shared across evals, by run key: the user cache's `runs` area (fairfight/cache.py)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def fetch(self, key: str, bundle: Bundle, accept=lambda record: True) -> dict | None:
        """The finished run `key` copied into `bundle`, if the cache holds one that `accept`s."""
        from ...cache import touch

        src = self.root / key
        record = _finished(src)
        if record is None or not accept(record):
            return None
        touch(src)  # least recently used goes first
        _copy_dir(src, bundle.run_dir(key))
        return record

    def store(self, key: str, bundle: Bundle) -> None:
        if _finished(self.root / key) is None and _finished(bundle.run_dir(key)) is not None:
            _copy_dir(bundle.run_dir(key), self.root / key)


def write_dir_atomic(dst: Path, fill) -> None:
    """Make folder `dst` appear complete or not at all: `fill(tmp)` writes into a sibling temp
    folder, which then replaces `dst`."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}."))
    try:
        fill(tmp)
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _copy_dir(src: Path, dst: Path) -> None:
    def fill(tmp):
        for item in src.iterdir():
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, tmp / item.name)

    write_dir_atomic(dst, fill)
