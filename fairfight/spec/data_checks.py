"""Semantic checks of the data a spec names: datasets' sources (builtin names and options, files
or glob patterns that exist), splits' origins, filters' and balances' columns. A mixin of
`semantics.Checker`."""
from __future__ import annotations

import re

from ..data.files import matched_files, missing_message
from ._access import _d, _l, _s
from .expressions import ExpressionError, parse_where
from .suggest import suggest
from .vocabulary import FILE_SOURCES, builtin_datasets

SOURCE = re.compile(r"^(hf|jsonl|csv|parquet|builtin|path|package):(.+)$")


class DataChecks:
    def check_datasets(self):
        builtins = builtin_datasets()
        for name, ds in self.datasets().items():
            source = _s(_d(ds).get("source"))
            m = SOURCE.match(source or "")
            if not m:
                continue
            kind, rest = m.groups()
            path = ("datasets", name, "source")
            if kind == "builtin" and rest not in builtins:
                self.error(path, f"'{rest}' is not a builtin dataset{suggest(rest, builtins)} (builtins: {', '.join(builtins)})")
            elif kind in FILE_SOURCES:
                self.check_data_files(path, kind, rest)
            if kind != "builtin" and "options" in _d(ds):
                self.error(("datasets", name, "options"), "options are for builtin sources only", key=True)
            elif kind == "builtin" and rest in builtins and isinstance(_d(ds).get("options", {}), dict):
                self.check_builtin_options(("datasets", name, "options"), rest, _d(ds).get("options", {}))

    def check_data_files(self, path, kind, target):
        if not matched_files(target, self.base_dir):
            self.error(path, missing_message(target, self.base_dir, kind))

    def check_builtin_options(self, path, builtin, options):
        from ..data.builtin import resolve_options
        from ..errors import FairfightError

        try:
            resolve_options(builtin, options)
        except FairfightError as exc:
            bad = [k for k in options if f"'{k}'" in str(exc)]
            self.error(path + tuple(bad[:1]), str(exc), key=bool(bad) and "no option" in str(exc))

    def check_splits(self):
        builtins = builtin_datasets()
        for name, split in self.splits().items():
            split = _d(split)
            origin = _s(split.get("from"))
            base = ("splits", name)
            if name == "knowledge":  # ledgers record ctx.knowledge[x] as a read of "knowledge.x"
                self.error(base, "'knowledge' is reserved (reads of granted knowledge are recorded under that "
                                 "name); call this split something else", key=True)
            if origin:
                self.check_origin(base + ("from",), origin, builtins)
            where = _s(split.get("where"))
            if where is not None:
                try:
                    expr = parse_where(where)
                except ExpressionError as exc:
                    self.expr_error(base + ("where",), exc, "invalid filter")
                else:
                    self.check_where_columns(name, base + ("where",), expr)
            balance = _l(split.get("balance"))
            self.check_columns(name, balance, lambda i: base + ("balance", i))
            for i, step in enumerate(_l(split.get("transform"))):
                self.check_transform(base + ("transform", i), step)

    def check_transform(self, path, step):
        """A `delete_words` concept must have a built-in word list (the schema checked the shape)."""
        from ..errors import FairfightError
        from ..knowledge import concept_words

        arg = _d(step).get("delete_words")
        concept = arg if isinstance(arg, str) else _d(arg).get("concept")
        if isinstance(concept, str):
            try:
                concept_words(concept)
            except FairfightError as exc:
                at = path + ("delete_words",) + (() if isinstance(arg, str) else ("concept",))
                self.error(at, str(exc).replace("grant the words themselves as knowledge (a list)",
                                                "list the words themselves"))

    def check_origin(self, path, origin, builtins):
        m = SOURCE.match(origin)
        if m:
            kind, rest = m.groups()
            if kind == "builtin" and rest not in builtins:
                self.error(path, f"'{rest}' is not a builtin dataset{suggest(rest, builtins)}")
            elif kind in ("path", "package"):
                self.error(path, f"'{kind}:' names a model source; a split comes from a dataset or a data source")
            elif kind in FILE_SOURCES:
                self.check_data_files(path, kind, rest)
            return
        dataset, _, part = origin.partition("/")
        if dataset not in self.datasets():
            self.error(path, f"unknown dataset '{dataset}'{suggest(dataset, self.datasets())}"
                             + ("" if self.datasets() else "; declare it under datasets:"))
            return
        ds = _d(self.datasets()[dataset])
        source = _s(ds.get("source")) or ""
        if not part:
            return
        if source.startswith("builtin:"):
            meta = builtins.get(source[len("builtin:"):])
            if meta and part not in meta.splits:
                self.error(path, f"builtin dataset '{dataset}' has no split '{part}'{suggest(part, meta.splits)}"
                                 f" (it has: {', '.join(meta.splits)})")
        elif source.split(":", 1)[0] in FILE_SOURCES and not ds.get("split_column"):
            self.error(path, f"dataset '{dataset}' is a single file with no named splits: write 'from: {dataset}', "
                             f"or set datasets.{dataset}.split_column")

    def check_where_columns(self, split_name, path, expr):
        known = self.split_columns(split_name)
        if known is None:
            return
        for col in expr.columns():
            if col.name not in known:
                hint = suggest(col.name, known) or f" (columns: {', '.join(sorted(known))})"
                exc = ExpressionError(f"unknown column '{col.name}'{hint}", col.index,
                                      col.index + len(col.name))
                self.expr_error(path, exc, "invalid filter")
