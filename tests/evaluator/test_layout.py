"""The evaluator's layout follows the trust boundary: no import cycles between its modules (lazy
imports inside functions count too), and built-in baselines use only the public API."""
import ast
from pathlib import Path

import fairfight

PACKAGE = Path(fairfight.__file__).parent
EVALUATOR = PACKAGE / "evaluator"
SIDES = ("model_side", "contender_side", "orchestration", "judgement")


def _module(path: Path, package: Path = PACKAGE) -> str:
    return ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")


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
                found |= {f"{base}.{a.name}" for a in node.names}
                if node.module or not node.level:  # `from . import x` imports x, not the package
                    found.add(base)
    return found


def _graph(root: Path = PACKAGE, package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. A package's `__init__` that imports (or lazily
    delegates to) modules below it is its facade, not a cycle: Python imports a package before any
    module in it, so the edge back from below is there for every submodule anyway; those edges are
    left out. `from . import charts` names the module charts, not the package around it."""
    modules = {_module(p, package): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        edges = {m for m in _imports(path, name) if m in modules and m != name}
        if path.name == "__init__.py":
            edges = {m for m in edges if not m.startswith(name + ".")}
        graph[name] = edges
    return graph


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
    cycles = _cycles(_graph(EVALUATOR))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_import_cycles_in_the_whole_package():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_whole_package_check_sees_two_file_cycles(tmp_path):
    """The three two-file cycles this check was extended for (audit/core <-> audit/trials,
    baselines/catalogue <-> baselines/sae_probe, sae/model <-> sae/formats) had this shape: a lazy
    import inside a function one way, a module-level import the other."""
    pkg = tmp_path / "fairfight" / "sae"
    pkg.mkdir(parents=True)
    (tmp_path / "fairfight" / "__init__.py").write_text("def f():\n    from .sae import model\n")
    (pkg / "__init__.py").write_text("from .formats import load\n")
    (pkg / "model.py").write_text("def save():\n    from .formats import save_sae\n")
    (pkg / "formats.py").write_text("from . import model\nfrom .model import SAE\n")
    graph = _graph(tmp_path / "fairfight", tmp_path / "fairfight")
    assert _cycles(graph) == [["fairfight.sae.formats", "fairfight.sae.model", "fairfight.sae.formats"]]


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
