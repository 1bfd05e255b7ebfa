"""Checks the schema cannot express: references resolve, uses lie within rules, the
evaluation split is never granted, expressions parse, claims name known arms and metrics.

Runs on data that may have failed the schema, so every access is defensive: a check
looks only at parts of the expected type and leaves the rest to the schema's messages.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import Position
from .expressions import ExpressionError
from .loader import Document
from .schema import schema_default
from ._access import _d, _l, _s
from .contender_checks import ContenderChecks
from .knowledge_checks import KnowledgeChecks
from .data_checks import SOURCE, DataChecks
from .method_checks import MethodChecks
from .source_checks import SourceChecks
from .suggest import suggest
from .vocabulary import METRICS, MODEL_OPS, builtin_datasets, metric_columns, metric_subset, split_metric

TOLERATE_BROKEN_STRUCTURE = True  # the fuzz tests turn this off to find checks that are not defensive
_METRIC = re.compile(r"^[a-z_][a-z0-9_]*(\([A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.+-]+)?\))?$")


def string_offsets(doc: Document, path: tuple) -> list[int]:
    """For each character of the string at `path`, its offset in the file.

    Aligns the value with its raw source text, so quoted, escaped and folded strings
    still point at the right character.
    """
    value = doc.data
    for part in path:
        value = value[part]
    span = doc.spans[path]
    source = doc.source_of(path)
    text = source.text
    start, end = source.offset(span.line, span.col), source.offset(span.end_line, span.end_col)
    out, j = [], start
    for ch in value:
        k = j
        while k < end and not (text[k] == ch or (ch == " " and text[k] == "\n")):
            k += 1
        if k >= end:  # escapes the raw text does not spell out: stay where we are
            out.append(min(j, max(start, end - 1)))
            continue
        out.append(k)
        j = k + 1
    return out


def expression_position(doc: Document, path: tuple, index: int, end: int) -> Position:
    offsets = string_offsets(doc, path)
    span = doc.spans[path]
    if not offsets:
        return span
    after = offsets[-1] + 1
    first = offsets[index] if index < len(offsets) else after
    last = offsets[end - 1] + 1 if 0 < end <= len(offsets) else max(first + 1, after)
    source = doc.source_of(path)
    line, col = source.line_col(first)
    end_line, end_col = source.line_col(max(last, first + 1))
    return Position(line, col, end_line, end_col)


class Checker(DataChecks, ContenderChecks, MethodChecks, KnowledgeChecks, SourceChecks):
    def __init__(self, doc: Document, base_dir: Path, columns: dict | None = None, local_files: bool = False):
        self.doc, self.base_dir = doc, base_dir
        self.loaded_columns = columns or {}  # split -> columns, when the data was loaded (validate --data)
        self.local_files = local_files  # read the columns of local data files from their headers (validate)
        self.data = _d(doc.data)
        self.out = []
        self.target_reported = False  # a misspelt target is reported once, not per baseline

    # ------------------------------------------------------------ reporting
    def error(self, path, message, key=False, code=""):
        self.out.append(self.doc.diagnostic(path, message, key=key, code=code))

    def warn(self, path, message, key=False):
        self.out.append(self.doc.diagnostic(path, message, key=key, severity="warning"))

    def expr_error(self, path, exc: ExpressionError, what: str):
        pos = expression_position(self.doc, path, exc.index, exc.end)
        self.out.append(self.doc.diagnostic(path, f"{what}: {exc.message}", pos=pos))

    # ------------------------------------------------------------ lookups
    @property
    def tier(self):
        return _s(_d(self.data.get("task")).get("tier")) or "fair-fight"

    def datasets(self):
        return _d(self.data.get("datasets"))

    def splits(self):
        return _d(self.data.get("splits"))

    def rules(self):
        return _d(self.data.get("rules"))

    def rule_ops(self) -> set:
        ops = self.rules().get("model")
        if ops is None and self.tier == "no-holds-barred":
            return set(MODEL_OPS)
        return {o for o in _l(ops) if isinstance(o, str)}

    def rule_data(self) -> dict:
        return {k: {c for c in _l(v) if isinstance(c, str)} for k, v in _d(self.rules().get("data")).items()}

    def split_columns(self, split_name) -> set | None:
        """Columns a split is known to have, or None when only loading can tell."""
        if split_name in self.loaded_columns:
            return set(self.loaded_columns[split_name])
        split = _d(self.splits().get(split_name))
        origin = _s(split.get("from"))
        if not origin:
            return None
        m = SOURCE.match(origin)
        if m:
            source = origin
        else:
            source = _s(_d(self.datasets().get(origin.split("/", 1)[0])).get("source"))
        if source and source.startswith("builtin:"):
            meta = builtin_datasets().get(source[len("builtin:"):])
            return set(meta.columns) if meta else None
        if source and self.local_files:
            from ..data.headers import split_file_columns

            text = None if m else _s(_d(self.datasets().get(origin.split("/", 1)[0])).get("text"))
            columns = split_file_columns(source, self.base_dir, text)
            return set(columns) if columns is not None else None
        return None

    def check_columns(self, split_name, columns, path_of):
        known = self.split_columns(split_name)
        if known is None:
            return
        for i, col in enumerate(columns):
            if isinstance(col, str) and col not in known:
                self.error(path_of(i), f"split '{split_name}' has no column '{col}'{suggest(col, known)}"
                                       f" (it has: {', '.join(sorted(known))})")

    # ------------------------------------------------------------ checks
    def run(self, structure_ok: bool = True):
        for check in (self.check_model, self.check_device, self.check_datasets, self.check_splits, self.check_evaluate,
                      self.check_rules, self.check_methods, self.check_builtins, self.check_claims, self.lint):
            try:
                check()
            except Exception:
                # On data the schema already rejected, a check may meet shapes it cannot read;
                # the schema's messages say what is wrong. On valid structure this is a bug.
                if structure_ok or not TOLERATE_BROKEN_STRUCTURE:
                    raise
        return self.out

    def check_device(self):
        """Poor (device, dtype) pairs and GPU requests the device will not use: warnings, they still run."""
        execution = _d(self.data.get("execution"))
        device = _s(execution.get("device")) or "auto"
        kind = device.split(":", 1)[0]
        dtype = _s(_d(self.data.get("model")).get("dtype"))
        if dtype == "float16" and kind == "cpu":
            self.warn(("model", "dtype"), "float16 on the CPU (execution.device: cpu): many CPU kernels lack half "
                                          "precision (slow, or not implemented); use bfloat16 or float32 there")
        for engine, option in (("slurm", "gpus"), ("ray", "num_gpus")):
            asked = _d(execution.get(engine)).get(option)
            if kind in ("cpu", "mps") and isinstance(asked, (int, float)) and asked > 0:
                self.warn(("execution", engine, option), f"asks for GPUs, but execution.device is {device}: "
                                                         "the model will not use them")

    def check_evaluate(self):
        ev = _d(self.data.get("evaluate"))
        split = _s(ev.get("split"))
        if split is not None:
            if split not in self.splits():
                self.error(("evaluate", "split"), f"unknown split '{split}'{suggest(split, self.splits())}")
            elif _d(self.splits()[split]).get("role") != "evaluation":
                self.error(("evaluate", "split"), f"split '{split}' must be declared with 'role: evaluation' so that "
                                                  "no rule can ever grant it to a contender")
        metrics = [m for m in _l(ev.get("metrics")) if isinstance(m, str)]
        for i, metric in enumerate(metrics):
            self.check_metric(("evaluate", "metrics", i), metric, ev)
        primary = _s(ev.get("primary"))
        if primary is not None and metrics and primary not in metrics and _METRIC.match(primary):  # else: the schema
            self.error(("evaluate", "primary"), f"primary metric '{primary}' is not one of evaluate.metrics"
                                                f"{suggest(primary, metrics)}")
        self.check_resample(ev)
        self.check_scorer(ev)
        for path, column in [(("evaluate", "target"), ev.get("target"))] + [
                (("evaluate", "groups", i), g) for i, g in enumerate(_l(ev.get("groups")))]:
            if column == "text":  # every example its own label or group: any score would mean nothing
                self.error(path, "'text' is the input text (datasets.NAME.text), not a label or a group column")
        if split in self.splits():
            cols = [c for c in [ev.get("target")] + _l(ev.get("groups")) if isinstance(c, str)]
            paths = [("evaluate", "target")] + [("evaluate", "groups", i) for i in range(len(_l(ev.get("groups"))))]
            self.check_columns(split, cols, lambda i: paths[i])
            self.check_target_granted(split, _s(ev.get("target")))

    def check_target_granted(self, split, target):
        """A target no rule grants but close to a granted column is a typo: one error, at the target
        (not one per baseline that needs labels)."""
        if target is None or self.split_columns(split) is not None:
            return  # no target (generation), or check_columns knows the columns
        granted = {c for cols in self.rule_data().values() for c in cols}
        if target in granted:
            return
        groups = {g for g in _l(_d(self.data.get("evaluate")).get("groups")) if isinstance(g, str)}
        if target in groups:
            return  # written twice the same way: not the target's typo
        hint = suggest(target, sorted(granted | groups))
        if hint:
            self.target_reported = True
            self.error(("evaluate", "target"), f"no split of rules.data grants the target column '{target}'{hint}")

    def check_resample(self, ev):
        from .build import RESAMPLE

        m = RESAMPLE.match(_s(ev.get("resample")) or "")
        if not m or m.group(2) is None:
            return  # absent, none, bootstrap, or a form the schema reports
        fraction = float(m.group(2))
        if not 0 < fraction < 1:
            keeps = "; subsample(1) keeps every row: write 'none'" if fraction == 1 else ""
            self.error(("evaluate", "resample"), f"subsample takes a fraction between 0 and 1 (exclusive), got "
                                                 f"{m.group(2)}{keeps}, e.g. subsample(0.8)")

    def check_metric(self, path, metric, ev):
        if not _METRIC.match(metric):
            return  # the schema reports the form
        name, arg = split_metric(metric)
        subset = metric_subset(metric)
        if name not in METRICS:
            self.error(path, f"'{name}' is not a known metric{suggest(name, METRICS)} (metrics: {', '.join(METRICS)})")
        elif subset and name != "score":
            self.error(path, f"only score takes a subset of rows (score(COLUMN=VALUE)); '{name}' takes "
                             + ("an attribute, e.g. leakage(gender)" if METRICS[name] else "no argument"))
        elif METRICS[name] and arg is None:
            self.error(path, f"'{name}' needs the attribute it measures, e.g. {name}(gender)")
        elif METRICS[name] is False and arg is not None:
            self.error(path, f"'{name}' takes no argument")
        elif name == "score" and arg is not None and subset is None:
            self.error(path, f"score takes a subset of rows, COLUMN=VALUE (the mean over the rows whose COLUMN is "
                             f"VALUE), e.g. score({arg}=VALUE); got score({arg})")
        elif name == "score" and ev.get("kind") != "generation":
            self.error(path, "'score' is the metric of generation tasks (evaluate.kind: generation)")
        elif name != "score" and ev.get("kind") == "generation":
            self.error(path, f"a generation task is scored by evaluate.scorer: its metric is 'score', not '{name}' "
                             "(per-group means are reported beside it; score(COLUMN=VALUE) is the mean over some rows)")
        else:
            self.check_metric_column(path, metric, ev)

    def check_metric_column(self, path, metric, ev):
        """The column a metric argument names (leakage's attribute, score's subset) must be a group:
        the evaluator reads only the target and the groups of the evaluation split."""
        name, arg = split_metric(metric)
        subset = metric_subset(metric)
        column = subset[0] if subset else arg
        groups = [g for g in _l(ev.get("groups")) if isinstance(g, str)]
        if not column or not isinstance(ev.get("groups", []), list) or column in groups:
            return
        known = groups + [t for t in [_s(ev.get("target"))] if t and t not in groups]
        hint = suggest(column, known) or (f" (groups: {', '.join(groups)})" if groups else "; list it there")
        test_columns = self.split_columns(_s(ev.get("split")))
        close = hint.startswith("; did you mean")
        if close and test_columns is not None and column in test_columns:
            # the attribute is a real column: the near-miss is the misspelt group, not the argument
            hint = f"; is the group misspelt? (groups: {', '.join(groups)}; split '{ev.get('split')}' has '{column}')"
        elif close and test_columns is None:  # either may be the typo: the data is not loaded yet
            hint += " (or is that group misspelt?)"
        start = metric.index("(") + 1
        pos = expression_position(self.doc, path, start, start + len(column))
        what = (f"{name}() measures an attribute listed in evaluate.groups" if not subset
                else "score(COLUMN=VALUE) takes the rows by a column listed in evaluate.groups")
        self.out.append(self.doc.diagnostic(path, f"{what}, and '{column}' is not one{hint}", pos=pos))

    def check_rules(self):
        rules = self.rules()
        for split, _ in _d(rules.get("data")).items():
            self.check_grantable(("rules", "data", split), split, "rules.data")
            self.check_columns(split, _l(_d(rules.get("data")).get(split)), lambda i, s=split: ("rules", "data", s, i))
        selection = _s(rules.get("selection"))
        if selection is not None and self.check_grantable(("rules", "selection"), selection, "rules.selection"):
            if selection not in _d(rules.get("data")):
                self.error(("rules", "selection"), f"the selection split '{selection}' is not granted in rules.data, "
                                                   "so no contender could tune on it")
            else:
                self.check_selection_target(selection)
        self.check_selection_metric(_s(rules.get("selection_metric")))
        for name, item in _d(rules.get("knowledge")).items():
            artifact = _s(_d(item).get("artifact"))
            if artifact and not (self.base_dir / artifact).exists():
                self.error(("rules", "knowledge", name, "artifact"), f"artifact '{artifact}' does not exist (a file, "
                                                                     "or a folder holding an SAE)")
            elif artifact and not ((self.base_dir / artifact).is_file() or (self.base_dir / artifact).is_dir()):
                # a FIFO or a device: hashing it (at eval) would block or never end
                self.error(("rules", "knowledge", name, "artifact"), f"artifact '{artifact}' is neither a file nor a "
                                                                     "folder (a pipe or a device?)")
            elif artifact:
                self.check_artifact_hash(("rules", "knowledge", name, "sha256"), self.base_dir / artifact,
                                         _s(_d(item).get("sha256")))
        self.check_selections()

    def check_selection_metric(self, metric):
        """Trials are scored with the evaluation's metrics: the one tuning picks by must be among them
        (the default metrics when evaluate.metrics is not written), and be one number per trial."""
        if metric is None:
            self.check_default_tuning_metric()
            return
        if not _METRIC.match(metric):
            return  # the schema reports the form (one problem, not two at one place)
        path = ("rules", "selection_metric")
        written = _d(self.data.get("evaluate")).get("metrics")
        metrics = ([m for m in _l(written) if isinstance(m, str)] if written is not None
                   else list(schema_default("evaluate", "metrics")))
        if metrics and metric not in metrics:
            shown = "" if written is not None else f" (not written, so the default: {', '.join(metrics)})"
            self.error(path, f"selection metric '{metric}' is not one of evaluate.metrics{shown}"
                             f"{suggest(metric, metrics)}")
        elif split_metric(metric)[0] == "group_accuracy":
            self.error(path, "group_accuracy has one value per group; tuning needs one number per trial "
                             "(use worst_group_accuracy)")
        else:
            self.check_selection_metric_columns(path, metric)
        rules = self.rules()
        trials = _d(rules.get("budget")).get("trials", schema_default("rules", "budget", "trials"))
        if rules.get("selection") is None:
            self.warn(path, "rules.selection is not set, so no contender is tuned and the selection metric is unused")
        elif isinstance(trials, int) and trials <= 1:
            self.warn(path, f"rules.budget.trials is {trials}, so no contender is tuned and the selection metric "
                            "is unused")

    def check_default_tuning_metric(self):
        """Without rules.selection_metric the trials are scored by the primary metric: group_accuracy
        there gives each trial one value per group, which no trial can be ranked by."""
        ev, rules = _d(self.data.get("evaluate")), self.rules()
        metrics = [m for m in _l(ev.get("metrics")) if isinstance(m, str)]
        primary = _s(ev.get("primary")) or (metrics[0] if metrics else None)
        trials = _d(rules.get("budget")).get("trials", schema_default("rules", "budget", "trials"))
        if (primary == "group_accuracy" and rules.get("selection") is not None and isinstance(trials, int)
                and trials > 1):
            where = ("evaluate", "primary") if ev.get("primary") is not None else ("evaluate", "metrics", 0)
            self.error(where, "tuning scores trials by the primary metric, and group_accuracy has one value per "
                              "group: set rules.selection_metric (worst_group_accuracy, say) or another primary")

    def check_selection_metric_columns(self, path, metric):
        """The trials are scored on the selection split: a metric measured by a column it lacks has no
        value for any trial, so every contender would keep its defaults."""
        selection = _s(self.rules().get("selection"))
        columns = self.split_columns(selection) if selection in self.splits() else None
        needs = metric_columns(metric, [g for g in _l(_d(self.data.get("evaluate")).get("groups")) if isinstance(g, str)])
        missing = [c for c in needs if columns is not None and c not in columns]
        if missing:
            self.error(path, f"the selection split '{selection}' has no column '{missing[0]}', so no trial has a "
                             f"{metric} and no contender would be tuned; tune by a metric it can score (accuracy)")

    def check_selection_target(self, selection):
        """Tuning scores trials against the target on the selection split's held-out part: a split
        without the target column cannot score any (each trial would fail, keeping the defaults)."""
        ev = _d(self.data.get("evaluate"))
        target, columns = _s(ev.get("target")), self.split_columns(selection)
        test_columns = self.split_columns(_s(ev.get("split")))
        trials = _d(self.rules().get("budget")).get("trials", 1)
        if (isinstance(trials, int) and trials > 1 and ev.get("kind", "classification") == "classification"
                and target and columns is not None and target not in columns
                and not self.target_reported and (test_columns is None or target in test_columns)):
            self.error(("rules", "selection"), f"tuning scores trials on a held-out part of the selection split "
                                               f"'{selection}', but it has no column '{target}' (evaluate.target)")

    def check_artifact_hash(self, path, file, expected):
        """The hash the spec promises is the artifact's (eval would fail every run that reads it); a
        folder's hash names its files' paths and contents (fairfight.knowledge.artifact_sha256)."""
        from ..knowledge import artifact_sha256

        if not expected or not re.fullmatch(r"[0-9a-f]{64}", expected):
            return  # absent, or the schema reports its form
        digest = artifact_sha256(file)
        if digest != expected:
            self.error(path, f"artifact '{file.name}' has sha256 {digest}, not the one written here "
                             "(was the file changed? update the hash if the change is intended)")

    def check_grantable(self, path, split, where) -> bool:
        if split not in self.splits():
            self.error(path, f"unknown split '{split}'{suggest(split, self.splits())}", key=where == "rules.data")
            return False
        why = self.ungrantable(split)
        if why:
            self.error(path, f"'{split}' is {why}; {where} can never grant it", key=where == "rules.data")
        return not why

    def ungrantable(self, split) -> str:
        """Why no rule may grant `split` ('' if it may)."""
        role = _d(self.splits().get(split)).get("role", "contender")
        if role == "evaluation" or split == _d(self.data.get("evaluate")).get("split"):
            return "the evaluation split, which never reaches a contender"
        if role == "skyline":
            return "a skyline split (role: skyline), for skylines only"
        return ""
