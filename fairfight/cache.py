"""The user cache: one folder outside every bundle for work that evals share.

Where it is (first that applies): `--cache DIR`, `$FAIRFIGHT_CACHE`, `$XDG_CACHE_HOME/fairfight`,
`~/.cache/fairfight`. Inside, one *area* per kind of cached work, each a folder of *entries*:

    CACHE/runs/<run key>/        finished runs (record.json, predictions.jsonl, ledger.json, log.txt)
    CACHE/forward/<entry key>/   shared forward passes (forward_cache.py; plus its locks and logs)

An entry is an immediate sub-folder of an area whose name does not start with '.'; it appears
complete or not at all (written into a temp folder, then renamed: `write_dir_atomic`). Everything
else in an area (lock files, logs, indexes) is the area's bookkeeping: counted in the size, never
evicted. Another kind of cached work (trained SAEs, say) plugs in by taking `UserCache.area(NAME)`,
writing each entry atomically under a content key, and calling `touch(entry)` whenever it reuses
one; the size cap, eviction, `fairfight cache` and the sandbox's wall around the cache then cover
it with nothing else to do.

Least recently used goes first: an entry's last use is its folder's mtime (set when it is
written, and by `touch` when it is read). Eviction keeps every entry used within `grace` seconds,
so an eval running now never loses an entry between finding it and reading it; an entry evicted
while an eval would still want it later is computed again, never read half-deleted. An entry
whose `<name>.lock` beside it is held (a pass being computed) is skipped too.

Trust: contender processes never reach the cache (it is in every run's denied paths: Landlock and
the audit hook), and only the trusted side writes into it. The folder is made private to the user
(0700); a cache folder that other users can write is refused, since a run or a pass planted there
would be reused as if it were computed here.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import FairfightError

ENV_DIR = "FAIRFIGHT_CACHE"
ENV_MAX_SIZE = "FAIRFIGHT_CACHE_MAX_SIZE"
DEFAULT_MAX_SIZE = 20 * 1000**3  # 20 GB: a few real-data evals' token-level states
GRACE = 600.0  # seconds: an entry used this recently is never evicted (an eval may be about to read it)
AREAS = ("runs", "forward")  # the kinds fairfight keeps today; others may add theirs (see the docstring)


class CacheError(FairfightError):
    """The cache folder cannot be used (wrong permissions, not a folder, a bad size)."""


def default_root() -> Path:
    """The cache folder when no --cache is given."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fairfight"


def parse_size(text: str | int) -> int:
    """'20G', '500MB', '1.5 GiB', '123' (bytes) -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?)b?\s*", str(text), re.IGNORECASE)
    if not match:
        raise CacheError(f"'{text}' is not a size (examples: 20G, 500MB, 1.5GiB, 1000000)")
    number, unit, binary = match.groups()
    power = " kmgt".index(unit.lower() or " ")
    return int(float(number) * (1024 if binary else 1000) ** power)


def max_size() -> int:
    """The size cap: $FAIRFIGHT_CACHE_MAX_SIZE, else 20 GB."""
    value = os.environ.get(ENV_MAX_SIZE)
    return parse_size(value) if value else DEFAULT_MAX_SIZE


def human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} TB"  # pragma: no cover


def touch(entry: Path) -> None:
    """Mark a cache entry used now (least recently used goes first). Never fails a read."""
    try:
        os.utime(entry)
    except OSError:
        pass


@dataclass(frozen=True)
class Entry:
    area: str
    path: Path
    size: int
    used: float  # last use (seconds since the epoch)


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass  # removed while we walked
    return total


def _lock_held(lock: Path) -> bool:
    import fcntl

    try:
        with open(lock, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


class UserCache:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root else default_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder '{self.root}': {exc.strerror or exc} "
                             f"(choose another with --cache DIR or ${ENV_DIR})") from None
        problem = _unsafe(self.root)
        if problem:
            raise CacheError(problem)

    def area(self, name: str) -> Path:
        """The folder of one kind of cached work (made on first use)."""
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise ValueError(f"not an area name: {name!r}")
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    def entries(self) -> list[Entry]:
        out = []
        for area in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for path in area.iterdir():
                if path.is_dir() and not path.is_symlink() and not path.name.startswith("."):
                    try:
                        used = path.stat().st_mtime
                    except OSError:
                        continue
                    out.append(Entry(area.name, path, _size(path), used))
        return out

    def usage(self) -> dict:
        """{'total': bytes (entries and bookkeeping), 'areas': {area: {'entries': n, 'bytes': b}}}."""
        areas: dict = {}
        for e in self.entries():
            a = areas.setdefault(e.area, {"entries": 0, "bytes": 0})
            a["entries"] += 1
            a["bytes"] += e.size
        return {"total": _size(self.root), "areas": areas}

    def evict(self, limit: int | None = None, *, grace: float = GRACE, now: float | None = None) -> list[Entry]:
        """Remove least recently used entries until the cache is within `limit` bytes (default: the
        cap). Entries used within `grace` seconds and entries being written are kept, even over the cap."""
        limit = max_size() if limit is None else limit
        total = _size(self.root)
        if total <= limit:
            return []
        now = time.time() if now is None else now
        removed = []
        for entry in sorted(self.entries(), key=lambda e: e.used):
            if total <= limit:
                break
            if now - entry.used < grace:
                break  # sorted by use: every later entry is more recent still
            lock = entry.path.parent / f"{entry.path.name}.lock"
            if lock.exists() and _lock_held(lock):
                continue
            _remove(entry.path)
            lock.unlink(missing_ok=True)
            total -= entry.size
            removed.append(entry)
        return removed

    def clear(self) -> int:
        """Remove every entry and every area's bookkeeping; the bytes freed."""
        before = _size(self.root)
        for path in self.root.iterdir():
            if path.is_dir() and not path.is_symlink():
                _remove(path)
            else:
                path.unlink(missing_ok=True)
        return before - _size(self.root)


def _remove(path: Path) -> None:
    """Rename first, then delete: a reader sees the entry whole or not at all."""
    gone = path.parent / f".evicted-{path.name}-{os.getpid()}"
    try:
        os.replace(path, gone)
    except OSError:
        return
    shutil.rmtree(gone, ignore_errors=True)


def _unsafe(root: Path) -> str | None:
    """Why other users could plant entries in `root`, or None."""
    import stat

    try:
        info = root.stat()
    except OSError as exc:
        return f"cannot read the cache folder '{root}': {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"the cache '{root}' is not a folder"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return (f"the cache folder '{root}' belongs to another user (uid {info.st_uid}): runs and passes found there "
                f"would be reused as if computed here; use a folder of your own (--cache DIR or ${ENV_DIR})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"the cache folder '{root}' can be written by other users (mode {stat.S_IMODE(info.st_mode):o}): a run "
                f"or pass planted there would be reused as if computed here; `chmod go-w {root}` or use another folder")
    return None
