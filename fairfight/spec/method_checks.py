"""Semantic checks of the researcher's methods: each `run:` names a function that exists (looked
for, never imported), each method's name is its own, and its `uses` lie within the rules
(beyond them: the method is refused, and validate says why). A mixin of `semantics.Checker`."""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from ._access import _d, _l, _s
from .suggest import suggest
from .vocabulary import BASELINES, CONTROLS, MODEL_OPS, SKYLINES

REFUSED = "refused-contender"  # `eval` runs the rest and lists the contender as refused
# what an assignment at a module's top level holds that can never be called (`method = 5`, `f = "x"`)
_VALUES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr, ast.ListComp, ast.DictComp,
           ast.SetComp, ast.BinOp)


class MethodChecks:
    def check_methods(self):
        for name, method in _d(self.data.get("methods")).items():
            method = _d(method)
            base = ("methods", name)
            run = _s(method.get("run"))
            if run and ":" in run:
                self.check_run(base + ("run",), run)
            uses = method.get("uses")
            if isinstance(uses, dict):
                self.check_uses(name, base + ("uses",), uses)
            if "max_new_tokens" in _d(method.get("params")):  # the usual name of an answer length
                self.check_answer_length(base + ("params", "max_new_tokens"), f"method '{name}'",
                                         _d(method.get("params"))["max_new_tokens"])
            if name in BASELINES or name in SKYLINES:
                self.error(base, f"method '{name}' has the name of a built-in baseline; claims could not tell them apart",
                           key=True)
            elif name in CONTROLS:  # its controls' labels would read random_model(random_model)
                self.error(base, f"method '{name}' has the name of a control; claims and reports could not tell them "
                                 "apart", key=True)

    def check_run(self, path, run):
        target, func = run.rsplit(":", 1)
        if not func.isidentifier():
            return  # the schema reports the form (once)
        if not target.endswith(".py"):
            self.check_run_module(path, target)
            return
        file = self.base_dir / target
        if not file.is_file():
            self.error(path, f"method file '{target}' does not exist (paths are relative to the spec's folder)")
            return
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            self.error(path, f"method file '{target}' is not valid Python: {exc}")
            return
        names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assigned = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Name)}
        if func not in names and isinstance(assigned.get(func), _VALUES):  # `X = 5`: never callable
            self.error(path, f"'{func}' in '{target}' is a value ({type(assigned[func]).__name__.lower()}), not a "
                             "function")
        elif func not in names and func not in assigned:
            self.error(path, f"'{target}' defines no function '{func}'{suggest(func, names + list(assigned))}")

    def check_run_module(self, path, target):
        """A module is looked for, never imported (that would run user code, and torch). Workers
        find modules installed or in their current folder: only a name found nowhere is an error."""
        if (self.base_dir / target).is_file():
            self.error(path, f"'{target}' is a file but not a Python file: run takes FILE.py:FUNCTION (relative to "
                             "the spec) or module:FUNCTION")
            return
        top = target.split(".", 1)[0]
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", top):
            return  # the schema reports the form
        try:
            places = (self.base_dir, Path.cwd())
        except OSError:  # the current folder was deleted under us
            places = (self.base_dir,)
        if any((folder / f"{top}.py").is_file() or (folder / top).is_dir() for folder in places):
            return
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            self.error(path, f"no module '{top}' is installed, and the spec's folder has no {top}.py: a method is "
                             "FILE.py:FUNCTION (relative to the spec) or module:FUNCTION of an installed module")

    def check_uses(self, name, base, uses):
        refused = f"method '{name}' would be refused"
        ops = self.rule_ops()
        for i, op in enumerate(_l(uses.get("model"))):
            if isinstance(op, str) and op in MODEL_OPS and op not in ops:
                self.error(base + ("model", i), f"{refused}: it uses model operation '{op}', which rules.model does not grant"
                                                f" (rules.model: {', '.join(sorted(ops)) or 'nothing'})", code=REFUSED)
        rule_data = self.rule_data()
        for split, cols in _d(uses.get("data")).items():
            if split not in rule_data:
                why = self.ungrantable(split) if split in self.splits() else ""
                if why:
                    self.error(base + ("data", split), f"{refused}: it reads '{split}', {why}", key=True, code=REFUSED)
                    continue
                self.error(base + ("data", split), f"{refused}: it reads split '{split}', which rules.data does not grant"
                                                   f"{suggest(split, rule_data)}", key=True, code=REFUSED)
                continue
            for i, col in enumerate(_l(cols)):
                if isinstance(col, str) and col not in rule_data[split]:
                    self.error(base + ("data", split, i), f"{refused}: it reads column '{col}' of '{split}', which rules.data "
                                                          f"does not grant (granted: {', '.join(sorted(rule_data[split]))})", code=REFUSED)
        knowledge = _d(self.rules().get("knowledge"))
        for i, item in enumerate(_l(uses.get("knowledge"))):
            if isinstance(item, str) and item not in knowledge:
                self.error(base + ("knowledge", i), f"{refused}: it uses knowledge '{item}', which rules.knowledge does not "
                                                    f"grant{suggest(item, knowledge)}", code=REFUSED)
