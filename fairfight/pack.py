"""One file to publish: a bundle, its spec and the spec's files, in one archive (`fairfight pack`).

    ARCHIVE.tar.gz
      pack.json          what is inside: every file's sha256, and the files left out with theirs
      bundle/...         the bundle folder as eval wrote it (results, runs, manifest, reports)
      spec/SPEC.yaml     the spec, in its folder: the methods' source (the .py files beside each
      spec/...           method file), knowledge artifacts and local data files, at their paths
                         relative to the spec's folder

A file over `max_file` bytes (a large knowledge artifact, a big data file) is left out and named in
pack.json with its sha256, so a reviewer who gets it elsewhere can check it. The model is never
packed: provenance.json names it (its files' fingerprint). The archive is deterministic (sorted
members, no times or owners), so packing the same bundle twice gives the same sha256: the number
a paper prints. `fairfight audit` and `fairfight report` open an archive as they open a folder.
A family's bundle (family.json, members/NAME/) packs the same way, with the files of every member's
spec (members may name different data files or knowledge artifacts); pack.json says `family: true`.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FairfightError

PACK_FORMAT, PACK_VERSION = "fairfight-pack", 1
PACK_INFO = "pack.json"
MAX_FILE = 25 * 1000**2  # bytes: larger files are named with their sha256, not packed
SUFFIX = ".tar.gz"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def spec_folder_of(bundle: Path) -> tuple[Path | None, str | None]:
    """(the spec's folder, the spec file's name) as provenance.json records them: the folder relative
    to the bundle (older bundles: absolute)."""
    try:
        info = json.loads((bundle / "provenance.json").read_text(encoding="utf-8"))["spec"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    folder = info.get("folder_from_bundle")
    path = (bundle / folder) if folder else Path(info.get("folder") or ".")
    name = info.get("file") or Path(info.get("path") or "spec.yaml").name
    return path.resolve(), name


def spec_files(spec) -> list[tuple[str, Path]]:
    """(what, absolute path) of every file the spec names that a reviewer needs beside it: each
    method's file and the .py files in its folder (its helpers), knowledge artifacts, local data."""
    from .data.files import file_sources, source_files

    out: list[tuple[str, Path]] = []
    for contender in spec.methods.values():
        target = (contender.run or "").rsplit(":", 1)[0]
        if target.endswith(".py"):
            method = Path(target)
            out.append(("method", method))
            out += [("method helper", p) for p in sorted(method.parent.glob("*.py")) if p != method]
    for item in spec.rules.knowledge.values():
        if item.artifact is not None:
            path = Path(item.artifact)
            out += [("knowledge", p) for p in ([path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file()))]
    for _, source in sorted(file_sources(spec).items()):
        out += [("data", p) for p in source_files(source)]
    seen, unique = set(), []
    for what, path in out:
        if path.resolve() not in seen and path.is_file():
            seen.add(path.resolve())
            unique.append((what, path))
    return unique


@dataclass
class Packed:
    path: Path
    sha256: str
    size: int
    files: int
    left_out: list = field(default_factory=list)  # [{path, what, bytes, sha256, why}]


def pack(bundle, out=None, *, spec_path=None, max_file: int = MAX_FILE) -> Packed:
    """Pack a bundle folder, or a family's (family.json; every member's bundle inside it, the spec
    files of every member: members may differ in data files or knowledge artifacts)."""
    bundle = Path(bundle)
    family = (bundle / "family.json").is_file() and not (bundle / "results.json").exists()
    if not family and not (bundle / "results.json").is_file():
        raise FairfightError(f"{bundle} is not a fairfight bundle (no results.json, no family.json)")
    if not (bundle / "MANIFEST.json").is_file():
        raise FairfightError(f"{bundle} has no MANIFEST.json: pack a bundle that `fairfight eval` finished")
    wholes = _member_bundles(bundle) if family else [(None, bundle)]
    spec_file, overrides = _spec_of(wholes[0][1], spec_path)
    named: dict[Path, tuple] = {}
    for member, _ in wholes:
        spec = _checked_spec(spec_file, overrides, member)
        for what, path in spec_files(spec):
            named.setdefault(path.resolve(), (what, path))
    files, base_dir = list(named.values()), spec.base_dir.resolve()
    # the spec's folder and every file it names keep their relative places (a method in
    # ../quickstart/ stays there), under the deepest folder that holds them all
    base = _common_folder([base_dir, *(path.resolve().parent for _, path in files)])
    members: dict[str, bytes | Path] = {}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle)
        if not any(part.startswith(".") for part in rel.parts):  # hidden: scratch, never evidence
            members[f"bundle/{rel.as_posix()}"] = path
    spec_name = (spec_file.resolve().parent.relative_to(base) / spec_file.name).as_posix()
    members[f"spec/{spec_name}"] = spec_file
    left_out = []
    for what, path in files:
        rel = path.resolve().relative_to(base).as_posix()
        if path.stat().st_size > max_file:
            left_out.append({"path": rel, "what": what, "bytes": path.stat().st_size, "sha256": sha256_file(path),
                             "why": f"larger than {max_file:,} bytes"})
            continue
        members.setdefault(f"spec/{rel}", path)
    info = {"format": PACK_FORMAT, "version": PACK_VERSION, "spec": spec_name,
            **({"family": True} if family else {}),
            "files": {name: sha256_file(p) for name, p in sorted(members.items())},
            "left_out": left_out,
            "note": "the model is not packed: provenance.json (bundle/) names it, with its files' fingerprint"}
    target = Path(out) if out else bundle.parent / f"{bundle.name}{SUFFIX}"
    _write_tar(target, {PACK_INFO: (json.dumps(info, indent=2) + "\n").encode(), **members})
    return Packed(target, sha256_file(target), target.stat().st_size, len(members), left_out)


def _member_bundles(root: Path) -> list[tuple[str, Path]]:
    """(member name, its bundle folder) of a family bundle, as family.json lists them."""
    try:
        family = json.loads((root / "family.json").read_text(encoding="utf-8"))
        listed = [(str(m["name"]), root / str(m["bundle"])) for m in family["members"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FairfightError(f"{root}/family.json is not a family bundle's: {exc!r}") from None
    missing = [name for name, folder in listed
               if not folder.resolve().is_relative_to(root.resolve()) or not (folder / "results.json").is_file()]
    if not listed or missing:
        raise FairfightError(f"{root}: the family's member bundle(s) {', '.join(missing) or '(none listed)'} "
                             "are missing: pack a family that `fairfight eval` finished")
    return listed


def _spec_of(bundle: Path, spec_path) -> tuple[Path, list]:
    """The spec file a bundle was made from (or the one given) and the --set overrides it ran with."""
    folder, name = spec_folder_of(bundle)
    spec_file = Path(spec_path) if spec_path else (folder / name if folder and name else None)
    if spec_file is None or not spec_file.is_file():
        raise FairfightError(f"cannot find the bundle's spec ({spec_file or 'provenance.json names none'}): "
                             "pass --spec PATH")
    overrides = json.loads((bundle / "provenance.json").read_text(encoding="utf-8"))["spec"].get("overrides", [])
    return spec_file, overrides


def _checked_spec(spec_file: Path, overrides, member):
    from .spec.check import check_file

    report = check_file(str(spec_file), overrides, refusals_ok=True, member=member)
    if not report.ok:
        where = f" (member {member})" if member else ""
        raise FairfightError(f"the bundle's spec does not validate{where}: {report.errors[0].headline()}")
    return report.spec


def _common_folder(folders: list) -> Path:
    import os

    return Path(os.path.commonpath([str(f) for f in folders]))


def _write_tar(target: Path, members: dict) -> None:
    import gzip
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(members):
                data = members[name] if isinstance(members[name], bytes) else Path(members[name]).read_bytes()
                entry = tarfile.TarInfo(name)
                entry.size, entry.mtime, entry.mode = len(data), 0, 0o644
                tar.addfile(entry, io.BytesIO(data))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_archive(path) -> bool:
    return Path(path).is_file()


@dataclass
class Opened:
    """An archive unpacked into a temporary folder (removed by close())."""
    archive: Path
    sha256: str
    root: Path | None = None
    bundle: Path | None = None
    spec: Path | None = None
    info: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)  # what does not match pack.json, or why it cannot be read

    def close(self) -> None:
        import shutil

        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_archive(path) -> Opened:
    """Unpack and check an archive. A damaged archive (a changed byte fails gzip's checksum) or a
    member that does not match pack.json is a problem, not an exception: the audit reports it."""
    import tempfile
    import zlib

    path = Path(path)
    opened = Opened(path, sha256_file(path))
    root = Path(tempfile.mkdtemp(prefix="fairfight-archive-"))
    opened.root = root
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                name = Path(member.name)
                if not member.isfile() or name.is_absolute() or ".." in name.parts:
                    opened.problems.append(f"the archive holds '{member.name}', which is not a plain file inside it: "
                                           "not unpacked")
                    continue
                dest = root / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(member).read())
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        opened.problems.append(f"the archive is damaged and cannot be read whole ({type(exc).__name__}: {exc})")
        return opened
    try:
        opened.info = json.loads((root / PACK_INFO).read_text(encoding="utf-8"))
        assert opened.info.get("format") == PACK_FORMAT
    except (OSError, ValueError, AssertionError):
        opened.problems.append(f"the archive has no readable {PACK_INFO}: not an archive `fairfight pack` wrote")
        return opened
    files = opened.info.get("files") or {}
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {PACK_INFO}
    for name, digest in sorted(files.items()):
        if name not in present:
            opened.problems.append(f"missing from the archive: {name}")
        elif sha256_file(root / name) != digest:
            opened.problems.append(f"edited in the archive: {name} (its sha256 differs from {PACK_INFO})")
    for name in sorted(present - set(files)):
        opened.problems.append(f"added to the archive: {name} (not in {PACK_INFO})")
    opened.bundle = root / "bundle"
    spec = Path(str(opened.info.get("spec", "spec.yaml")))
    if spec.is_absolute() or ".." in spec.parts:
        opened.problems.append(f"{PACK_INFO} names the spec '{spec}', which is not a file inside the archive")
        spec = Path("spec.yaml")
    opened.spec = root / "spec" / spec
    return opened
