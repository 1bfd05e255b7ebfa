"""docs/baselines.md, generated from the declarations `validate` checks and `fairfight baselines`
prints: what each built-in does (catalogue.py), what it uses (spec/vocabulary.py) and its
parameters (parameters.py).

    python -m fairfight.baselines.reference > docs/baselines.md
"""
from __future__ import annotations

import json

from ..spec.vocabulary import BASELINES as NEEDS
from ..spec.vocabulary import SKYLINES as SKYLINE_NEEDS
from .parameters import PARAMETERS, TYPES, AtRunTime, Derived, shown_default

_COLUMN_WORDS = {"text": "text", "target": "target", "attribute": "a group attribute's labels",
                 "answer": "the answer column (params.answer)"}


def uses_text(name: str) -> str:
    """What a built-in is granted, in words (the plan builds the same grant from the same declaration)."""
    item = {**NEEDS, **SKYLINE_NEEDS}.get(name)
    if item is None:
        return "what the method it reruns is granted"
    ops = " or ".join(" + ".join(alt) for alt in item.model_any if alt) or "no model access"
    parts = [f"model: {ops}"] if item.task == "classification" else [f"generation tasks only; model: {ops}"]
    if item.columns:
        parts.append(f"data: {' + '.join(_COLUMN_WORDS[c] for c in item.columns)} of "
                     + ("its skyline split" if item.skyline else "one granted split"))
    else:
        parts.append("data: none (no training labels)")
    if item.knowledge_param and item.knowledge:
        parts.append(f"knowledge: the item named by params.{item.knowledge_param} (default {item.knowledge[0]})")
    elif item.knowledge_param:
        parts.append(f"knowledge: the item named by params.{item.knowledge_param}, if set")
    if item.skyline:
        parts.append("(may exceed the rules: a skyline)")
    return "; ".join(parts)


def param_text(param) -> str:
    """One parameter on one line: name (type; default ...): meaning."""
    how = "chosen by the plan" if param.set_by == "plan" else f"default {shown_default(param)}"
    models = "" if param.models == "any" else f"; {param.models} models only"
    search = f"; tuned over {json.dumps(list(param.search))}" if param.search else ""
    return f"{param.name} ({TYPES[param.type]}; {how}{models}{search}): {param.meaning}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default_cell(param) -> str:
    if param.set_by == "plan":
        return f"chosen by the plan: {_cell(param.default)}"
    if isinstance(param.default, Derived):
        return f"from the spec: {_cell(param.default)}"
    if isinstance(param.default, AtRunTime):
        return f"at run time: {_cell(param.default)}"
    return f"`{shown_default(param)}`"


def render() -> str:
    from .catalogue import BASELINES, CONTROLS, SKYLINES

    out = ["# Built-in baselines, skylines and controls", "",
           "Generated from `fairfight/baselines/parameters.py`, `fairfight/baselines/catalogue.py` and "
           "`fairfight/spec/vocabulary.py` by `python -m fairfight.baselines.reference`; do not edit by hand "
           "(a test checks it is current). `fairfight baselines` prints the same, and "
           "`fairfight baselines SPEC` adds what each gets under that spec's rules; `fairfight plan SPEC` "
           "shows every parameter a run will get.", "",
           "Set a parameter under the entry's `params:`, and a search space under `search:` "
           "(parameter -> candidate values, drawn with the same trial budget as every method). "
           "`validate` rejects an unknown parameter (with a 'did you mean'), a value of the wrong type, "
           "and a parameter the plan chooses. When the rules tune (a selection split, more than one trial), "
           "a parameter with a built-in search space is tuned over it even if `params:` sets it: the value "
           "there is where the trials start, and `validate` warns; write `search: {k: [4]}` to fix it:", "",
           "```yaml",
           "baselines:",
           "  - finetune_head",
           "  - zero_shot: {params: {description: \"a movie review whose sentiment is {label}\"}}",
           "  - few_shot: {params: {k: 5}, search: {k: [3, 5, 9]}}",
           "  - token_deletion: {params: {concept: genre_words}}",
           "```", "",
           "Defaults that depend on the task are derived from the spec (`task.goal`, `evaluate.target`), "
           "never from a template written for another task; parameters for one model kind (causal LMs "
           "or encoders) are set only when the model is of that kind. Each built-in is granted only "
           "what it uses (least privilege): the plan computes its grant from the rules.", "",
           "**Seed-free** built-ins draw nothing at random and read no seed: when their inputs are the "
           "same at every seed too (`evaluate.resample: none`, or no training split granted), an eval "
           "computes each once, at the first seed, and gives the other seeds that run's result "
           "(predictions, ledger, metrics; the record's `copied_from` names it, its `elapsed` is 0). "
           "A test reruns each of them at another seed and compares; `audit --rerun` may do the same.", ""]
    for title, table in (("Baselines", BASELINES), ("Skylines", SKYLINES), ("Controls (rerun every method)", CONTROLS)):
        out += [f"## {title}", ""]
        for name, entry in table.items():
            out += [f"### `{name}`", "", entry.summary + ".", "",
                    f"Uses: {uses_text(name)}.", ""]
            if entry.seeded is False:
                out += ["Seed-free: computed once per eval when its inputs do not change with the seed.", ""]
            elif callable(entry.seeded):
                out += ["Seed-free on encoders (nearest neighbours draw nothing; the prompting way draws its "
                        "demonstrations with the seed): computed once per eval there when its inputs do not "
                        "change with the seed.", ""]
            params = PARAMETERS.get(name, ())
            if not params:
                out += ["No parameters.", ""]
                continue
            out += ["| parameter | type | default | meaning |", "|---|---|---|---|"]
            for p in params:
                meaning = p.meaning + ("" if p.models == "any" else f" ({p.models} models only)")
                if p.search:
                    meaning += f"; tuned over `{json.dumps(list(p.search))}`"
                out.append(f"| `{p.name}` | {TYPES[p.type]} | {_default_cell(p)} | {_cell(meaning)} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
