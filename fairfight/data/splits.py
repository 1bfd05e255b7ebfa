"""Splits: named, filtered, balanced, limited, deterministically shuffled views of the data."""
from __future__ import annotations

import random
from collections import defaultdict

from ..spec.ir import Spec, SplitSpec
from .sources import Table, load_source, prepare


class SplitLoader:
    """Loads each data source once and builds splits from it on demand."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self._sources: dict = {}
        self._splits: dict = {}

    def split(self, name: str) -> Table:
        if name not in self._splits:
            self._splits[name] = build_split(self.spec, self.spec.splits[name], self._source(self.spec.splits[name]))
        return self._splits[name]

    def columns(self, name: str) -> list:
        """The columns of the data split `name` is drawn from (before its filter)."""
        return self._source(self.spec.splits[name]).names()

    def _source(self, sp: SplitSpec) -> Table:
        spec = self.spec
        key = sp.dataset or sp.source
        if key not in self._sources:
            if sp.dataset:
                ds = spec.datasets[sp.dataset]
                parts = prepare(load_source(ds.source, spec, f"datasets.{ds.name}.source", ds), ds, spec)
            else:
                parts = load_source(sp.source, spec, f"splits.{sp.name}.from")
            self._sources[key] = parts
        return self._part(sp, self._sources[key])

    def _part(self, sp: SplitSpec, parts: dict) -> Table:
        spec, at = self.spec, f"splits.{sp.name}.from"
        ds = spec.datasets[sp.dataset] if sp.dataset else None
        if sp.part is None:
            if len(parts) == 1:
                return next(iter(parts.values()))
            names = sorted(str(p) for p in parts)
            raise spec.error(at, f"the data has several parts ({', '.join(names)}): name one, e.g. "
                                 f"from: {sp.dataset}/{names[0]}")
        if ds is not None and ds.split_column:
            table = next(iter(parts.values())) if None in parts else _concat(parts)
            if ds.split_column not in table.columns:
                raise spec.error(f"datasets.{ds.name}.split_column",
                                 f"the data has no column '{ds.split_column}' (columns: {', '.join(table.columns)})")
            keep = [i for i, v in enumerate(table.columns[ds.split_column]) if str(v) == sp.part]
            if not keep:
                values = sorted({str(v) for v in table.columns[ds.split_column]})
                raise spec.error(at, f"no row has {ds.split_column} == '{sp.part}' (values: {', '.join(values)})")
            return table.take(keep)
        if sp.part not in parts:
            raise spec.error(at, f"the data has no part '{sp.part}' (parts: {', '.join(sorted(map(str, parts)))})")
        return parts[sp.part]


def _concat(parts: dict) -> Table:
    tables = list(parts.values())
    return Table({c: [v for t in tables for v in t.columns[c]] for c in tables[0].columns})


def build_split(spec: Spec, sp: SplitSpec, table: Table) -> Table:
    at = f"splits.{sp.name}"
    order = list(range(len(table)))
    random.Random(f"fairfight-split:{sp.seed}").shuffle(order)  # str seeds: the same on every run
    if sp.where is not None:
        missing = sorted({c.name for c in sp.where.columns()} - set(table.columns))
        if missing:
            raise spec.error(f"{at}.where", f"the data has no column '{missing[0]}' (columns: {', '.join(table.columns)})")
        cols = sorted({c.name for c in sp.where.columns()})
        order = [i for i in order if sp.where(table.row(i, cols))]
    if sp.balance:
        order = _balanced(spec, sp, table, order)
    if sp.limit is not None:
        order = order[: sp.limit]
    if not order:
        what = f"{at}.where" if sp.where is not None else f"{at}.from"
        raise spec.error(what, f"split '{sp.name}' is empty" + (" after filtering" if sp.where is not None else ""))
    out = table.take(order)
    _check_labels(spec, sp, out)
    if sp.transform:
        from .transforms import apply_transforms

        out = apply_transforms(out, [dict(step) for step in sp.transform], f"{at}.transform")
    return out


def _balanced(spec: Spec, sp: SplitSpec, table: Table, order: list) -> list:
    missing = [c for c in sp.balance if c not in table.columns]
    if missing:
        raise spec.error(f"splits.{sp.name}.balance", f"the data has no column '{missing[0]}'")
    cells = defaultdict(list)
    for i in order:
        cells[tuple(table.columns[c][i] for c in sp.balance)].append(i)
    quota = min(len(v) for v in cells.values()) if cells else 0
    if sp.limit is not None and cells:
        quota = min(quota, max(1, sp.limit // len(cells)))
    chosen = {i for members in cells.values() for i in members[:quota]}
    return [i for i in order if i in chosen]  # keep the shuffled order, not cell by cell


def _check_labels(spec: Spec, sp: SplitSpec, table: Table):
    if not sp.dataset:
        return
    ds = spec.datasets[sp.dataset]
    for column in ds.labels:
        bad = sum(1 for v in table.columns[column] if v is None)
        if bad:
            raise spec.error(f"datasets.{ds.name}.labels.{column}",
                             f"split '{sp.name}' keeps {bad} row(s) whose '{column}' has no label in this map; "
                             f"map those values or filter them out with splits.{sp.name}.where")


def resample_rows(table: Table, resample, split: str, seed: int, strata=()) -> list[int]:
    """The rows one seed trains on: the same for every contender at that seed (paired), another
    draw at another seed. `resample` is the spec's evaluate.resample (none, bootstrap, subsample).

    Rows are drawn within the cells of `strata` (the split's balance columns), so a balanced
    split stays balanced. The draw depends only on the resample setting, the split's name, its
    size and the seed: never on the contender.
    """
    n = len(table)
    if resample.kind == "none" or n == 0:
        return list(range(n))
    rng = random.Random(f"fairfight-resample:{resample}:{split}:{n}:{seed}")
    cells = defaultdict(list)
    for i in range(n):
        cells[tuple(table.columns[c][i] for c in strata if c in table.columns)].append(i)
    rows = []
    for members in cells.values():
        if resample.kind == "bootstrap":
            rows += [rng.choice(members) for _ in members]
        else:
            rows += rng.sample(members, max(1, round(len(members) * resample.fraction)))
    return sorted(rows)  # the split's own (shuffled) order, not cell by cell
