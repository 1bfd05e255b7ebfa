"""The evaluator's layout follows the trust boundary: no import cycles between its modules (lazy
imports inside functions count too), and built-in baselines use only the public API."""
import ast
from pathlib import Path

import fairfight

PACKAGE = Path(fairfight.__file__).parent
EVALUATOR = PACKAGE / "evaluator"
SIDES = ("model_side", "contender_side", "orchestration", "judgement")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path, name: str | None = None) -> set[str]:
    """Every fairfight module `path` imports, at any depth of the file."""
    here = (name or _module(path)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("fairfight")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if base.startswith("fairfight"):
                found |= {f"{base}.{a.name}" for a in node.names} | {base}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in EVALUATOR.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_the_evaluator_is_split_by_side_of_the_trust_boundary():
    top = sorted(p.name for p in EVALUATOR.iterdir() if p.suffix == ".py" and p.name != "__init__.py")
    assert top == [], f"modules outside the four sides: {top}"
    assert {p.name for p in EVALUATOR.iterdir() if p.is_dir() and not p.name.startswith("_")} >= set(SIDES)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycles_between_evaluator_modules():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_can_fail(tmp_path):
    a = tmp_path / "executors.py"
    a.write_text("from . import runner\n\ndef f():\n    from ..judgement.stats import EvalSet\n")
    found = _imports(a, "fairfight.evaluator.orchestration.executors")
    assert {"fairfight.evaluator.orchestration.runner", "fairfight.evaluator.judgement.stats"} <= found
    assert _cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}}) == [["x", "y", "z", "x"]]
    assert _cycles({"x": {"y"}, "y": set()}) == []


def test_builtin_baselines_use_only_the_public_api():
    for path in (PACKAGE / "baselines").rglob("*.py"):
        private = sorted(m for m in _imports(path) if m.startswith("fairfight.evaluator"))
        assert not private, f"{path.name} imports evaluator internals: {private}"
