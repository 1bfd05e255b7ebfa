"""`fairfight eval` and `fairfight plan`: the core behind the click layer."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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
    cache: str | None = None
    progress: bool = True
    executor_options: dict = field(default_factory=dict)


def _load(opts):
    from ..spec.check import check_file
    from .validate import print_diagnostics

    report = check_file(opts.spec, opts.overrides, refusals_ok=True)
    if not report.ok:
        print_diagnostics([report], strict=False, stream=sys.stderr)
        return None
    return report.spec


def run_plan(opts: EvalOptions) -> int:
    from ..evaluator.plan import compile_plan

    spec = _load(opts)
    if spec is None:
        return EXIT_INVALID
    plan = compile_plan(spec, seeds=opts.seeds, only=opts.only)
    by_label = {}
    for run in plan.runs:
        by_label.setdefault(run.label, []).append(run)
    print(f"plan: {spec.task.name}: {len(plan.runs)} runs = {len(by_label)} contenders x seeds "
          f"{', '.join(map(str, plan.seeds))}")
    for label, runs in by_label.items():
        r, grant = runs[0], runs[0].grant
        data = "; ".join(f"{s}[{', '.join(sorted(c))}]" for s, c in sorted(grant.data.items())) or "-"
        model = ", ".join(sorted(grant.model)) or "-"
        print(f"\n  {label} ({r.role}{'' if r.declared else '; declares no uses: granted the full rules'})")
        print(f"    model: {model}")
        print(f"    data: {data}")
        if grant.knowledge:
            print(f"    knowledge: {', '.join(sorted(grant.knowledge))}")
        for line in param_lines(r):
            print(line)
        print(f"    run keys: {' '.join(x.key[:12] for x in runs)}")
    for refusal in plan.refusals:
        print(f"\n  refused {refusal.label} ({refusal.role}): {refusal.reason}")
    return EXIT_INVALID if plan.refusals else EXIT_OK


def param_lines(run) -> list[str]:
    """The parameters a run will get, one per line; values as JSON, so a prompt with newlines
    stays on its line. A built-in's parameter decided at run time says so."""
    import json

    lines = [f"      {k}: {json.dumps(v, ensure_ascii=False, default=str)}" for k, v in sorted(run.params.items())]
    if run.role in ("baseline", "skyline"):
        from ..baselines.parameters import PARAMETERS, AtRunTime

        lines += [f"      {p.name}: (at run time) {p.default}" for p in PARAMETERS.get(run.name, ())
                  if isinstance(p.default, AtRunTime) and p.set_by == "spec" and p.name not in run.params]
    return ["    params:", *lines] if lines else []


def run_eval(opts: EvalOptions) -> int:
    from ..errors import FairfightError
    from ..evaluator.executors import make_executor
    from ..evaluator.plan import compile_plan
    from ..evaluator.runner import Evaluation, default_out

    spec = _load(opts)
    if spec is None:
        return EXIT_INVALID
    plan = compile_plan(spec, seeds=opts.seeds, only=opts.only)
    out = Path(opts.out) if opts.out else default_out(spec)
    try:
        evaluation = Evaluation(spec, plan, out, overrides=opts.overrides, cache=Path(opts.cache) if opts.cache else None)
        name = opts.executor or spec.execution.executor
        options = {"slurm": dict(spec.execution.slurm), "ray": dict(spec.execution.ray)}.get(name, {})
        options.update(opts.executor_options)
        from ..evaluator.models import local_model_type

        executor = make_executor(name, opts.workers or spec.execution.workers, options,
                                 exchange=evaluation.bundle.root / ".exchange",
                                 model_type=local_model_type(spec.model.source, spec.base_dir))
        trials = evaluation.count_trials()
    except FairfightError as exc:
        _print_error(exc)
        return EXIT_INVALID
    total = len(plan.runs) + trials
    tuning = f" + {trials} tuning trials" if trials else ""
    print(f"fairfight eval: {len(plan.runs)} runs{tuning}, bundle: {out}", file=sys.stderr)
    for refusal in plan.refusals:
        print(f"refused at plan time: {refusal.reason}", file=sys.stderr)
    interrupted = False
    with _Progress(total, 0, enabled=opts.progress) as progress:
        def done(job, result):
            progress.done(evaluation.finish(job, result))

        evaluation.on_reused = progress.reuse
        try:
            evaluation.execute(executor, progress.started, done, seeds=opts.seeds, only=opts.only)
        except KeyboardInterrupt:
            interrupted = True
        except FairfightError as exc:
            _print_error(exc)
            return EXIT_INVALID
        print(f"{progress.reused(evaluation)} run(s) reused from an earlier eval or the cache", file=sys.stderr)
    results = evaluation.write(interrupted)
    _write_reports(out)
    _summary(results)
    if interrupted:
        print(f"interrupted: {results['counts']['pending']} run(s) not finished; run the same command with "
              f"--out {out} to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return exit_code(results)


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
        self.counts["succeeded"] += 1  # finished before: counted, not run again
        self._update()

    @staticmethod
    def reused(evaluation) -> int:
        return sum(1 for r in evaluation.records.values() if r.get("reused"))

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


def _write_reports(out):
    """report.md and report.html beside results.json; a report problem never changes the exit code."""
    try:
        from ..report import write_reports

        md, html = write_reports(out)
        print(f"reports: {md}, {html}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the results are written; the reports can be re-rendered
        print(f"warning: the reports were not written ({type(exc).__name__}: {exc}); the results are complete: "
              f"run `fairfight report {out}` to try again", file=sys.stderr)


def _summary(results):
    from ..report.terminal import print_summary

    print_summary(results)


def _summary_table(results):
    from ..report.terminal import summary_table

    summary_table(results)
