"""Checks of fairfight/spec/semantics.py that need files the corpus cannot hold (a FIFO)."""
import pytest
import os
from pathlib import Path

from fairfight.spec.check import check_text

BASE = (Path(__file__).resolve().parents[1] / "specs/valid/corpus-base.yaml").read_text()


def test_an_artifact_that_is_a_pipe_is_an_error_not_a_hang_at_eval(tmp_path):
    os.mkfifo(tmp_path / "features.json")  # hashing it at eval would block forever
    (tmp_path / "methods.py").write_text((Path(__file__).resolve().parents[1] / "specs/valid/methods.py").read_text())
    text = BASE.replace("  knowledge: {spurious_concept: gender}",
                        "  knowledge: {spurious_concept: gender, features: {artifact: features.json}}")
    assert text != BASE
    report = check_text(text, "s.yaml", base_dir=tmp_path)
    assert [d.message for d in report.errors] == [
        "artifact 'features.json' is neither a file nor a folder (a pipe or a device?)"]
    assert report.errors[0].path == "rules.knowledge.features.artifact"


@pytest.mark.parametrize("edit, why", [(("budget: {trials: 4,", "budget: {trials: 1,"), "rules.budget.trials is 1"),
                                       (("  selection: ambiguous\n", ""), "rules.selection is not set")])
def test_a_selection_metric_nothing_is_tuned_by_is_a_positioned_warning(edit, why):
    quickstart = Path(__file__).resolve().parents[2] / "examples/quickstart/spec.yaml"
    text = quickstart.read_text()
    for source in (text, text.replace(*edit)):
        report = check_text(source, name=str(quickstart), base_dir=str(quickstart.parent))
        assert report.ok, [d.render() for d in report.errors]
        warned = [d for d in report.warnings if d.path == "rules.selection_metric"]
        if source == text:
            assert not warned  # the quickstart tunes by it
    (w,) = warned
    assert why in w.message and "selection_metric: worst_group_accuracy" in w.snippet and "^" in w.snippet


def test_a_tuned_parameter_fixed_in_params_is_a_warning_that_says_how_to_fix_it():
    """A built-in's `params: {l2: ...}` is only the default its trials start from when rules tune: a
    reader of the spec would think it fixed, so validate says so, at the value."""
    quickstart = Path(__file__).resolve().parents[2] / "examples/quickstart/spec.yaml"
    text = quickstart.read_text()
    assert "  - finetune_head\n" in text
    check = lambda source: check_text(source, name=str(quickstart), base_dir=str(quickstart.parent))
    fixed = text.replace("  - finetune_head\n", "  - finetune_head: {params: {l2: 0.5}}\n")
    (w,) = [d for d in check(fixed).warnings if "tuned over" in d.message]
    assert w.path.endswith("finetune_head.params.l2") and "search: {l2: [0.5]}" in w.message
    searched = text.replace("  - finetune_head\n", "  - finetune_head: {params: {l2: 0.5}, search: {l2: [0.5]}}\n")
    untuned = fixed.replace("budget: {trials: 4,", "budget: {trials: 1,")
    assert untuned != fixed
    for source in (searched, untuned):
        assert not [d for d in check(source).warnings if "tuned over" in d.message]
