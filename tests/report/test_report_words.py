"""Small wording of the reports: the isolation line says each thing once; a leakage mean on its
metric's floor says why its interval sits where it does."""
from fairfight.report import model as m
from fairfight.report.markdown import render_markdown

from report_fixtures import FIXTURES, load


def test_the_isolation_line_names_the_walls_once():
    line = m.isolation({"isolation": {"level": "os", "why": "Landlock ABI 7 and seccomp"}})
    assert line == "os: the operating system walls contenders in (Landlock ABI 7 and seccomp)"
    assert line.count("seccomp") == 1
    assert m.isolation({"isolation": {"level": "os"}}) == "os: the operating system walls contenders in (Landlock, seccomp)"
    tripwire = m.isolation({"isolation": {"level": "tripwire", "why": "no usable Landlock"}})
    assert tripwire == "tripwire: an audit hook watches contenders; native code can get past it (no usable Landlock)"


def test_a_leakage_mean_on_its_floor_says_so():
    on = {"mean": 0.5, "low": 0.5, "high": 0.675}
    below = {"mean": 0.5125, "low": 0.525, "high": 0.7}
    above = {"mean": 0.5375, "low": 0.525, "high": 0.7}
    assert m.interval(on, "leakage(gender)") == "0.500 [0.500, 0.675] (at the floor)"
    assert m.interval(below, "leakage(gender)").endswith("(at the floor)")
    assert not m.interval(above, "leakage(gender)").endswith("(at the floor)")
    assert m.interval(on, "accuracy") == "0.500 [0.500, 0.675]"  # other metrics: no floor to explain
    text = render_markdown(load(FIXTURES / "results.json"))
    leakage = text.split("### leakage(gender)")[1].split("###")[0]
    assert "| majority | baseline | 0.500 [0.500, 0.675] (at the floor) |" in leakage
    assert "*At the floor:* leakage is never below the share of the attribute's most common value" in leakage
    assert "At the floor" not in text.split("### leakage(gender)")[0]
