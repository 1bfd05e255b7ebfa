"""An unreachable hub fails fast, with the clear message (fairfight/hub.py), instead of retrying
for about 70 s. Tested against a closed local port: nothing leaves the machine."""
import os
import socket
import subprocess
import sys
import textwrap
import time


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


def _online_env(tmp_path) -> dict:
    """No offline variables (as a user who did not set them), the hub at a closed port, empty caches."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                                                             "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", HF_HOME=str(tmp_path / "hf"),
               HF_DATASETS_CACHE=str(tmp_path / "hf" / "datasets"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    return env


SPEC = """
fairfight: 1
task: {name: hub-down}
model: {source: "path:MODEL"}
datasets:
  bios: {source: "hf:someone/bios-that-is-not-cached"}
splits:
  train: {from: bios/train}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession, metrics: [accuracy]}
rules: {model: [embed], data: {train: [text, profession]}}
"""


def test_a_hub_dataset_fails_fast_when_the_hub_is_unreachable(tmp_path, bert_dir):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("MODEL", str(bert_dir)))
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "validate", "--data", str(spec)], capture_output=True,
                       text=True, env=_online_env(tmp_path), timeout=120)
    elapsed = time.monotonic() - started
    assert r.returncode == 2, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "cannot load dataset 'someone/bios-that-is-not-cached'" in out
    assert "is unreachable" in out and "local cache only" in out and "Traceback" not in out
    assert elapsed < 20, f"{elapsed:.0f} s: the hub was retried instead of failing fast"  # ~70 s before


def test_a_hub_model_fails_fast_when_the_hub_is_unreachable(tmp_path):
    code = textwrap.dedent("""
        from fairfight.errors import FairfightError
        from fairfight.evaluator.model_side.models import load_model
        try:
            load_model("hf:someone/model-that-is-not-cached", revision="main", kind="auto", dtype="float32")
        except FairfightError as exc:
            print(exc)
    """)
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_online_env(tmp_path),
                       timeout=120)
    elapsed = time.monotonic() - started
    assert "could not fetch model 'someone/model-that-is-not-cached'" in r.stdout, r.stdout + r.stderr
    assert "is unreachable" in r.stdout and "Download it first" in r.stdout
    assert elapsed < 20, f"{elapsed:.0f} s: the hub was retried instead of failing fast"


def test_offline_by_choice_is_not_probed(monkeypatch):
    from fairfight import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setattr(hub, "_checked", {})
    assert hub.unreachable() is None and hub._checked == {}
