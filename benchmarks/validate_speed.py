"""How fast is `fairfight validate`? Compared, in one run, with a plain script that does less
(yaml.safe_load + jsonschema, no positions, no semantics).

    python benchmarks/validate_speed.py

Targets (issue: spec language): < 0.3 s for the examples as a whole process, < 2 s for a
5,000-line spec.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*/spec.yaml"))
PLAIN = """
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft7Validator(schema)
bad = 0
for path in sys.argv[2:]:
    bad += len(list(v.iter_errors(yaml.safe_load(open(path)))))
"""


def big_spec(folder: Path, lines: int = 5000) -> Path:
    """A valid spec of about `lines` lines: many splits, methods and claims."""
    (folder / "methods.py").write_text("def m(ctx):\n    pass\n")
    head = (ROOT / "tests/specs/valid/corpus-base.yaml").read_text()
    head = head.replace("run: methods.py:erase", "run: methods.py:m")
    out = [head.split("\nsplits:\n")[0], "splits:"]
    body = head.split("\nsplits:\n")[1]
    splits, rest = body.split("\nevaluate:\n")
    out.append(splits)
    n = 0
    while sum(s.count("\n") + 1 for s in out) < lines * 0.5:
        out.append(f"  extra_{n}:\n    from: bios/train\n    where: profession == \"nurse\" and gender != \"male\"\n"
                   f"    limit: {100 + n}")
        n += 1
    rest, claims = ("evaluate:\n" + rest).split("\nclaims:\n")
    rest = rest.replace("methods:\n", "methods:\n" + "".join(
        f"  m{i}:\n    run: methods.py:m\n    uses:\n      model: [activations]\n      data: {{ambiguous: [text]}}\n"
        f"    params: {{layer: {i % 6}}}\n    search: {{layer: [1, 2, 3]}}\n" for i in range(n // 2)))
    out.append(rest)
    out.append("claims:\n" + claims + "".join(f"  - m{i} beats all baselines on accuracy by 0.01\n" for i in range(n // 2)))
    path = folder / "big.yaml"
    path.write_text("\n".join(out))
    return path


def best_of(n, fn):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed:\n{r.stdout}{r.stderr}")


def main():
    fairfight = [sys.executable, "-m", "fairfight.cli", "validate"]
    plain = [sys.executable, "-c", PLAIN, str(ROOT / "schema/fairfight.schema.json")]
    with tempfile.TemporaryDirectory() as tmp:
        big = big_spec(Path(tmp))
        n_lines = big.read_text().count("\n")
        sys.path.insert(0, str(ROOT))
        from fairfight.spec.check import check_file

        assert check_file(big).ok, "the generated spec must be valid"
        rows = [
            ("examples, whole process", best_of(5, lambda: run(*fairfight, *EXAMPLES)),
             best_of(5, lambda: run(*plain, *EXAMPLES)), 0.3),
            (f"{n_lines}-line spec, whole process", best_of(3, lambda: run(*fairfight, str(big))),
             best_of(3, lambda: run(*plain, str(big))), 2.0),
            (f"{n_lines}-line spec, in process", best_of(3, lambda: check_file(big)), None, 2.0),
        ]
    print(f"{'case':<34} {'fairfight s':>12} {'plain s':>9} {'ratio':>6} {'target s':>9}  ok")
    for name, ours, base, target in rows:
        ratio = f"{ours / base:6.2f}" if base else "     -"
        base_s = f"{base:9.3f}" if base else "        -"
        print(f"{name:<34} {ours:12.3f} {base_s} {ratio} {target:9.1f}  {'yes' if ours < target else 'NO'}")
    print("plain = yaml.safe_load + jsonschema only: no positions, no semantic checks, no messages.")


if __name__ == "__main__":
    main()
