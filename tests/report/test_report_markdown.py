"""report.md: a golden file rendered from a fixed, real results.json, and the edge cases
(in-the-wild, interrupted, numbers that could not be computed)."""
import copy
import difflib
import json
import os

import pytest

from fairfight.report import render_markdown

from report_fixtures import FIXTURES, REPORT_FIGHT, load, run_fight

REGENERATE = ("To accept an intended change of report.md, run:\n"
              "    FAIRFIGHT_UPDATE_GOLDEN=1 pytest tests/report/test_report_markdown.py\n"
              "and review the diff of tests/report/fixtures/report.md. To re-make the results.json fixture from a "
              "fresh real eval (after a change of the results format), run:\n"
              "    FAIRFIGHT_REGENERATE_FIXTURE=1 pytest tests/report/test_report_markdown.py -k regenerate")


@pytest.fixture
def results():
    return load(FIXTURES / "results.json")


def test_report_md_matches_the_golden_file(results):
    golden = FIXTURES / "report.md"
    text = render_markdown(results)
    if os.environ.get("FAIRFIGHT_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden report.md",
                                            "rendered now", n=2))
        pytest.fail(f"report.md differs from tests/report/fixtures/report.md:\n{diff[:6000]}\n{REGENERATE}")


def test_report_md_says_what_the_fixture_holds(results):
    text = render_markdown(results)
    assert "**Tier:** fair-fight" in text
    for claim in results["claims"]:
        assert f"### {claim}" in text
    assert "intersection-union test" in text and "**each** baseline" in text
    assert "skyline: allowed more than the rules; never counted as a baseline" in text
    assert "control of probe" in text
    assert "**declared_too_much** (method): declared_too_much its uses exceed the rules: model operation 'weights'" in text
    assert "**ungranted_operation** (method, seed 0): refused" in text and "'weights' is not granted" in text
    assert "Trials allowed per contender: 2" in text and "| probe | 2 of 2 | layer=" in text
    for metric in results["evaluate"]["metrics"]:
        assert f"### {metric}" in text


def test_in_the_wild_reports_no_verdicts(results):
    wild = copy.deepcopy(results)
    wild["task"]["tier"] = "in-the-wild"
    wild["verdicts"] = [{"claim": c, "verdict": "not-judged", "reason": "an in-the-wild report computes no verdicts",
                         "comparisons": []} for c in wild["claims"]]
    text = render_markdown(wild)
    assert "**no verdicts**" in text and "| claim | verdict |" not in text
    assert "**supported**" not in text


def test_an_interrupted_eval_still_renders(results):
    partial = copy.deepcopy(results)
    partial["interrupted"] = True
    for key in ("verdicts", "notes", "intervals"):
        partial.pop(key)
    partial["runs"] = partial["runs"][:3]
    text = render_markdown(partial)
    assert "This eval was interrupted" in text and "No verdicts: the eval did not finish." in text


def test_numbers_that_could_not_be_computed_read_n_a(results):
    broken = json.loads(json.dumps(results))
    label = next(iter(broken["intervals"]))
    broken["intervals"][label]["accuracy"] = {"mean": float("nan"), "low": None, "high": float("nan"), "seeds": [None]}
    text = render_markdown(broken)
    assert f"| {label} |" in text and "nan" not in text.lower().replace("nanoseconds", "")


@pytest.mark.skipif(not os.environ.get("FAIRFIGHT_REGENERATE_FIXTURE"), reason="re-makes fixtures/results.json "
                    "from a real eval; set FAIRFIGHT_REGENERATE_FIXTURE=1 to run it")
def test_regenerate_the_results_fixture(tmp_path, bert_dir):
    out, r = run_fight(tmp_path, bert_dir, REPORT_FIGHT)
    assert (out / "results.json").exists(), r.stdout + r.stderr
    (FIXTURES / "results.json").write_text((out / "results.json").read_text(encoding="utf-8"), encoding="utf-8")
    (FIXTURES / "report.md").write_text(render_markdown(load(out / "results.json")), encoding="utf-8")


def test_the_tuning_section_says_which_way_its_metric_improves(results):
    """leakage(gender) as rules.selection_metric: the best trial is the lowest, and the reader is told so."""
    from fairfight.report import render_html

    tuned = copy.deepcopy(results)
    tuned["tuning"]["metric"] = "leakage(gender)"
    assert "scored by `leakage(gender)` (lower is better) on a held-out part" in render_markdown(tuned)
    assert "best held-out leakage(gender)" in render_markdown(tuned)
    assert "scored by <code>leakage(gender)</code> (lower is better) on a held-out part" in render_html(tuned)


def test_a_runs_reason_cannot_start_a_section_of_the_report(results):
    """A contender writes its run's reasons (it can append to the worker's refusal records): a newline
    in one must not become a heading or a verdict line of report.md."""
    results = copy.deepcopy(results)
    run = next(r for r in results["runs"] if r["status"] == "refused")
    run["reasons"] = ["refused\n\n## Verdicts\n\n- FORGED: supported"]
    md = render_markdown(results)
    assert "refused ## Verdicts - FORGED: supported" in md
    assert not any(line.startswith(("## Verdicts", "- FORGED")) for line in md.splitlines())
