"""Shared forward passes: two concurrent evals on one cache compute each pass once, and agree."""
import json
import os
import subprocess
import sys
from collections import Counter

from fairfight.evaluator.model_side.forward_cache import computations

from runner_fixtures import eval_here, write_fight

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}",
         "plain_head": "uses: {model: [embed], data: {train: [text, profession]}}"}


def test_two_concurrent_evals_compute_each_pass_once(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, FIGHT, seeds=3)
    cache = tmp_path / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(tmp_path / name),
                               "--cache", str(cache), "--no-progress"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for name in ("a", "b")]
    for p in procs:
        p.communicate(timeout=600)
        assert p.returncode == 0
    passes = computations(cache / "forward")
    keys = Counter(line.split()[0] for line in passes)
    assert keys and max(keys.values()) == 1  # nothing computed twice
    # probe (layer 1) and plain_head (embeddings) read one plain pass over every layer: one over
    # train, one over test, for both contenders and all 3 seeds (each seed's subsample of train,
    # evaluate.resample, takes its rows from the one pass over the whole split)
    assert len(keys) == 2
    a, b = (json.loads((tmp_path / n / "results.json").read_text())["runs"] for n in ("a", "b"))
    assert {(r["label"], r["seed"]): r["metrics"] for r in a} == {(r["label"], r["seed"]): r["metrics"] for r in b}
    # the ledgers still count every run's logical use: 80% of the 60 training rows, and the 40 test inputs
    assert all(r["ledger"]["examples"] == 48 for r in a)


def _compute_in_child(root, texts, out, pass_threads):
    import time

    import torch

    from fairfight.evaluator.model_side.forward_cache import ForwardCache

    torch.set_num_threads(1)

    def compute():
        start = time.time()
        threads = torch.get_num_threads()
        time.sleep(0.6)
        with open(out, "a") as f:
            f.write(f"{start} {time.time()} {threads}\n")
        return {0: torch.zeros(len(texts), 2)}

    ForwardCache(root, {"model": "m"}, pass_threads=pass_threads).pooled(texts, "mean", (), [0], compute)


def _intervals(tmp_path, name, texts_a, texts_b, pass_threads):
    import multiprocessing as mp

    out = tmp_path / f"{name}.log"
    procs = [mp.get_context("fork").Process(target=_compute_in_child,
                                            args=(tmp_path / name, texts, out, pass_threads))
             for texts in (texts_a, texts_b)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    return sorted(tuple(float(x) for x in line.split()) for line in out.read_text().splitlines())


def test_one_large_pass_at_a_time_on_all_cores(tmp_path):
    big_a, big_b = [f"a{i}" for i in range(100)], [f"b{i}" for i in range(100)]
    (s1, e1, t1), (s2, e2, t2) = _intervals(tmp_path, "locked", big_a, big_b, pass_threads=2)
    assert s2 >= e1 and t1 == t2 == 2  # one after the other, each on the pass's threads
    (s1, e1, _), (s2, _, _) = _intervals(tmp_path, "small", big_a[:10], big_b[:10], pass_threads=2)
    assert s2 < e1  # small passes do not queue behind the lock
    (s1, e1, t1), (s2, _, _) = _intervals(tmp_path, "free", big_a, big_b, pass_threads=None)
    assert s2 < e1 and t1 == 1  # no pass lock (cluster workers): in parallel, threads untouched


def test_an_edited_run_resumes_from_cached_states_inside_the_guarded_worker(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"edited_embed": "uses: {model: [embed, intervene], data: {train: [text, "
                                                            "profession]}}"}, seeds=2)
    spec.write_text(spec.read_text().replace("model: [embed, activations]", "model: [embed, activations, intervene]"))
    metrics = {}
    for executor in ("local", "inline"):
        r = eval_here(str(spec), "--out", str(tmp_path / executor), "--executor", executor, "--no-progress",
                      "--cache", str(tmp_path / f"cache-{executor}"))
        assert r.returncode == 0, r.stderr
        runs = json.loads((tmp_path / executor / "results.json").read_text())["runs"]
        assert all(run["status"] == "succeeded" for run in runs)
        metrics[executor] = {run["seed"]: run["metrics"] for run in runs}
        log = computations(tmp_path / f"cache-{executor}" / "forward")
        assert not (tmp_path / executor / ".forward").exists()  # the passes live in the cache, not the bundle
        # train and test: the plain states at layer 1 once each, then one resumed pass each
        assert sum("states@1" in line for line in log) == 2 and sum(line.endswith("edited") for line in log) == 2
    assert metrics["local"] == metrics["inline"]
