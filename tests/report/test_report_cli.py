"""`fairfight eval` writes the reports; `fairfight report BUNDLE` re-renders them."""
import subprocess
import sys

from fairfight.report import render_html, render_markdown

from matrix_parser import read_matrix
from report_fixtures import load


def ff(*args):
    return subprocess.run([sys.executable, "-m", "fairfight.cli", *args], capture_output=True, text=True, timeout=300)


def test_eval_writes_both_reports(small_bundle):
    out, r = small_bundle
    assert r.returncode == 2, r.stdout + r.stderr  # a refusal makes the eval invalid; the reports are written anyway
    assert "reports: " in r.stderr and "warning: the reports were not written" not in r.stderr
    results = load(out / "results.json")
    assert (out / "report.md").read_text(encoding="utf-8") == render_markdown(results)
    from fairfight.report.examples import contender_examples

    assert (out / "report.html").read_text(encoding="utf-8") == render_html(results, contender_examples(out, results))
    assert "report-small: accuracy" in r.stdout  # the terminal summary, now from fairfight.report.terminal


def test_report_command_rerenders_both_files(small_bundle):
    out, _ = small_bundle
    for name in ("report.md", "report.html"):
        (out / name).unlink()
    r = ff("report", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [str(out / "report.md"), str(out / "report.html")]
    results = load(out / "results.json")
    assert (out / "report.md").read_text(encoding="utf-8") == render_markdown(results)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and not list(out.glob(".report.*.tmp"))


def test_the_live_matrix_shows_the_refused_contenders(small_bundle):
    out, _ = small_bundle
    matrix = read_matrix((out / "report.html").read_text(encoding="utf-8"))
    assert matrix["ungranted_column"]["train.gender"]["text"] == "refused"
    assert "column 'gender' of split 'train' is not granted" in matrix["ungranted_column"]["train.gender"]["title"]
    assert matrix["declared_too_much"]["weights"]["text"] == "refused"
    assert matrix["probe"]["activations"]["text"] == "used"


def test_report_of_a_missing_bundle_exits_2_without_a_traceback(tmp_path):
    r = ff("report", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no such bundle folder" in r.stderr
    r = ff("report", str(tmp_path))  # a folder without results.json
    assert r.returncode == 2 and "Traceback" not in r.stderr and "results.json" in r.stderr
    (tmp_path / "results.json").write_text("{not json")
    r = ff("report", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not readable as JSON" in r.stderr
    (tmp_path / "results.json").write_text('{"format": "something-else"}')
    r = ff("report", str(tmp_path))
    assert r.returncode == 2 and "not a fairfight results file" in r.stderr
    assert not (tmp_path / "report.md").exists()


def test_help_does_not_import_the_report_machinery():
    code = ("import sys\nfrom fairfight.cli import main\nsys.argv = ['fairfight', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('torch', 'matplotlib', 'jinja2', 'fairfight.report') if m in sys.modules]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
