"""The OS walls (sandbox.py) through a real `fairfight eval`: native code that gets past the audit
hook is stopped by the kernel, an honest fight gives the same metrics, and the fallback says so."""
import json
import os
import subprocess
import sys

import pytest

from fairfight.evaluator.contender_side import sandbox

from runner_fixtures import eval_here, write_fight

needs_os = pytest.mark.skipif(sandbox.expected()[0] != "os", reason="no Landlock ABI >= 4 / seccomp here")

NATIVE = ("native_open_data", "native_open_model", "native_exec", "native_connect")
SCOPED = ("native_signal", "native_unix_connect")  # Landlock ABI 6: signals and abstract sockets stay inside
FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}", "always_nurse":
         "uses: {data: {train: [profession]}}"}


def eval_cli(*args, isolation=None, cwd=None, **env_vars):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **env_vars}
    env.pop("FAIRFIGHT_ISOLATION", None)
    if isolation:
        env["FAIRFIGHT_ISOLATION"] = isolation
    return subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def native(tmp_path_factory, bert_dir):
    import socket

    folder = tmp_path_factory.mktemp("native")
    spec = write_fight(folder, bert_dir, {n: "" for n in NATIVE + SCOPED}, cheaters=True, seeds=1)
    name = f"fairfight-test-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX)  # an abstract socket outside the sandbox, like the fork server's
    listener.bind("\0" + name)
    listener.listen(8)
    os.environ["FAIRFIGHT_TEST_ABSTRACT_SOCKET"] = name
    os.environ["FAIRFIGHT_TEST_OUTSIDE_PID"] = str(os.getpid())
    try:
        r = eval_cli(str(spec), "--out", str(folder / "bundle"), "--workers", "2", "--no-progress", "--allow-refused")
    finally:
        del os.environ["FAIRFIGHT_TEST_ABSTRACT_SOCKET"], os.environ["FAIRFIGHT_TEST_OUTSIDE_PID"]
        listener.close()
    return folder, r, json.loads((folder / "bundle" / "results.json").read_text())


@needs_os
@pytest.mark.parametrize("name", NATIVE)
def test_native_code_is_stopped_by_the_kernel_with_the_reason(native, name):
    _, r, results = native
    (run,) = [x for x in results["runs"] if x["label"] == name]
    assert run["status"] == "refused", (run, r.stderr)
    assert any("OS sandbox refused" in reason for reason in run["reasons"]), run
    assert run["isolation"] == "os" and run["metrics"] is None


@pytest.mark.skipif(sandbox.landlock_abi() < 6, reason="Landlock scopes need ABI 6")
@pytest.mark.parametrize("name", SCOPED)
def test_signals_and_abstract_sockets_outside_the_sandbox_are_refused(native, name):
    """Without scoping, a contender could kill the model server, or ask multiprocessing's fork
    server (an abstract unix socket) for a process outside the walls."""
    _, r, results = native
    (run,) = [x for x in results["runs"] if x["label"] == name]
    assert run["status"] == "refused" and run["isolation"] == "os", (run, r.stderr)
    # EPERM from Landlock's scope, or ESRCH: in its own PID namespace, no process outside is in sight
    assert any("OS sandbox refused" in reason and ("Operation not permitted" in reason or "No such process" in reason)
               for reason in run["reasons"]), run["reasons"]


@needs_os
def test_a_refused_exec_never_ran(native):
    folder, _, _ = native
    assert not (folder / "exec-marker").exists()


@pytest.fixture(scope="module")
def honest(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("honest")
    spec = write_fight(folder, bert_dir, FIGHT, seeds=1)
    out = {}
    for level in ("os", "tripwire"):
        # each level computes its runs: from a shared cache the tripwire eval would reuse the walled runs
        r = eval_cli(str(spec), "--out", str(folder / level), "--workers", "2", "--no-progress", "--no-cache",
                     isolation=level if level == "tripwire" else None)
        assert r.returncode == 0, r.stderr
        out[level] = (r, folder / level)
    return out


@needs_os
def test_the_shared_cache_never_lends_a_run_made_behind_weaker_walls(tmp_path, bert_dir):
    """A run finished under the tripwire fallback must not stand in an eval inside the OS walls;
    the other way round is fine (that run had stronger walls than asked for)."""
    spec = write_fight(tmp_path, bert_dir, FIGHT, seeds=1)
    args = ["--cache", str(tmp_path / "cache"), "--only", "always_nurse", "--no-progress"]
    weak = eval_cli(str(spec), "--out", str(tmp_path / "weak"), *args, isolation="tripwire")
    assert weak.returncode == 0, weak.stderr
    walled = eval_cli(str(spec), "--out", str(tmp_path / "walled"), *args)
    assert walled.returncode == 0 and "0 run(s) reused" in walled.stderr, walled.stderr
    results = json.loads((tmp_path / "walled" / "results.json").read_text())
    assert {run["isolation"] for run in results["runs"]} == {"os"} and results["isolation"]["level"] == "os"
    again = eval_cli(str(spec), "--out", str(tmp_path / "weak2"), *args, isolation="tripwire")
    assert again.returncode == 0 and "1 run(s) reused" in again.stderr, again.stderr


@needs_os
def test_an_honest_fight_gives_the_same_metrics_inside_the_walls(honest):
    metrics = {}
    for level, (_, bundle) in honest.items():
        results = json.loads((bundle / "results.json").read_text())
        assert all(run["status"] == "succeeded" for run in results["runs"]), results["runs"]
        assert results["isolation"]["level"] == level
        metrics[level] = {run["label"]: run["metrics"] for run in results["runs"]}
    assert metrics["os"] == metrics["tripwire"]


def test_the_fallback_says_tripwire_in_provenance_report_and_eval(honest):
    r, bundle = honest["tripwire"]
    assert "isolation: tripwire" in r.stderr  # the warning at eval time
    provenance = json.loads((bundle / "provenance.json").read_text())
    assert provenance["isolation"] == "tripwire" and "FAIRFIGHT_ISOLATION" in provenance["isolation_why"]
    assert all(run["isolation"] == "tripwire" for run in json.loads((bundle / "results.json").read_text())["runs"])
    report = subprocess.run([sys.executable, "-m", "fairfight.cli", "report", str(bundle)], capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "**Isolation:** tripwire" in (bundle / "report.md").read_text()
    assert "<dt>Isolation</dt><dd>tripwire" in (bundle / "report.html").read_text()
    audit = subprocess.run([sys.executable, "-m", "fairfight.cli", "audit", str(bundle)], capture_output=True,
                           text=True, timeout=120)
    assert "isolation: tripwire" in audit.stdout, audit.stdout + audit.stderr


def test_the_inline_executor_says_isolation_none(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"always_nurse": FIGHT["always_nurse"]}, seeds=1)
    r = eval_here(str(spec), "--out", str(tmp_path / "b"), "--executor", "inline", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "warning: isolation: none (executor 'inline'" in r.stderr  # a message, not a Python warning
    assert "UserWarning" not in r.stderr and ".py:" not in r.stderr, r.stderr
    assert json.loads((tmp_path / "b" / "provenance.json").read_text())["isolation"] == "none"
    (run,) = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert run["status"] == "succeeded" and run["isolation"] == "none"


NEIGHBOUR = '''

@method
def reads_a_neighbour(ctx):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.open({path!r}.encode(), 0) < 0:  # native: only the kernel can stop it
        raise OSError(ctypes.get_errno(), "open")
    ctx.log("LEAK: read another program's file beside the method")
    return ctx.predictors.constant("nurse")


@method
def lists_its_folder(ctx):
    import os
    ctx.log("LEAK: listed the shared folder:", os.listdir(os.path.dirname(os.path.abspath(__file__))))
    return ctx.predictors.constant("nurse")
'''


@needs_os
def test_a_method_in_a_shared_folder_gets_its_own_file_not_the_folder(tmp_path, bert_dir, request):
    """A method at /tmp/methods.py (run with `python -m` from /tmp, which puts /tmp on sys.path) must not
    open all of /tmp: TMPDIR makes this test's folder the temp folder, so it is a shared one (short:
    multiprocessing's socket path in it must fit AF_UNIX's 108 bytes under Python 3.11)."""
    import shutil
    import tempfile
    from pathlib import Path

    shared = Path(tempfile.mkdtemp(prefix="ff-shared-"))
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    spec = write_fight(shared, bert_dir, {"always_nurse": FIGHT["always_nurse"], "reads_a_neighbour": ""}, seeds=1)
    (shared / "another-programs-file.txt").write_text("private")
    with open(shared / "methods.py", "a") as f:
        f.write(NEIGHBOUR.format(path=str(shared / "another-programs-file.txt")))
    with open(spec, "a") as f:  # the same method named as a module, found on sys.path (the shared folder)
        f.write("  as_module: {run: 'methods:always_nurse', " + FIGHT["always_nurse"] + "}\n")
        f.write("  lists_as_module: {run: 'methods:lists_its_folder'}\n")  # its folder's names: every file in it
    r = eval_cli(str(spec), "--out", str(tmp_path / "bundle"), "--no-progress", "--allow-refused", cwd=shared,
                 TMPDIR=str(shared))
    assert (tmp_path / "bundle" / "results.json").exists(), r.stderr[-3000:]
    runs = {x["label"]: x for x in json.loads((tmp_path / "bundle" / "results.json").read_text())["runs"]}
    for name in ("always_nurse", "as_module"):
        assert runs[name]["status"] == "succeeded", (runs[name], r.stderr[-2000:])
    for name in ("reads_a_neighbour", "lists_as_module"):
        neighbour = runs[name]
        assert neighbour["status"] == "refused", (neighbour, r.stderr[-2000:])
        assert any("OS sandbox refused" in reason for reason in neighbour["reasons"]), neighbour
