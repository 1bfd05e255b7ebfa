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
from .method_checks import REFUSED
from .semantics import Checker
from .source import Source, format_path
from .vocabulary import SPEC_VERSIONS


@dataclass
class Report:
    """What checking one spec found: diagnostics (errors and warnings) and, if valid, the IR."""

    file: str
    diagnostics: list = field(default_factory=list)
    spec: Spec | None = None
    loader: object = field(default=None, repr=False)  # the SplitLoader that loaded the data (data=True)
    # a family spec (checked without a member named): (Member, Report) for every member; `spec` is None
    family: list | None = None

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
        out = {"file": self.file, "valid": self.ok, "diagnostics": [d.to_dict() for d in self.diagnostics]}
        if self.family is not None:
            out["members"] = [{"name": m.name, "valid": r.ok} for m, r in self.family]
        return out


def _builtin_checks(spec) -> list:
    """Built-in contenders that cannot run under the rules, judged by their own declarations."""
    from ..baselines import CannotRun, uses_for
    from ..baselines.catalogue import model_kind
    from ..baselines.parameters import declared

    out = []
    for section, entries in (("baselines", spec.baselines), ("skylines", spec.skylines)):
        for i, contender in enumerate(entries):
            try:
                uses_for(spec, contender)
            except CannotRun as exc:
                noun = "required baseline" if section == "baselines" else "skyline"
                out.append(spec.where.diagnostic(f"{section}[{i}]", f"{noun} '{contender.name}' cannot run under "
                                                                   f"these rules: {exc}"))
                continue
            params = declared(contender.name)
            for key in contender.params:
                wanted = params[key].models if key in params else "any"
                kind = model_kind(spec)
                if wanted != "any" and wanted != kind:
                    out.append(spec.where.diagnostic(
                        f"{section}[{i}].{contender.name}.params.{key}",
                        f"{contender.name}'s '{key}' is for {wanted} models; this model is {'an' if kind[0] in 'ae' else 'a'} "
                        f"{kind}, so it has no effect (see `fairfight baselines`)", severity="warning"))
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
    # Every --set override is a source named "--set": key each text by its own id, so an error in
    # the first of two overrides quotes the first (SpecLocations shows the name before the NUL).
    keys = {id(doc.source): doc.source.name}
    for i, origin in enumerate(_distinct(doc.origins.values())):
        keys[id(origin)] = f"{origin.name}\0{i}"
    spans = {}
    for table in (doc.key_spans, doc.spans):  # values win over keys
        for p, pos in table.items():
            spans[format_path(p)] = (keys[id(doc.source_of(p))], pos)
    texts = {doc.source.name: doc.source.text}
    texts.update({keys[id(s)]: s.text for s in doc.origins.values()})
    return SpecLocations(FrozenMap(spans), FrozenMap(texts))


def _distinct(sources) -> list:
    seen, out = set(), []
    for s in sources:
        if id(s) not in seen:
            seen.add(id(s))
            out.append(s)
    return out


def check_document(doc: Document, *, path: Path | None, base_dir: Path, overrides=(), refusals_ok=False,
                   data=False, member: str | None = None) -> Report:
    """Check a loaded spec. With `refusals_ok` (`eval --allow-refused`), a method whose uses exceed
    the rules is a warning, not an error: the plan lists it as refused and runs the rest. With
    `data` True, a valid spec's data is loaded too and checked against it (columns, splits, groups); with
    "local", the columns of local data files are read from their headers (cheap) and checked, even where
    other problems are found (`validate`'s default); False checks the spec alone (`validate --no-data`).
    A family spec is checked member by member: `member` names the one to check and build (a worker's
    view); without it every member is checked and the report lists them (`family`)."""
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
    options = {"path": path, "base_dir": base_dir, "overrides": overrides, "refusals_ok": refusals_ok, "data": data}
    if isinstance(doc.data.get("family"), dict):
        return _check_family(doc, report, member, options)
    if member is not None:
        report.diagnostics = [doc.diagnostic((), f"member '{member}' was asked for, but this spec has no `family:`")]
        return report
    return _check_one(doc, report, options)


def _check_one(doc: Document, report: Report, options: dict, member=None) -> Report:
    path, base_dir, overrides, refusals_ok, data = (options[k] for k in ("path", "base_dir", "overrides",
                                                                         "refusals_ok", "data"))
    structural = check_schema(doc)

    def semantic_checks(columns=None):
        found = Checker(doc, base_dir, columns, local_files=data == "local").run(structure_ok=not structural)
        if refusals_ok:
            found = [dataclasses.replace(d, severity="warning") if d.code == REFUSED else d for d in found]
        return found

    report.diagnostics = sorted(doc.errors + structural + semantic_checks(), key=lambda d: d.sort_key)
    if report.ok:
        identity = doc.source.text.encode() + json.dumps(list(overrides)).encode()
        identity += b"" if member is None else b"\0member\0" + member.name.encode()
        spec = build_ir(doc.data, path=path, base_dir=base_dir, spec_hash=hashlib.sha256(identity).hexdigest(),
                        where=_locations(doc), member=member)
        report.diagnostics = sorted(report.diagnostics + _builtin_checks(spec) + matching_diagnostics(spec),
                                    key=lambda d: d.sort_key)
        if report.ok and data is True:
            from ..data.splits import SplitLoader

            report.loader = SplitLoader(spec)
            found = _data_checks(spec, report.loader, semantic_checks, report.diagnostics)
            report.diagnostics = sorted(report.diagnostics + found, key=lambda d: d.sort_key)
        report.spec = spec if report.ok else None
    return report


def _check_family(doc: Document, report: Report, member: str | None, options: dict) -> Report:
    """Each member checked as a spec of its own; a finding in every member is said once, the others
    say which member they were found in."""
    from .family import in_members, member_document, members

    structural = [d for d in check_schema(doc) if d.path == "family" or d.path.startswith("family.")]
    if structural:  # the block itself is malformed: there are no members to check
        report.diagnostics = sorted(doc.errors + structural, key=lambda d: d.sort_key)
        return report
    try:
        every = members(doc)
    except SpecError as exc:
        report.diagnostics = sorted(doc.errors + exc.diagnostics, key=lambda d: d.sort_key)
        return report
    if member is not None:
        chosen = [m for m in every if m.name == member]
        if not chosen:
            from .suggest import suggest

            names = [m.name for m in every]
            report.diagnostics = [doc.diagnostic(("family",), f"the family has no member '{member}'"
                                                 f"{suggest(member, names)} (members: {', '.join(names)})")]
            return report
        every = chosen
    checked = []
    for m in every:
        try:
            mdoc = member_document(doc, m)
        except SpecError as exc:
            report.diagnostics = sorted(doc.errors + exc.diagnostics, key=lambda d: d.sort_key)
            return report
        checked.append((m, _check_one(mdoc, Report(report.file), options, member=m)))
    if member is not None:
        return checked[0][1]
    report.family = checked
    seen: dict = {}
    for m, r in checked:
        for d in r.diagnostics:
            seen.setdefault((d.headline(), d.severity), (d, []))[1].append(m)
    report.diagnostics = sorted((d if len(ms) == len(checked) else in_members(d, ms) for d, ms in seen.values()),
                                key=lambda d: d.sort_key)
    return report


def _data_checks(spec, loader, semantic_checks, known) -> list:
    """What loading the data finds: the spec's checks rerun with every split's real columns,
    splits that cannot be built, and a selection split that lacks evaluation groups."""
    from ..data.checks import (build_splits, label_value_problems, metric_subset_problems, selection_group_warnings,
                               split_columns, text_value_problems)

    columns, problems = split_columns(spec, loader)
    seen = {d.headline() for d in known}
    found = [d for d in semantic_checks(columns) if d.headline() not in seen] + problems
    if not any(d.severity == "error" for d in found):
        found += build_splits(spec, loader)
    if not any(d.severity == "error" for d in found):
        found += (label_value_problems(spec, loader) + text_value_problems(spec, loader)
                  + metric_subset_problems(spec, loader))
    if not any(d.severity == "error" for d in found):
        try:
            found += selection_group_warnings(spec, loader)
        except SpecError as exc:
            found += exc.diagnostics
    return found


def check_file(path, overrides=(), *, refusals_ok=False, data=False, member: str | None = None) -> Report:
    """Check one spec file; never raises for bad input (problems are in the report)."""
    try:
        doc = parse(read_source(path))
    except SpecError as exc:
        return Report(str(path), exc.diagnostics)
    p = Path(path).resolve()
    return check_document(doc, path=p, base_dir=p.parent, overrides=overrides, refusals_ok=refusals_ok, data=data,
                          member=member)


def check_text(text: str, name="<spec>", base_dir=".", overrides=(), *, refusals_ok=False,
               member: str | None = None) -> Report:
    try:
        doc = parse(Source(name, text))
    except SpecError as exc:
        return Report(name, exc.diagnostics)
    return check_document(doc, path=None, base_dir=Path(base_dir).resolve(), overrides=overrides,
                          refusals_ok=refusals_ok, member=member)


def load_spec(path, overrides=(), *, refusals_ok=False) -> Spec:
    """The IR of a valid spec; raise SpecError (with every diagnostic) otherwise."""
    report = check_file(path, overrides, refusals_ok=refusals_ok)
    if not report.ok:
        raise SpecError(report.diagnostics)
    if report.family is not None:
        raise SpecError([dataclasses.replace(report.family[0][1].spec.where.diagnostic(
            "family", "this is a family spec: name one member (its spec is the family's with the member's axis values)"))])
    return report.spec
