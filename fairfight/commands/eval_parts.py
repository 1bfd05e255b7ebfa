"""What `eval`, `plan`, the family eval and `search` share: options, exit codes, the checks before
any compute, progress, the cache's settling (eval.py and family.py import from here, not each other)."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..spec.method_checks import REFUSED

EXIT_OK, EXIT_NOT_SUPPORTED, EXIT_INVALID, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class EvalOptions:
    spec: str
    overrides: list = field(default_factory=list)
    out: str | None = None
    executor: str | None = None
    workers: int | None = None
    seeds: int | None = None
    only: list = field(default_factory=list)
    cache: str | None = None  # the user cache's folder (default: fairfight.cache.default_root())
    progress: bool = True
    executor_options: dict = field(default_factory=dict)
    allow_refused: bool = False  # run the rest when a contender would be refused (else exit 2 first)
    no_cache: bool = False  # share nothing: forward passes in a temporary folder, runs not stored
    members: list = field(default_factory=list)  # a family: the members to run (default: all)


def _check(opts, *, refusals_ok, data=False):
    """The spec's check report, its problems printed (stderr); None when it is invalid."""
    from ..spec.check import check_file
    from .validate import print_diagnostics

    report = check_file(opts.spec, opts.overrides, refusals_ok=refusals_ok, data=data)
    if not report.ok or report.warnings:
        print_diagnostics([report], strict=False, stream=sys.stderr)
    if not report.ok:
        if not refusals_ok and any(d.code == REFUSED for d in report.errors):
            print("eval refuses to start: a contender would be refused (see above); fix the spec, or run the rest "
                  "with --allow-refused", file=sys.stderr)
        return None
    return report


def _out_problem(out: Path, spec) -> str | None:
    """Why OUT cannot hold this spec's bundle, or None. The bundle is out of every contender's
    reach, so a bundle around the spec's folder walls the methods out of their own code (every
    run refused); and resuming into another task's bundle would leave its runs among this one's."""
    import json

    here, bundle = spec.base_dir.resolve(), out.resolve()
    if here == bundle or bundle in here.parents:
        return (f"{out} holds the spec's own folder ({spec.base_dir}); a bundle is out of every contender's "
                f"reach, so its methods could not be imported: write it elsewhere, e.g. --out {out / 'runs' / spec.task.name}")
    try:
        previous = json.loads((out / "results.json").read_text(encoding="utf-8"))["task"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if previous != spec.task.name:
        return (f"{out} holds the bundle of another task ('{previous}'; this spec's is '{spec.task.name}'); "
                "the same --out resumes the same fight: pick another folder")
    return None


def executor_for(opts, evaluation, exchange: Path):
    """The executor of an evaluation, by the spec's execution block and the command line's options
    (one place for eval and the family eval); it warns when its walls are weaker than the OS's."""
    from ..evaluator.model_side.models import local_model_type
    from ..evaluator.orchestration.executors import make_executor

    spec = evaluation.spec
    name = opts.executor or spec.execution.executor
    options = {"slurm": dict(spec.execution.slurm), "ray": dict(spec.execution.ray)}.get(name, {})
    options.update(opts.executor_options)
    executor = make_executor(name, opts.workers or spec.execution.workers, options, exchange=exchange,
                             model_type=local_model_type(spec.model.source, spec.base_dir), device=evaluation.device)
    warn_isolation(executor)
    return executor


def warn_isolation(executor) -> None:
    if executor.isolation[0] == "tripwire":
        print(f"warning: isolation: tripwire ({executor.isolation[1]}): contenders are watched by an audit hook, "
              "not walled in by the operating system; native code can get past it", file=sys.stderr)
    elif executor.isolation[0] == "none":
        print("warning: isolation: none (executor 'inline' runs contenders in this process: no fresh process, "
              "no audit hook, no timeouts); for debugging, not for a fight", file=sys.stderr)


def _cache_problem(cache: Path, out: Path) -> str | None:
    """Why this cache and this bundle cannot go together: a cache inside the bundle would be published
    with it; a bundle inside the cache would be evicted with its entries."""
    cache, bundle = cache.resolve(), out.resolve()
    if cache == bundle or bundle in cache.parents:
        return f"the cache {cache} is inside the bundle folder {out}: a bundle holds only the bundle; put it elsewhere"
    if cache in bundle.parents:
        return (f"the bundle folder {out} is inside the cache {cache}, whose entries are evicted when it grows: "
                "write the bundle elsewhere")
    return None


def _settle_cache(user_cache) -> None:
    """Keep the user cache within its cap: least recently used entries go first."""
    if user_cache is None:
        return
    from ..cache import CacheError, human

    try:
        removed = user_cache.evict()
    except (CacheError, OSError) as exc:
        print(f"warning: the cache was not trimmed to its size cap ({exc})", file=sys.stderr)
        return
    if removed:
        print(f"cache: evicted {len(removed)} least recently used entr{'y' if len(removed) == 1 else 'ies'} "
              f"({human(sum(e.size for e in removed))}) to stay within its cap", file=sys.stderr)


def _only_problem(spec, only) -> str:
    """Why `--only` names something this spec does not run ('' if every name is known)."""
    from ..spec.suggest import suggest

    labels = [c.name for c in spec.contenders()]
    labels += [f"{control}({m})" for m in spec.methods for control in spec.controls]
    for name in only:
        if name not in labels:
            return f"'{name}' is not a contender of this spec{suggest(name, labels)} (contenders: {', '.join(labels)})"
    return ""


def exit_code(results) -> int:
    """0 every claim supported; 1 some claim not supported or inconclusive; 2 a refusal (or an
    invalid spec); 3 a run failed."""
    counts = results["counts"]
    trials = counts.get("trials", {})
    if counts["refused_at_plan"] or counts["refused"] or trials.get("refused"):
        return EXIT_INVALID
    if counts["failed"] or trials.get("failed"):
        return EXIT_FAILED
    verdicts = [v["verdict"] for v in results.get("verdicts", [])]
    if "invalid" in verdicts:
        return EXIT_INVALID
    return EXIT_NOT_SUPPORTED if any(v in ("not-supported", "inconclusive") for v in verdicts) else EXIT_OK


def _print_error(exc):
    from ..errors import SpecError

    print(exc.render() if isinstance(exc, SpecError) else f"error: {exc}", file=sys.stderr)


class _Progress:
    """Runs done / running / refused / failed, with an ETA (rich, on stderr)."""

    def __init__(self, total, reused, enabled=True):
        self.total, self.enabled = total, enabled and sys.stderr.isatty()
        self.counts = {"succeeded": reused, "refused": 0, "failed": 0}
        self.running = 0
        self.started_at = time.monotonic()

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]runs"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("eta"),
                                TimeRemainingColumn(), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task("runs", total=self.total, completed=sum(self.counts.values()),
                                          status=self._status())
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)

    def _status(self):
        c = self.counts
        return f"running {self.running}, refused {c['refused']}, failed {c['failed']}"

    def reuse(self, record):
        """A run finished before (counted, not run again), or a seed-free run given its twin's result."""
        self.counts[record["status"]] = self.counts.get(record["status"], 0) + 1
        if record.get("copied_from") and not self.enabled:
            print(f"  {record['label']} seed {record['seed']}: {record['status']} (its seed-"
                  f"{record['copied_from']['seed']} run's result: the same at every seed)", file=sys.stderr)
        self._update()

    @staticmethod
    def reused(evaluation) -> int:
        return sum(1 for r in evaluation.records.values() if r.get("reused"))

    @staticmethod
    def copied(evaluation) -> int:
        return sum(1 for r in evaluation.records.values() if r.get("copied_from") and not r.get("reused"))

    def started(self, job):
        self.running += 1
        self._update()

    def done(self, record):
        self.running -= 1
        self.counts[record["status"]] = self.counts.get(record["status"], 0) + 1
        if not self.enabled:
            what = f"trial {record['trial']}" if record.get("trial") is not None else f"seed {record['seed']}"
            print(f"  {record['label']} {what}: {record['status']}", file=sys.stderr)
        self._update()

    def _update(self):
        if self.enabled:
            self.bar.update(self.task, completed=sum(self.counts.values()), status=self._status())
