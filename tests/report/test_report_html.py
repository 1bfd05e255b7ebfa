"""report.html: one self-contained file with charts and the affordance matrix (from the fixture)."""
import copy
import re

import pytest

from fairfight.report import render_html
from fairfight.report.matrix import affordance_matrix

from matrix_parser import read_matrix
from report_fixtures import FIXTURES, load


@pytest.fixture(scope="module")
def results():
    return load(FIXTURES / "results.json")


@pytest.fixture(scope="module")
def html(results):
    return render_html(results)


def test_html_is_self_contained(html):
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html), re.findall(r".{40}https?://.{40}", html)[:3]
    lowered = html.lower()
    assert "<script" not in lowered  # no scripts at all, inline or not
    assert "<link" not in lowered and "@import" not in lowered
    assert not re.search(r"url\((?!#)", lowered)  # only references inside the page (SVG clip paths)
    assert not re.search(r"\ssrc\s*=", lowered)
    assert not re.search(r"href\s*=\s*\"(?!#)", lowered)
    assert not re.search(r"<\?xml|<!doctype svg", lowered)  # SVG headers stripped for inlining
    assert "<style>" in html


def test_html_has_a_chart_per_metric_and_the_group_chart(results, html):
    for metric in results["evaluate"]["metrics"]:
        assert f'aria-label="chart-{metric}"' in html
    assert 'aria-label="chart-groups"' in html
    assert html.count("<svg") >= len(results["evaluate"]["metrics"]) + 1 + len(results["verdicts"])


def test_html_has_the_same_content_as_the_markdown(results, html):
    for claim in results["claims"]:
        assert claim in html
    for v in results["verdicts"]:
        assert f'>{v["verdict"]}</span>' in html
    assert "intersection-union test" in html
    assert "skyline: allowed more than the rules; never counted as a baseline" in html
    assert "Trials allowed per contender: 2" in html
    assert "declared_too_much its uses exceed the rules: model operation &#39;weights&#39;" in html


def test_affordance_matrix_cells(results, html):
    matrix = read_matrix(html)
    labels = {r["label"] for r in results["runs"]} | {r["label"] for r in results["refusals"]}
    assert set(matrix) == labels
    # refused at run time: it tried 'weights', which its declared uses do not grant
    bad = matrix["ungranted_operation"]
    assert bad["weights"]["text"] == "refused" and "refused" in bad["weights"]["class"]
    assert "'weights' is not granted" in bad["weights"]["title"]
    assert bad["embed"]["text"] == "declared" and bad["train.profession"]["text"] == "·"
    # refused at plan time: nothing ran; the operation it declared beyond the rules is marked
    plan = matrix["declared_too_much"]
    assert plan["weights"]["text"] == "refused" and "plan time" in plan["weights"]["title"]
    assert all(c["text"] == "·" for name, c in plan.items() if name != "weights")
    # declared uses, used; no uses declared: the full rules, granted
    assert matrix["probe"]["activations"]["text"] == "used" and matrix["probe"]["embed"]["text"] == "·"
    plain = matrix["plain_head"]
    assert plain["spurious_concept"]["text"] == "granted" and plain["train.text"]["text"] == "used"
    # knowledge read by a baseline is knowledge used, not a data column
    assert matrix["token_deletion"]["spurious_concept"]["text"] == "used"
    # a skyline's grant beyond the rules is marked
    oracle = [c for name, c in matrix["oracle"].items() if name.startswith("balanced.")]
    assert oracle and all("†" in c["text"] and "beyond" in c["class"] for c in oracle)
    # the legend explains every state
    for word in ("used", "declared", "granted", "refused", "beyond the rules"):
        assert f">{word.split()[0]}<" in html or word in html


def test_matrix_columns_cover_rules_grants_use_and_refusals(results):
    matrix = affordance_matrix(results)
    names = {(c.group, c.name) for c in matrix.columns}
    for op in results["rules"]["grant"]["model"]:
        assert ("model", op) in names
    for split, cols in results["rules"]["grant"]["data"].items():
        assert {("data", f"{split}.{c}") for c in cols} <= names
    assert ("knowledge", "spurious_concept") in names and ("model", "weights") in names
    assert not [c for c in matrix.columns if c.group == "model" and c.name == "weights" and c.in_rules]


def test_a_guard_refusal_and_a_refused_column_get_their_cells(results):
    tampered = copy.deepcopy(results)
    run = next(r for r in tampered["runs"] if r["label"] == "probe")
    run["status"] = "refused"
    run["reasons"] = ["network access (socket.connect) is refused",
                      "column 'gender' of split 'train' is not granted: methods.probe.uses allows profession, text"]
    run["ledger"]["refused"] = [{"op": "read:gender", "split": "train", "reason": run["reasons"][1]}]
    matrix = read_matrix(render_html(tampered))
    assert matrix["probe"]["guard"]["text"] == "refused" and "socket.connect" in matrix["probe"]["guard"]["title"]
    assert matrix["probe"]["train.gender"]["text"] == "refused"


def test_in_the_wild_html_says_no_verdicts(results):
    wild = copy.deepcopy(results)
    wild["task"]["tier"] = "in-the-wild"
    wild["verdicts"] = [{"claim": c, "verdict": "not-judged", "reason": "an in-the-wild report computes no verdicts",
                         "comparisons": []} for c in wild["claims"]]
    html = render_html(wild)
    assert "<strong>no verdicts</strong>" in html and ">supported<" not in html


def test_same_results_give_the_same_html(results, html):
    assert render_html(copy.deepcopy(results)) == html
