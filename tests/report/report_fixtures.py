"""Small real fights for the report tests, on the tiny BERT of tests/conftest.py.

REPORT_FIGHT is the fight behind fixtures/results.json (methods with and without declared
uses, a run-time refusal, a plan-time refusal, two baselines, a skyline, a control, tuning,
claims). SMALL_FIGHT is what the tests run live (a few runs, one seed).
"""
import json
import sys
from pathlib import Path


from runner_fixtures import eval_here, write_fight

FIXTURES = Path(__file__).resolve().parent / "fixtures"

SPEC = """
fairfight: 1
task: {{name: {name}, goal: Tell professors from nurses by their biography., tier: {tier}}}
model: {{source: "path:{model}"}}
datasets:
  bios: {{source: jsonl:bios.jsonl, split_column: split}}
splits:
  train: {{from: bios/train}}
  balanced: {{from: bios/train, balance: [profession, gender], role: skyline}}
  test: {{from: bios/test, role: evaluation}}
evaluate:
  split: test
  target: profession
  groups: [profession, gender]
  metrics: [accuracy, worst_group_accuracy, leakage(gender)]
  seeds: {seeds}
rules:
  model: [embed, activations]
  data: {{train: [text, profession]}}
  knowledge: {{spurious_concept: gender}}
  selection: train
  budget: {{examples: 5000, trials: {trials}}}
baselines: {baselines}
controls: {controls}
skylines: {skylines}
methods:
{methods}
claims: {claims}
"""

REPORT_FIGHT = {
    "name": "report-fixture", "tier": "fair-fight", "seeds": 2, "trials": 2,
    "baselines": "[majority, token_deletion]", "controls": "[random_model]", "skylines": "[{oracle: {split: balanced}}]",
    "methods": {
        "probe": "run: methods.py:probe, uses: {model: [activations], data: {train: [text, profession]}}, "
                 "search: {layer: [0, 1, 2]}",
        "plain_head": "run: methods.py:plain_head",
        "ungranted_operation": "run: cheaters.py:ungranted_operation, uses: {model: [embed], data: {train: [text]}}",
        "declared_too_much": "run: cheaters.py:declared_too_much, uses: {model: [weights]}",
    },
    "claims": '["probe beats all baselines on accuracy", "probe beats random_model(probe) on accuracy by 0.05", '
              '"plain_head matches probe on accuracy within 0.5"]',
}

SMALL_FIGHT = {
    "name": "report-small", "tier": "fair-fight", "seeds": 1, "trials": 1,
    "baselines": "[]", "controls": "[]", "skylines": "[]",
    "methods": {
        "probe": "run: methods.py:probe, uses: {model: [activations], data: {train: [text, profession]}}",
        "ungranted_column": "run: cheaters.py:ungranted_column, uses: {data: {train: [text, profession]}}",
        "declared_too_much": "run: cheaters.py:declared_too_much, uses: {model: [weights]}",
    },
    "claims": "[]",
}


def write_report_fight(folder: Path, model_dir: Path, fight: dict) -> Path:
    """The data, methods.py and cheaters.py of runner_fixtures, and a spec for `fight`."""
    write_fight(folder, model_dir, {}, seeds=1)  # data and contender files; its spec is replaced below
    methods = "\n".join(f"  {name}: {{{body}}}" for name, body in fight["methods"].items())
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(model=model_dir, methods=methods, **{k: v for k, v in fight.items() if k != "methods"}))
    return spec


def run_fight(folder: Path, model_dir: Path, fight: dict, workers: int = 2):
    spec = write_report_fight(folder, model_dir, fight)
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--workers", str(workers), "--no-progress", "--allow-refused")
    return out, r


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
