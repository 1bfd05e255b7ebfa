"""The second offline example (examples/reviews), not about biographies, runs end to end: every
built-in baseline, skyline and control runs on a task it was not written for, with prompts
derived from this spec, and each is granted and reads exactly what `fairfight baselines` says."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from runner_fixtures import eval_here

SPEC = ROOT / "examples/reviews/spec.yaml"
SMALL = ["datasets.reviews.options.size=120", "datasets.reviews.options.test_size=40", "splits.ambiguous.limit=40",
         "splits.balanced_train.limit=24", "rules.budget.trials=1"]


def _fairfight(*args):
    return subprocess.run([sys.executable, "-m", "fairfight.cli", *args], capture_output=True, text=True, timeout=600)


def test_the_reviews_plan_uses_review_prompts_derived_from_the_spec():
    r = _fairfight("plan", str(SPEC), "--seeds", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'description: "sentiment: {label}"' in r.stdout
    assert "words: (at run time) the target's label names" in r.stdout
    for bios in ("biograph", "Occupation", "profession"):
        assert bios not in r.stdout
    causal = _fairfight("plan", str(SPEC), "--seeds", "1", "--set", "model.kind=causal",
                        "--set", "rules.model=[embed, activations, intervene, logprobs]")
    assert causal.returncode == 0, causal.stdout + causal.stderr
    assert ('prompt: "Tell positive from negative movie reviews, equally well for comedies and horror films.'
            '\\n\\n{text}\\nSentiment:"') in causal.stdout
    assert 'answer: "Sentiment:"' in causal.stdout


def test_the_reviews_example_runs_end_to_end(tmp_path):
    out = tmp_path / "bundle"
    sets = [arg for s in SMALL for arg in ("--set", s)]
    r = eval_here(str(SPEC), "--out", str(out), "--seeds", "1", "--no-progress", *sets)
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]  # verdicts given (supported or not)
    results = json.loads((out / "results.json").read_text())
    runs = {run["label"]: run for run in results["runs"]}
    expected = {"erase_genre", "finetune_head", "token_deletion", "concept_bottleneck", "zero_shot", "few_shot",
                "majority", "oracle", "random_model(erase_genre)", "shuffled_labels(erase_genre)"}
    assert set(runs) == expected
    for label, run in runs.items():
        assert run["status"] == "succeeded", (label, run.get("error"))
        assert run["ledger"]["refused"] == []
        reads = {f"{s}.{c}" for s, cols in run["grant"]["data"].items() for c in cols}
        reads |= {f"knowledge.{k}" for k in run["grant"]["knowledge"]}
        assert set(run["ledger"]["reads"]) == reads, label
        assert not any(word in json.dumps(run["params"]) for word in ("biograph", "Occupation", "profession"))
    assert runs["zero_shot"]["params"] == {"description": "sentiment: {label}"}
    assert runs["token_deletion"]["grant"]["knowledge"] == ["genre_words"]
    assert runs["majority"]["grant"]["data"] == {"ambiguous": ["sentiment"]}
    assert [v["claim"] for v in results["verdicts"]][:1] == ["erase_genre beats all baselines on worst_group_accuracy"]
