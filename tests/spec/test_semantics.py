"""Checks of fairfight/spec/semantics.py that need files the corpus cannot hold (a FIFO)."""
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
