import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*/*.yaml"))  # as `fairfight validate examples/*/*.yaml`


def ff(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fairfight.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_examples_validate():
    r = ff("validate", *EXAMPLES)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("is valid") == len(EXAMPLES) >= 3


def test_validate_and_help_do_not_import_torch():
    code = ("import sys\nfrom fairfight.cli import main\nsys.argv=['fairfight', %r, %s]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "bad = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]\n"
            "assert not bad, bad\nprint('exit', code)\n")
    r = subprocess.run([sys.executable, "-c", code % ("validate", repr(EXAMPLES[0]))], capture_output=True, text=True)
    assert r.returncode == 0 and "exit 0" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-c", code % ("--help", "'-q'")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_plan_imports_no_torch_where_torch_is_a_cpu_build():
    """execution.device auto is resolved at plan time; a CPU build of torch (not on macOS) is the
    CPU for sure, read from torch/version.py, so `fairfight plan` starts without torch."""
    from fairfight.evaluator.model_side.devices import says_cpu_build

    assert says_cpu_build("cuda: Optional[str] = None\nhip: Optional[str] = None\n")
    assert says_cpu_build("cuda = None\nhip = None\n")
    assert not says_cpu_build("cuda: Optional[str] = '12.8'\nhip: Optional[str] = None\n")
    assert not says_cpu_build("cuda: Optional[str] = None\nhip: Optional[str] = '6.2.4'\n")
    assert not says_cpu_build("")
    import platform

    import torch

    if torch.version.cuda or getattr(torch.version, "hip", None) or platform.system() == "Darwin":
        pytest.skip("a GPU build of torch (or macOS): plan resolves auto with torch itself")
    code = ("import sys\nfrom fairfight.cli import main\nsys.argv=['fairfight', 'plan', %r]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "bad = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]\n"
            "assert not bad, bad\nprint('exit', code)\n")
    r = subprocess.run([sys.executable, "-c", code % str(ROOT / "examples/quickstart/spec.yaml")], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "exit 0" in r.stdout, r.stdout + r.stderr


def test_invalid_spec_exits_2_with_positioned_message(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text((ROOT / "examples/quickstart/spec.yaml").read_text().replace("[embed, activations, intervene]",
                                                                                   "[embed, activation, intervene]"))
    r = ff("validate", str(spec))
    assert r.returncode == 2
    assert "Traceback" not in r.stdout + r.stderr
    assert "rules.model[1]: text 'activation' is not an affordance (model operation); did you mean 'activations'?" in r.stdout
    assert f"{spec}:" in r.stdout and "^" in r.stdout


def test_json_format(tmp_path):
    r = ff("validate", "--format", "json", EXAMPLES[0], str(tmp_path / "missing.yaml"))
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["valid"] is False
    good, bad = out["files"]
    assert good["valid"] is True and bad["valid"] is False
    assert bad["diagnostics"][0]["pos"]["line"] == 1 and "cannot read" in bad["diagnostics"][0]["message"]


def test_set_overrides_are_validated_like_the_file():
    r = ff("validate", "--set", "evaluate.seeds=3", "--set", "rules.budget.trials=2", EXAMPLES[0])
    assert r.returncode == 0, r.stdout
    r = ff("validate", "--set", "evaluate.seeds=many", EXAMPLES[0])
    assert r.returncode == 2
    assert "--set:1:16: evaluate.seeds: expected a whole number, got text 'many'" in r.stdout
    r = ff("validate", "--set", "evaluate.sedes=3", EXAMPLES[0])
    assert "--set:1:10: evaluate.sedes: unknown key 'sedes'; did you mean 'seeds'?" in r.stdout
    r = ff("validate", "--set", "noequals", EXAMPLES[0])
    assert r.returncode == 2 and "PATH=VALUE" in r.stdout


def test_schema_command_prints_the_shipped_schema():
    r = ff("schema")
    assert r.returncode == 0
    assert json.loads(r.stdout)["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert json.loads(r.stdout) == json.loads((ROOT / "schema/fairfight.schema.json").read_text())


@pytest.mark.parametrize("tier", ["fair-fight", "no-holds-barred", "in-the-wild"])
def test_init_writes_a_spec_that_validates(tmp_path, tier):
    r = ff("init", str(tmp_path / "task"), "--tier", tier)
    assert r.returncode == 0, r.stderr
    spec = tmp_path / "task" / "spec.yaml"
    assert spec.read_text().startswith("# yaml-language-server: $schema=./fairfight.schema.json\n")
    assert (tmp_path / "task" / "methods.py").exists()
    # the modeline's schema travels with the spec's folder: a copy beside it, named relatively
    assert json.loads((tmp_path / "task" / "fairfight.schema.json").read_text()) == \
        json.loads((ROOT / "schema/fairfight.schema.json").read_text())
    assert str(tmp_path) not in spec.read_text() and "site-packages" not in spec.read_text()
    r = ff("validate", str(spec))
    assert r.returncode == 0, r.stdout
    assert "warning" not in r.stdout + r.stderr, r.stdout  # a starter is clean, not just valid
    again = ff("init", str(tmp_path / "task"))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr


def test_version_and_help():
    assert ff("--version").stdout.startswith("fairfight, version")
    r = ff("--help")
    assert r.returncode == 0 and "validate" in r.stdout and "init" in r.stdout


def test_usage_errors_exit_2_without_traceback():
    r = ff("validate")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = ff("nonsense")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_plan_prints_runs_and_refusals(tmp_path):
    r = ff("plan", str(ROOT / "examples/quickstart/spec.yaml"), "--seeds", "2")
    assert r.returncode == 0, r.stderr
    for name in ("erase_gender", "finetune_head", "oracle", "random_model(erase_gender)", "majority"):
        assert name in r.stdout.replace("\n", "").replace("│", "").replace(" ", "") or name in r.stdout
    spec = tmp_path / "s.yaml"
    text = (ROOT / "tests/specs/valid/corpus-base.yaml").read_text().replace(
        "      model: [activations, intervene]", "      model: [activations, intervene, weights]")
    spec.write_text(text)
    (tmp_path / "methods.py").write_text((ROOT / "tests/specs/valid/methods.py").read_text())
    r = ff("validate", str(spec))
    assert r.returncode == 2 and "would be refused" in r.stdout
    r = ff("plan", str(spec))
    assert r.returncode == 2 and "refused erase" in r.stdout and "model operation 'weights'" in r.stdout


def test_plan_says_what_tuning_will_do():
    r = ff("plan", str(ROOT / "examples/quickstart/spec.yaml"), "--seeds", "2")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[0]
    assert "20 runs" in head and "+ 20 tuning trials" in head  # what eval will announce
    assert "trained on 'ambiguous' less a held-out 25% that scores them on worst_group_accuracy" in r.stdout
    by_accuracy = ff("plan", str(ROOT / "examples/quickstart/spec.yaml"), "--set", "rules.selection_metric=accuracy")
    assert "held-out 25% that scores them on accuracy;" in by_accuracy.stdout, by_accuracy.stdout + by_accuracy.stderr
    by_leakage = ff("plan", str(ROOT / "examples/quickstart/spec.yaml"), "--set", "rules.selection_metric=leakage(gender)")
    assert "scores them on leakage(gender); the best trial's (lower is better) parameters" in by_leakage.stdout, \
        by_leakage.stdout + by_leakage.stderr
    block = r.stdout.split("\n  erase_gender (method)")[1].split("\n\n")[0]
    assert "params (defaults; tuning chooses the searched ones):\n      directions: 2\n      layer: 4" in block
    assert "tuning: 4 trials over directions in [1, 2, 4, 8]" in block
    controls = r.stdout.split("random_model(erase_gender) (control)")[1].split("\n\n")[0]
    assert "takes the parameters tuning chooses for erase_gender" in controls
    assert "not granted the selection split 'ambiguous'" in r.stdout  # zero_shot cannot be tuned


def test_init_then_eval_from_the_folder_that_holds_a_clone_named_fairfight(tmp_path):
    # A newcomer's first fight: `git clone` makes a folder named fairfight; from its parent they
    # run `fairfight init` and `fairfight eval`. Every worker once imported that folder instead of
    # the installed package and died.
    import os

    (tmp_path / "fairfight" / "fairfight").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    console = str(Path(sys.executable).parent / "fairfight")
    r = subprocess.run([console, "init", "my-task"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    small = ["--seeds", "1", "--set", "rules.budget.trials=1", "--set", "datasets.bios.options.size=120",
             "--set", "datasets.bios.options.test_size=48"]
    r = subprocess.run([console, "eval", "my-task/spec.yaml", "--out", "bundle", "--no-progress", *small],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr[-2000:]  # 1: the claim is judged, not supported
    runs = json.loads((tmp_path / "bundle" / "results.json").read_text())["runs"]
    assert runs and all(run["status"] == "succeeded" for run in runs), [run.get("error") for run in runs]


def test_an_all_digit_hash_given_by_set_stays_text():
    full = str(ROOT / "tests/specs/valid/full.yaml")
    digits = "0123456789" * 6 + "0123"
    r = ff("validate", "--set", f"rules.knowledge.features.sha256={digits}", full)
    assert r.returncode == 2, r.stdout
    assert "expected text" not in r.stdout  # read as text, so checked as a hash: the file's is another
    assert "--set:1:33: rules.knowledge.features.sha256: artifact 'features.json' has sha256 " in r.stdout
    import hashlib

    real = hashlib.sha256((ROOT / "tests/specs/valid/features.json").read_bytes()).hexdigest()
    assert ff("validate", "--set", f"rules.knowledge.features.sha256={real}", full).returncode == 0


def test_with_two_overrides_an_error_in_the_first_quotes_the_first(tmp_path):
    quickstart = str(ROOT / "examples/quickstart/spec.yaml")
    for command in (["validate", "--data"], ["eval", "--out", str(tmp_path / "b")]):
        r = ff(*command, "--set", 'splits.test.where=gender == "x"', "--set", "evaluate.seeds=1", quickstart)
        out = r.stdout + r.stderr
        assert r.returncode == 2, out
        assert "--set:1:19: splits.test.where: split 'test' is empty after filtering" in out
        assert 'splits.test.where=gender == "x"' in out and "evaluate.seeds=1" not in out
        assert "Traceback" not in out
    assert not (tmp_path / "b").exists()


def test_only_runs_a_methods_controls_only_if_named():
    quickstart = str(ROOT / "examples/quickstart/spec.yaml")
    r = ff("plan", quickstart, "--seeds", "1", "--only", "erase_gender")
    assert r.returncode == 0, r.stderr
    assert "erase_gender (method" in r.stdout and "random_model(erase_gender)" not in r.stdout
    r = ff("plan", quickstart, "--seeds", "1", "--only", "erase_gender", "--only", "random_model(erase_gender)")
    assert "random_model(erase_gender) (control" in r.stdout and "shuffled_labels(erase_gender)" not in r.stdout
    assert "name each control to run it too" in " ".join(ff("eval", "--help").stdout.split())


def test_eval_help_states_the_exit_codes_of_the_readme():
    text = " ".join(ff("eval", "--help").stdout.split())
    for code in ("0 every claim supported", "1 some claim not supported or inconclusive",
                 "2 invalid spec, or a refused contender", "or an invalid claim", "3 a run failed",
                 "130 interrupted"):
        assert code in text, code
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "0 every claim supported; 1 some claim not supported or inconclusive" in readme
    assert "2 invalid spec, a refused contender or an invalid claim" in readme
    assert "--allow-refused" in text


def test_a_folder_stands_for_its_spec_yaml(tmp_path):
    r = ff("validate", str(ROOT / "examples/quickstart"))
    assert r.returncode == 0 and "examples/quickstart/spec.yaml is valid" in r.stdout, r.stdout + r.stderr
    r = ff("plan", str(ROOT / "examples/quickstart") + "/")
    assert r.returncode == 0 and "30 runs" in r.stdout, r.stdout + r.stderr
    r = ff("validate", str(tmp_path))
    assert r.returncode == 2 and "is a folder with no spec.yaml in it" in r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
