"""The user cache (fairfight/cache.py): where it is, least recently used eviction under a cap,
`fairfight cache`, and evals that share it while their bundles stay small."""
import json
import os
import subprocess
import sys
import time

import pytest

from fairfight.cache import CacheError, UserCache, default_root, parse_size, touch
from fairfight.evaluator.model_side.forward_cache import computations

from runner_fixtures import eval_here, write_fight


def test_where_the_cache_is(monkeypatch, tmp_path):
    monkeypatch.setenv("FAIRFIGHT_CACHE", str(tmp_path / "env"))
    assert default_root() == tmp_path / "env"
    monkeypatch.delenv("FAIRFIGHT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "fairfight"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".cache" / "fairfight"
    assert UserCache(tmp_path / "explicit").root == tmp_path / "explicit"


def test_sizes():
    assert parse_size("20G") == 20 * 1000**3
    assert parse_size("500MB") == 500 * 1000**2
    assert parse_size("1.5GiB") == int(1.5 * 1024**3)
    assert parse_size("123") == 123
    with pytest.raises(CacheError, match="not a size"):
        parse_size("lots")


def _entry(cache, area, name, size, used):
    folder = cache.area(area) / name
    folder.mkdir()
    (folder / "data").write_bytes(b"x" * size)
    os.utime(folder, (used, used))
    return folder


def test_least_recently_used_entries_go_first_and_recent_ones_stay(tmp_path):
    cache = UserCache(tmp_path / "c")
    now = time.time()
    old = _entry(cache, "forward", "old", 1000, now - 3000)
    middle = _entry(cache, "runs", "middle", 1000, now - 2000)
    recent = _entry(cache, "forward", "recent", 1000, now - 1000)
    fresh = _entry(cache, "forward", "fresh", 1000, now - 10)
    (cache.area("forward") / "computed.log").write_text("bookkeeping\n")  # never an entry
    touch(old)  # read just now: the least recently used is `middle` now
    removed = cache.evict(2500, grace=60, now=now + 1)
    assert [e.path for e in removed] == [middle, recent]
    assert old.exists() and fresh.exists() and (cache.area("forward") / "computed.log").exists()
    # over the cap, but what was used within the grace period stays
    assert cache.evict(0, grace=600, now=now + 1) == []
    assert [e.path for e in cache.evict(0, grace=0, now=now + 1)] == [fresh, old]
    assert cache.evict(10**9) == []


def test_an_entry_being_written_is_not_evicted(tmp_path):
    import fcntl

    cache = UserCache(tmp_path / "c")
    busy = _entry(cache, "forward", "busy", 1000, 0)
    with open(cache.area("forward") / "busy.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert cache.evict(0, grace=0) == []
    assert [e.path for e in cache.evict(0, grace=0)] == [busy]


def test_a_cache_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(CacheError, match="can be written by other users"):
        UserCache(shared)
    made = UserCache(tmp_path / "new").root
    assert made.stat().st_mode & 0o077 == 0  # made private


def test_the_cache_command_shows_and_clears(tmp_path):
    cache = UserCache(tmp_path / "c")
    _entry(cache, "forward", "a", 5000, time.time())
    _entry(cache, "runs", "b", 3000, time.time())
    env = {**os.environ, "FAIRFIGHT_CACHE": str(cache.root)}
    shown = subprocess.run([sys.executable, "-m", "fairfight.cli", "cache"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert str(cache.root) in shown.stdout and "forward: 1 forward passes, 5.0 KB" in shown.stdout
    assert "runs: 1 finished runs, 3.0 KB" in shown.stdout
    cleared = subprocess.run([sys.executable, "-m", "fairfight.cli", "cache", "--clear"], env=env, capture_output=True,
                             text=True)
    assert cleared.returncode == 0 and "cleared" in cleared.stdout
    assert cache.usage() == {"total": 0, "areas": {}}
    bad = subprocess.run([sys.executable, "-m", "fairfight.cli", "cache", "--prune", "--max-size", "lots"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not a size" in bad.stderr and "Traceback" not in bad.stderr


FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}"}


def test_evals_share_the_cache_and_bundles_hold_only_the_bundle(tmp_path, bert_dir, _own_cache):
    spec = write_fight(tmp_path / "task", bert_dir, FIGHT, seeds=2)
    first = eval_here(str(spec), "--out", str(tmp_path / "a"), "--no-progress")
    assert first.returncode == 0, first.stderr
    assert f"cache: {_own_cache}" in first.stderr
    hidden = [p.name for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]
    assert hidden == []  # no .forward (nor anything else hidden) in the bundle
    passes = computations(_own_cache / "forward")
    assert passes and len(list((_own_cache / "runs").iterdir())) == 2
    # another bundle of the same spec: every run reused, no pass computed again
    again = eval_here(str(spec), "--out", str(tmp_path / "b"), "--no-progress")
    assert again.returncode == 0 and "2 run(s) reused" in again.stderr
    assert computations(_own_cache / "forward") == passes
    # a second spec over the same model and data (another contender): it reads the same passes
    other = write_fight(tmp_path / "other", bert_dir, {"plain_head": FIGHT["probe"].replace("activations", "embed")})
    third = eval_here(str(other), "--out", str(tmp_path / "c"), "--no-progress")
    assert third.returncode == 0, third.stderr
    assert computations(_own_cache / "forward") == passes
    # --no-cache shares nothing and leaves nothing behind
    before = sorted(p.name for p in (_own_cache / "runs").iterdir())
    alone = eval_here(str(spec), "--out", str(tmp_path / "d"), "--no-progress", "--no-cache")
    assert alone.returncode == 0 and "0 run(s) reused" in alone.stderr and "no cache" in alone.stderr
    assert sorted(p.name for p in (_own_cache / "runs").iterdir()) == before
    assert [p.name for p in (tmp_path / "d").iterdir() if p.name.startswith(".")] == []
    assert json.loads((tmp_path / "d" / "results.json").read_text())["counts"]["succeeded"] == 2


def test_an_eval_trims_the_cache_to_its_cap(tmp_path, bert_dir, _own_cache, monkeypatch):
    cache = UserCache(_own_cache)
    stale = _entry(cache, "forward", "stale", 10_000, time.time() - 86400)
    monkeypatch.setenv("FAIRFIGHT_CACHE_MAX_SIZE", "1")
    spec = write_fight(tmp_path / "task", bert_dir, FIGHT, seeds=1)
    r = eval_here(str(spec), "--out", str(tmp_path / "a"), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and "evicted 1 least recently used entry" in r.stderr
    assert len(list((_own_cache / "runs").iterdir())) == 1  # this eval's own entries were just used: kept


def test_the_cache_and_the_bundle_stay_apart(tmp_path, bert_dir):
    spec = write_fight(tmp_path / "task", bert_dir, FIGHT, seeds=1)
    inside = eval_here(str(spec), "--out", str(tmp_path / "b"), "--cache", str(tmp_path / "b" / "cache"), "--no-progress")
    assert inside.returncode == 2 and "inside the bundle folder" in inside.stderr
    around = eval_here(str(spec), "--out", str(tmp_path / "c" / "runs" / "b"), "--cache", str(tmp_path / "c"),
                       "--no-progress")
    assert around.returncode == 2 and "inside the cache" in around.stderr
