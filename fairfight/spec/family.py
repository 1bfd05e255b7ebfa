"""Families: one spec, many members. A member is the spec with one value of each axis set at the
axis's path, checked like any spec; its errors point at the axis value that produced them.

Members are expanded from the loaded document (positions and all), not from text: a worker
rebuilds the same member from the spec's text, the overrides and the member's name.
"""
from __future__ import annotations

import copy
import itertools
import re

from ..errors import SpecError
from .ir import Axis, Family, FamilySearch, FrozenMap, Member, freeze
from .loader import Document
from .overrides import walk

MAX_MEMBERS = 100  # a family is a handful of controlled variations, not a sweep over everything
OFF_LIMITS = ("fairfight", "family", "claims")  # what an axis may not set: the version, itself, the claims
SEED_AXIS = "data_seed"  # the axis `fairfight search` adds, over family.search.path
_LABEL = re.compile(r"^[A-Za-z0-9_.+-]{1,32}$")


def family_of(data: dict) -> Family | None:
    """The IR of a (schema-valid) `family:` block; None without one."""
    raw = data.get("family")
    if not isinstance(raw, dict):
        return None
    axes = tuple(Axis(name, ax["path"], freeze(ax["values"]), tuple(_labels(ax)))
                 for name, ax in raw["axes"].items())
    search = raw.get("search")
    if search is not None:
        search = FamilySearch(search["path"], tuple(search["discovery"]), tuple(search["confirmation"]),
                              search.get("pick", 1))
    return Family(axes, raw.get("combine", "grid"), search)


def _labels(axis: dict) -> list[str]:
    if "labels" in axis:
        return list(axis["labels"])
    return [_label(v, i) for i, v in enumerate(axis["values"])]


def _label(value, i: int) -> str:
    """A value's name in member names: the value itself when short and plain, else its position."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float, str)) and _LABEL.match(str(value)):
        return str(value)
    return f"v{i}"


def members(doc: Document) -> list[Member]:
    """Every member of the document's family (raise SpecError listing what is wrong with the block)."""
    raw = doc.data["family"]
    axes = raw["axes"]
    problems = []
    for name, axis in axes.items():
        at = ("family", "axes", name)
        parts = axis["path"].split(".")
        if parts[0] in OFF_LIMITS:
            problems.append(doc.diagnostic(at + ("path",), f"axis '{name}' sets '{parts[0]}', which no axis may set "
                                                           f"(off limits: {', '.join(OFF_LIMITS)})"))
        if "labels" in axis and len(axis["labels"]) != len(axis["values"]):
            problems.append(doc.diagnostic(at + ("labels",), f"axis '{name}' has {len(axis['values'])} values and "
                                                             f"{len(axis['labels'])} labels: give one label per value"))
            continue
        labels = _labels(axis)
        for i, label in enumerate(labels):
            if labels.index(label) != i:
                problems.append(doc.diagnostic(at + ("values", i), f"axis '{name}': value {i + 1} has the same name "
                                                                   f"'{label}' as value {labels.index(label) + 1}; "
                                                                   "give the axis distinct values or `labels:`"))
    combine = raw.get("combine", "grid")
    sizes = {name: len(axis["values"]) for name, axis in axes.items()}
    if combine == "zip" and len(set(sizes.values())) > 1:
        problems.append(doc.diagnostic(("family", "combine"), "combine: zip takes the i-th value of every axis "
                                       f"together, so the axes need as many values each ({_sizes(sizes)})"))
    paths = [axis["path"] for axis in axes.values()]
    for name, axis in axes.items():
        clash = [p for p in paths if p != axis["path"] and (p + ".").startswith(axis["path"] + ".")]
        if paths.count(axis["path"]) > 1 or clash:
            problems.append(doc.diagnostic(("family", "axes", name, "path"), f"axis '{name}' sets '{axis['path']}', "
                                           "which another axis sets too (or sets a part of): one axis per path"))
    search = raw.get("search")
    if isinstance(search, dict):
        reused = sorted(set(search["discovery"]) & set(search["confirmation"]))
        if reused:
            problems.append(doc.diagnostic(("family", "search", "confirmation"), "confirmation seeds must be fresh: "
                                           f"{', '.join(map(str, reused))} also in discovery (the search would "
                                           "confirm on what it explored)"))
        if search["path"] in [a["path"] for n, a in axes.items() if n != SEED_AXIS]:
            problems.append(doc.diagnostic(("family", "search", "path"), f"'{search['path']}' is an axis's path; "
                                           "the search's data seed needs a path of its own"))
    if problems:
        raise SpecError(problems)
    pick = zip(*(range(n) for n in sizes.values())) if combine == "zip" else itertools.product(
        *(range(n) for n in sizes.values()))
    out = []
    for idx in pick:
        labels = {name: _labels(axes[name])[i] for name, i in zip(axes, idx)}
        values = {name: axes[name]["values"][i] for name, i in zip(axes, idx)}
        out.append(Member(",".join(f"{k}={v}" for k, v in labels.items()), FrozenMap(labels), freeze(values)))
        if len(out) > MAX_MEMBERS:
            raise SpecError([doc.diagnostic(("family", "axes"), f"the family has over {MAX_MEMBERS} members "
                                            f"({_sizes(sizes)}, combined by {combine}); split it")])
    return out


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{name}: {n} value{'s' if n != 1 else ''}" for name, n in sizes.items())


def member_document(doc: Document, member: Member) -> Document:
    """A copy of `doc` with each axis's value set at its path; every position of a set value is the
    position of that value in the `family:` block, so a member's errors point at what made them."""
    out = Document(doc.source, copy.deepcopy(doc.data), dict(doc.spans), dict(doc.key_spans), dict(doc.styles),
                   list(doc.errors), dict(doc.origins), dict(doc.override_text))
    axes = doc.data["family"]["axes"]
    for name, label in member.labels.items():
        axis = axes[name]
        index = _labels(axis).index(label)
        at = ("family", "axes", name)

        def fail(i, message, length, name=name, at=at):
            raise SpecError([doc.diagnostic(at + ("path",), f"axis '{name}': {message}")])

        node, path, created = walk(out, axis["path"].split("."), fail)
        value = copy.deepcopy(axis["values"][index])
        if isinstance(node, list) and path[-1] == len(node):
            node.append(value)
        else:
            node[path[-1]] = value
        _move_positions(out, tuple(path), at + ("values", index))
        where = doc.pos(at + ("path",))
        out.key_spans[tuple(path)] = where
        if created:
            out.spans[created] = out.key_spans[created] = where
    return out


def _move_positions(doc: Document, target: tuple, source: tuple) -> None:
    """Positions under `target` become those of the value under `source` (same document)."""
    for table in ("spans", "key_spans", "styles", "override_text", "origins"):
        mine = getattr(doc, table)
        moved = {target + p[len(source):]: v for p, v in mine.items() if p[: len(source)] == source}
        for old in [p for p in mine if p[: len(target)] == target]:
            del mine[old]
        mine.update(moved)


def in_members(diagnostic, members: list):
    """A diagnostic found in some members only, saying which."""
    import dataclasses

    names = ", ".join(f"'{m.name}'" for m in members)
    noun = "member" if len(members) == 1 else "members"
    return dataclasses.replace(diagnostic, message=f"in family {noun} {names}: {diagnostic.message}")
