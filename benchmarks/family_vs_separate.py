"""A family against the same members run one by one: what sharing saves.

The family is examples/families/quickstart.yaml (the quickstart's fight; its axis is the layer
erase_gender edits), widened to --members members. It runs as one
`fairfight eval` of the family, and as one `fairfight eval --member NAME` per member, each on
its own: every eval with --no-cache, so nothing is shared between the separate evals, as if each
member had been a spec of its own. Both on this machine, one after the other, in one run:

    python benchmarks/family_vs_separate.py                  # 4 members, 1 seed
    python benchmarks/family_vs_separate.py --seeds 2
    python benchmarks/family_vs_separate.py --smoke          # 2 members, tiny data: checks it runs

Target (issue: families): the family costs at most 0.6x the separate evals. What the family
shares: every run no axis changes (here every contender but erase_gender and its controls), its
tuning trials, and the forward passes over the same texts.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples/families/quickstart.yaml"
LAYERS = [2, 3, 4, 5]


def overrides(members: int, smoke: bool) -> list[str]:
    out = [f"family.axes.layer.values={json.dumps(LAYERS[:members])}"]
    if smoke:  # tiny data, no tuning: the script's plumbing, not a measurement
        out += ["datasets.bios.options.size=200", "datasets.bios.options.test_size=40", "splits.ambiguous.limit=80",
                "splits.balanced_train.limit=40", "datasets.generic.options.size=60", "rules.budget.trials=1"]
    return out


SMOKE_ONLY = ["--only", "finetune_head", "--only", "token_deletion", "--only", "majority"]


def fairfight(args: list[str], out: Path, smoke=False) -> tuple[float, int]:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "fairfight", "eval", str(SPEC), "--no-cache", "--no-progress",
                        "--out", str(out), *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode not in ((0, 1, 2) if smoke else (0, 1)):  # smoke: --only leaves claims invalid (2)
        sys.exit(f"fairfight eval failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    return seconds, r.returncode


def computed(bundle: Path) -> int:
    """Runs and trials a family bundle holds, counting a run its members share once."""
    return len({p.name for p in bundle.glob("members/*/runs/*") if p.is_dir()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=4, choices=range(2, len(LAYERS) + 1))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    members = 2 if args.smoke else args.members
    sets = [x for o in overrides(members, args.smoke) for x in ("--set", o)] + ["--seeds", str(args.seeds)]
    sets += SMOKE_ONLY if args.smoke else []
    with tempfile.TemporaryDirectory(prefix="fairfight-family-bench-") as tmp:
        tmp = Path(tmp)
        family_s, _ = fairfight(sets, tmp / "family", args.smoke)
        shared = json.loads((tmp / "family" / "family.json").read_text())["shared_runs"]
        separate = []
        names = [m["name"] for m in json.loads((tmp / "family" / "family.json").read_text())["members"]]
        for i, name in enumerate(names):
            separate.append(fairfight(sets + ["--member", name], tmp / f"member-{i}", args.smoke)[0])
        separate_runs = sum(computed(tmp / f"member-{i}") for i in range(len(names)))
        family_runs = computed(tmp / "family")
    print(f"{members} members of {SPEC.relative_to(ROOT)}, {args.seeds} seed(s), every eval --no-cache"
          + (" (smoke: tiny data)" if args.smoke else ""))
    print("| eval | seconds | runs + trials computed |")
    print("|---|---|---|")
    print(f"| family (one eval) | {family_s:.1f} | {family_runs} ({shared} shared by several members) |")
    print(f"| members one by one | {sum(separate):.1f} ({' + '.join(f'{s:.0f}' for s in separate)}) | {separate_runs} |")
    print(f"| ratio family / separate | {family_s / sum(separate):.2f} | target <= 0.6 |")


if __name__ == "__main__":
    main()
