"""Prior-matched baselines: a method's affordances that no required baseline uses are warned
about at validate (an error with --strict), with what would match them, unless the spec says why."""
import subprocess
import sys
from pathlib import Path

from fairfight.commands.validate import ValidateOptions, run_validate
from fairfight.spec.check import check_file
from fairfight.spec.matching import unmatched

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples/quickstart/spec.yaml"
# the quickstart fight without the baselines that share erase_gender's prior (the seed case of SHIFT)
NO_PRIOR = ["baselines=[finetune_head, majority]", "claims=[erase_gender beats all baselines on accuracy]"]
# ... and without the reason the quickstart states for its unlabeled text
UNSTATED = ["methods.erase_gender.unmatched={model.activations: mechanism, model.intervene: mechanism}"]


def warnings(report, about):
    return [d for d in report.warnings if about in d.message]


def test_a_prior_no_baseline_uses_is_a_warning_with_a_catalogue_suggestion():
    report = check_file(QUICKSTART, NO_PRIOR + UNSTATED)
    assert report.ok
    (w,) = warnings(report, "knowledge.spurious_concept")
    assert w.path == "methods.erase_gender.uses.knowledge" and "knowledge: [spurious_concept]" in w.snippet
    assert "which no required baseline uses" in w.message
    assert "add token_deletion or concept_bottleneck (params: {knowledge: spurious_concept})" in w.message
    (generic,) = warnings(report, "data.generic.text")
    assert "no built-in baseline uses it under these rules" in generic.message
    assert not warnings(report, "model.intervene")  # the spec states why (methods.erase_gender.unmatched)


def test_with_the_matching_baseline_the_warning_goes():
    report = check_file(QUICKSTART, ["baselines=[finetune_head, token_deletion, majority]"])
    assert report.ok and not warnings(report, "knowledge.spurious_concept")
    spec = report.spec
    assert [u.affordance for u in unmatched(spec)["erase_gender"]] == ["data.generic.text", "model.activations",
                                                                        "model.intervene"]


def test_strict_makes_it_an_error(capsys):
    assert run_validate(ValidateOptions([str(QUICKSTART)], NO_PRIOR)) == 0
    assert run_validate(ValidateOptions([str(QUICKSTART)], NO_PRIOR, strict=True)) == 2
    assert "knowledge.spurious_concept" in capsys.readouterr().out


def test_a_stated_reason_replaces_the_warning():
    report = check_file(QUICKSTART, NO_PRIOR + ['methods.erase_gender.unmatched={knowledge.spurious_concept: '
                                                '"the concept is named in the task statement", '
                                                'model.intervene: mechanism, model.activations: mechanism, '
                                                'data.generic.text: unlabeled}'])
    assert report.ok and not report.warnings, [d.message for d in report.warnings]
    items = {u.affordance: u.reason for u in unmatched(report.spec)["erase_gender"]}
    assert items["knowledge.spurious_concept"] == "the concept is named in the task statement"


def test_a_reason_for_what_the_method_does_not_use_is_a_positioned_error():
    report = check_file(QUICKSTART, ["methods.erase_gender.unmatched={knowledge.spurius: typo}"])
    (error,) = report.errors
    assert error.path == "methods.erase_gender.unmatched.knowledge.spurius" and error.snippet
    assert "does not use knowledge.spurius; did you mean 'knowledge.spurious_concept'?" in error.message
    report = check_file(QUICKSTART, ["methods.erase_gender.unmatched={data.ambiguous.text: matched}"])
    assert report.ok and warnings(report, "a required baseline uses data.ambiguous.text too")


def test_a_badly_formed_affordance_name_is_a_schema_error():
    report = check_file(QUICKSTART, ["methods.erase_gender.unmatched={spurious_concept: no kind}"])
    assert not report.ok and report.errors[0].path == "methods.erase_gender.unmatched.spurious_concept"


def test_validate_computes_it_without_torch():
    code = ("import sys\nfrom fairfight.spec.check import check_file\n"
            f"r = check_file({str(QUICKSTART)!r}, {NO_PRIOR!r})\n"
            "assert r.ok and any('knowledge.spurious_concept' in d.message for d in r.warnings)\n"
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\nassert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
