"""The audit of an archive of `fairfight pack`, of one bundle or of a family's."""
from __future__ import annotations

from ..errors import FairfightError
from ..pack import SUFFIX, open_archive
from .core import Audit, Finding, audit_bundle
from .family import is_family_bundle, run_family_audit


def run_archive_audit(archive, *, rerun: int = 0, spec_path=None) -> Audit:
    """The audit of an archive of `fairfight pack`: unpacked into a temporary folder, every member
    checked against pack.json (a damaged or edited archive is a finding), then audited as a folder
    (a family's: every member and the family's arithmetic) with the spec from the archive's spec/."""
    with open(archive, "rb") as f:
        gzip_magic = f.read(2) == b"\x1f\x8b"
    if not gzip_magic and not str(archive).endswith(SUFFIX):  # a damaged archive is a finding; this is no archive
        raise FairfightError(f"{archive} is neither a bundle folder nor an archive written by `fairfight pack`")
    with open_archive(archive) as opened:
        family = opened.bundle is not None and is_family_bundle(opened.bundle)
        if opened.bundle is None or not (family or (opened.bundle / "results.json").is_file()):
            audit = Audit(str(archive), archive_sha256=opened.sha256)
            audit.findings += [Finding("integrity", p) for p in opened.problems or ["the archive holds no bundle"]]
            return audit
        spec = spec_path or (opened.spec if opened.spec and opened.spec.is_file() else None)
        if family:
            audit = run_family_audit(opened.bundle, rerun=rerun, spec_path=spec)
        else:
            audit = audit_bundle(opened.bundle, spec, rerun)
        audit.bundle, audit.archive_sha256 = str(archive), opened.sha256
        audit.findings[:0] = [Finding("integrity", p) for p in opened.problems]
        audit.left_out = list(opened.info.get("left_out") or [])  # named with their sha256: not findings
        return audit
