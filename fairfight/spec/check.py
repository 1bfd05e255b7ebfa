"""load → version → schema → semantics → IR: the one entry point to the spec language."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SpecError
from .build import build_ir
from .ir import FrozenMap, Spec, SpecLocations
from .loader import Document, parse, read_source
from .matching import diagnostics as matching_diagnostics
from .overrides import apply_overrides
from .schema import check_schema
from .semantics import REFUSED, Checker
from .source import Source, format_path
from .vocabulary import SPEC_VERSIONS


@dataclass
class Report:
    """What checking one spec found: diagnostics (errors and warnings) and, if valid, the IR."""

    file: str
    diagnostics: list = field(default_factory=list)
    spec: Spec | None = None

    @property
    def errors(self):
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self):
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {"file": self.file, "valid": self.ok, "diagnostics": [d.to_dict() for d in self.diagnostics]}


def _builtin_checks(spec) -> list:
    """Built-in contenders that cannot run under the rules, judged by their own declarations."""
    from ..baselines import CannotRun, uses_for

    out = []
    for section, entries in (("baselines", spec.baselines), ("skylines", spec.skylines)):
        for i, contender in enumerate(entries):
            try:
                uses_for(spec, contender)
            except CannotRun as exc:
                noun = "required baseline" if section == "baselines" else "skyline"
                out.append(spec.where.diagnostic(f"{section}[{i}]", f"{noun} '{contender.name}' cannot run under "
                                                                   f"these rules: {exc}"))
    return out


def _version_check(doc: Document) -> list:
    version = doc.data.get("fairfight")
    if "fairfight" not in doc.data:
        return [doc.diagnostic((), "missing 'fairfight: 1' (the version of the spec language) at the top of the spec")]
    if isinstance(version, bool) or version not in SPEC_VERSIONS:
        supported = ", ".join(map(str, SPEC_VERSIONS))
        return [doc.diagnostic(("fairfight",), f"spec version {version!r} is not supported; this fairfight reads "
                                               f"version {supported}")]
    return []


def _locations(doc: Document) -> SpecLocations:
    spans = {}
    for table in (doc.key_spans, doc.spans):  # values win over keys
        for p, pos in table.items():
            spans[format_path(p)] = (doc.source_of(p).name, pos)
    texts = {doc.source.name: doc.source.text}
    texts.update({s.name: s.text for s in doc.origins.values()})
    return SpecLocations(FrozenMap(spans), FrozenMap(texts))


def check_document(doc: Document, *, path: Path | None, base_dir: Path, overrides=(), refusals_ok=False) -> Report:
    """Check a loaded spec. With `refusals_ok` (what `eval` does), a method whose uses exceed
    the rules is a warning, not an error: the plan lists it as refused and runs the rest."""
    report = Report(doc.source.name)
    try:
        apply_overrides(doc, overrides)
    except SpecError as exc:
        report.diagnostics = exc.diagnostics
        return report
    version = _version_check(doc)
    if version:
        report.diagnostics = doc.errors + version
        return report
    structural = check_schema(doc)
    semantic = Checker(doc, base_dir).run(structure_ok=not structural)
    if refusals_ok:
        semantic = [dataclasses.replace(d, severity="warning") if d.code == REFUSED else d for d in semantic]
    report.diagnostics = sorted(doc.errors + structural + semantic, key=lambda d: d.sort_key)
    if report.ok:
        digest = hashlib.sha256(doc.source.text.encode() + json.dumps(list(overrides)).encode()).hexdigest()
        spec = build_ir(doc.data, path=path, base_dir=base_dir, spec_hash=digest, where=_locations(doc))
        report.diagnostics = sorted(report.diagnostics + _builtin_checks(spec) + matching_diagnostics(spec),
                                    key=lambda d: d.sort_key)
        report.spec = spec if report.ok else None
    return report


def check_file(path, overrides=(), *, refusals_ok=False) -> Report:
    """Check one spec file; never raises for bad input (problems are in the report)."""
    try:
        doc = parse(read_source(path))
    except SpecError as exc:
        return Report(str(path), exc.diagnostics)
    p = Path(path).resolve()
    return check_document(doc, path=p, base_dir=p.parent, overrides=overrides, refusals_ok=refusals_ok)


def check_text(text: str, name="<spec>", base_dir=".", overrides=(), *, refusals_ok=False) -> Report:
    try:
        doc = parse(Source(name, text))
    except SpecError as exc:
        return Report(name, exc.diagnostics)
    return check_document(doc, path=None, base_dir=Path(base_dir).resolve(), overrides=overrides,
                          refusals_ok=refusals_ok)


def load_spec(path, overrides=(), *, refusals_ok=False) -> Spec:
    """The IR of a valid spec; raise SpecError (with every diagnostic) otherwise."""
    report = check_file(path, overrides, refusals_ok=refusals_ok)
    if not report.ok:
        raise SpecError(report.diagnostics)
    return report.spec
