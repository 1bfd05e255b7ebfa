"""A whole `fairfight eval` of a generation task on a tiny random GPT-2 with a chat template:
methods that generate (plain, with a system prompt, steered), texts scored on the trusted side by
the spec's scorer file, verdicts, the bundle audited; and the scorer out of every contender's reach."""
import json
from pathlib import Path
import shutil

import jsonschema
import pytest

from generationkit import CLAIMS, tiny_chat_gpt2, write_capitals
from runner_fixtures import eval_here


@pytest.fixture(scope="module")
def chat_gpt2(tmp_path_factory):
    return tiny_chat_gpt2(tmp_path_factory.mktemp("chat-gpt2"))


@pytest.fixture(scope="module")
def fought(chat_gpt2, tmp_path_factory):
    folder = tmp_path_factory.mktemp("capitals")
    spec = write_capitals(folder / "fight", chat_gpt2, ["plain", "with_system", "steered", "says_paris",
                                                        "own_generations"], CLAIMS)
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--cache", str(folder / "cache"))
    return spec, out, r


def _runs(out):
    return {run["label"]: run for run in json.loads((out / "results.json").read_text())["runs"]}


def test_a_generation_eval_scores_texts_on_the_trusted_side(fought):
    spec, out, r = fought
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    runs = _runs(out)
    assert {label: run["status"] for label, run in runs.items()} == dict.fromkeys(runs, "succeeded"), runs
    evaluation = [json.loads(line) for line in (out / "evaluation.jsonl").read_text().splitlines()]
    assert len(evaluation) == 16 and {"text", "answer", "pressure"} <= set(evaluation[0])
    for label, run in runs.items():
        rows = [json.loads(line) for line in (out / "runs" / run["key"] / "predictions.jsonl").read_text().splitlines()]
        assert len(rows) == 16 and all(isinstance(row["prediction"], str) for row in rows)
        # each score is the scorer's own judgement of that text against that row's reference
        expected = [float(e["answer"].lower() in row["prediction"].lower()) for e, row in zip(evaluation, rows)]
        assert [row["score"] for row in rows] == expected
        assert run["metrics"]["score"] == pytest.approx(sum(expected) / 16)
        assert set(run["metrics"]) == {"score"}
        by_group = {g: [x for x, e in zip(expected, evaluation) if e["pressure"] == g] for g in ("none", "wrong")}
        assert run["group_scores"] == {g: pytest.approx(sum(v) / len(v)) for g, v in by_group.items()}
        assert run["batch_check"]["differing"] == 0  # greedy texts equal across compositions
    paris = [json.loads(line) for line in (out / "runs" / runs["says_paris"]["key"] / "predictions.jsonl")
             .read_text().splitlines()]
    # only France's two rows say Paris
    assert [row["score"] for row in paris] == [float(e["answer"] == "Paris") for e in evaluation]
    assert sum(row["score"] for row in paris) == 2


def test_generate_runs_through_the_edits_and_the_system_prompt(fought):
    _, out, _ = fought
    runs = _runs(out)

    def texts(label):
        path = out / "runs" / runs[label]["key"] / "predictions.jsonl"
        return [json.loads(line)["prediction"] for line in path.read_text().splitlines()]

    assert texts("plain") != texts("with_system") and texts("plain") != texts("steered")
    ledger = json.loads((out / "runs" / runs["steered"]["key"] / "ledger.json").read_text())
    generated = [e for e in ledger["entries"] if e["op"] == "generate"]
    assert generated and all(e["edits"] and e["edits"][0]["positions"] == "generated" for e in generated)
    # plain prompts are the evaluation inputs (free); prompts wrapped in a system turn are charged
    plain = json.loads((out / "runs" / runs["plain"]["key"] / "ledger.json").read_text())
    assert all(e.get("charged", 0) == 0 for e in plain["entries"] if e["op"] == "generate")
    system = json.loads((out / "runs" / runs["with_system"]["key"] / "ledger.json").read_text())
    assert sum(e.get("charged", 0) for e in system["entries"] if e["op"] == "generate") >= 16


def test_verdicts_come_out_of_the_scores(fought):
    _, out, _ = fought
    results = json.loads((out / "results.json").read_text())
    schema = json.loads((Path(__file__).resolve().parents[3] / "schema" / "results.schema.json").read_text())
    assert [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(results)] == []
    assert results["evaluate"]["kind"] == "generation"
    verdicts = {v["claim"]: v for v in results["verdicts"]}
    paris = verdicts["says_paris beats plain on score"]
    assert paris["verdict"] in ("supported", "inconclusive", "not-supported")
    (comparison,) = paris["comparisons"]
    runs = _runs(out)
    assert comparison["subject_value"] == pytest.approx(runs["says_paris"]["metrics"]["score"])
    assert comparison["against_value"] == pytest.approx(runs["plain"]["metrics"]["score"])
    intervals = results["intervals"]["says_paris"]
    assert intervals["score"]["mean"] == pytest.approx(0.125) and set(intervals["groups"]) == {"none", "wrong"}


def _audit(out, *more):
    from click.testing import CliRunner

    from fairfight.cli import cli

    return CliRunner().invoke(cli, ["audit", str(out), *more])


def test_the_bundle_audits_clean(fought):
    _, out, _ = fought
    r = _audit(out)
    assert r.exit_code == 0 and "clean:" in r.output, r.output[-3000:]
    assert "recomputed:  inconclusive  says_paris beats plain on score" in r.output or "says_paris" in r.output


def test_audit_rerun_regenerates_and_compares(fought):
    _, out, _ = fought
    r = _audit(out, "--rerun", "2")
    assert r.exit_code == 0, r.output[-3000:]
    assert r.output.count("reproduced") == 2, r.output[-3000:]


def test_the_audit_rescores_every_text_with_the_spec_scorer(fought, tmp_path):
    """A score written beside a text that the scorer does not give it is found (and the metric from it)."""
    spec, out, _ = fought
    copy = tmp_path / "bundle"
    shutil.copytree(out, copy)
    key = _runs(copy)["plain"]["key"]
    path = copy / "runs" / key / "predictions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[3]["score"] = 1.0 - rows[3]["score"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = _audit(copy, "--spec", str(spec))
    assert r.exit_code != 0
    assert "plain seed 0: 1 text(s) score otherwise with the spec's scorer" in r.output, r.output[-3000:]


def test_the_report_shows_generations_beside_their_scores(fought):
    _, out, _ = fought
    html = (out / "report.html").read_text()
    section = html[html.index('<section id="examples">'):]
    section = section[:section.index("</section>")]
    # a generated text beside the score the scorer gave it, under the prompt and its reference
    assert '<q class="generated">It is Paris.</q></td><td class="num">0.000</td>' in section
    assert "the capital of" in section and "<th>generated text</th><th>score</th>" in section
    for label in _runs(out):
        assert f"<strong>{label}</strong>" in section
    assert "Score per group" in html and "scorers.py:mentions_answer" in html
    markdown = (out / "report.md").read_text()
    assert "generation scored by `scorers.py:mentions_answer`" in markdown and "## Score per group" in markdown


def test_invalid_texts_fail_their_run_with_the_reason(chat_gpt2, tmp_path):
    hostile = ["returns_numbers", "returns_huge_text", "one_text_too_few", "batch_dependent"]
    spec = write_capitals(tmp_path / "fight", chat_gpt2, ["plain", *hostile])
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache", *[f"--only={m}" for m in hostile])
    assert r.returncode != 0
    runs = _runs(out)
    assert runs["returns_numbers"]["status"] == "failed"
    assert "not a generated text" in runs["returns_numbers"]["error"]
    assert runs["returns_huge_text"]["status"] == "failed"
    assert "at most 20000" in runs["returns_huge_text"]["error"]
    assert runs["one_text_too_few"]["status"] == "failed"
    assert "predictions for" in runs["one_text_too_few"]["error"]
    # the batch check holds for texts: one that depends on its chunk-mates is refused in a fair fight
    assert runs["batch_dependent"]["status"] == "refused"
    assert "batch-dependent" in runs["batch_dependent"]["error"] and runs["batch_dependent"]["batch_check"]["differing"]


def test_a_contender_can_neither_read_nor_call_the_scorer(chat_gpt2, tmp_path):
    spec = write_capitals(tmp_path / "fight", chat_gpt2, ["plain", "reads_scorer", "calls_scorer"])
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache", "--only", "reads_scorer",
                  "--only", "calls_scorer")
    assert r.returncode != 0
    runs = _runs(out)
    for label in ("reads_scorer", "calls_scorer"):
        assert runs[label]["status"] in ("refused", "failed")
        said = runs[label].get("error", "") + " ".join(runs[label].get("reasons", []))
        assert "scorers.py" in said, said


def test_the_inline_executor_gives_the_texts_of_the_served_one(fought, chat_gpt2, tmp_path):
    """Executor inline (the model in the worker's own process, for debugging): the same greedy texts
    and scores as through the model server."""
    _, served, _ = fought
    spec = write_capitals(tmp_path / "fight", chat_gpt2, ["plain", "with_system", "steered", "says_paris",
                                                         "own_generations"], CLAIMS)
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache", "--executor", "inline",
                  "--only", "with_system", "--only", "steered")
    assert r.returncode in (0, 1, 2), r.stdout[-3000:] + r.stderr[-3000:]
    inline, before = _runs(out), _runs(served)
    for label in ("with_system", "steered"):
        assert inline[label]["status"] == "succeeded" and inline[label]["model_access"] == "in-process"
        rows = [(out / "runs" / inline[label]["key"] / "predictions.jsonl").read_text(),
                (served / "runs" / before[label]["key"] / "predictions.jsonl").read_text()]
        assert rows[0] == rows[1]


def _as_chat(spec, train_too=False, broken=False):
    """The fight's prompts as chat prompts (one user turn each) in the evaluation split."""
    path = spec.parent / "qa.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        if row["split"] == "test" or train_too:
            row["text"] = [{"role": "user", "content": row["text"]}]
    if broken:
        rows[0]["text"] = [{"role": "robot", "content": "hello"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_chat_prompts_in_the_evaluation_split(chat_gpt2, tmp_path):
    """A generation task's prompts may be chat messages: rendered with the model's template on the
    trusted side; sent as they are, they cost nothing; wrapped (a system turn), they are charged."""
    spec = write_capitals(tmp_path / "fight", chat_gpt2, ["plain", "with_system"], "claims:\n  - with_system beats plain on score")
    _as_chat(spec)
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache")
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    runs = _runs(out)
    assert runs["plain"]["status"] == runs["with_system"]["status"] == "succeeded"
    evaluation = [json.loads(line) for line in (out / "evaluation.jsonl").read_text().splitlines()]
    assert evaluation[0]["text"][0]["role"] == "user"
    ledgers = {label: json.loads((out / "runs" / run["key"] / "ledger.json").read_text()) for label, run in runs.items()}
    assert all(e.get("charged", 0) == 0 for e in ledgers["plain"]["entries"] if e["op"] == "generate")
    assert sum(e.get("charged", 0) for e in ledgers["with_system"]["entries"] if e["op"] == "generate") >= 16
    assert _audit(out).exit_code == 0


@pytest.mark.parametrize("train_too, broken, said", [
    (True, False, "split 'train': its text column holds a list"),
    (False, True, "split 'test': its text column holds a list"),
])
def test_chat_prompts_elsewhere_or_malformed_are_refused_before_anything_runs(chat_gpt2, tmp_path, train_too, broken,
                                                                             said):
    spec = write_capitals(tmp_path / "fight", chat_gpt2, ["plain"])
    _as_chat(spec, train_too=train_too, broken=broken)
    r = eval_here(str(spec), "--out", str(tmp_path / "bundle"), "--no-progress", "--no-cache")
    assert r.returncode == 2 and said in r.stdout + r.stderr, r.stdout[-3000:] + r.stderr[-3000:]
