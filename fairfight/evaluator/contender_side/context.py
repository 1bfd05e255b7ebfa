"""The context a contender receives: granted handles and nothing else.

`ctx.model` exposes the granted model operations, `ctx.data[split]` the granted columns of the
granted splits, `ctx.knowledge[name]` the granted priors. The evaluation split is never here.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from ...errors import AffordanceError, FairfightError
from ...spec.ir import Contender, FrozenMap, Spec, Uses
from ..model_side.ledger import Budget, Ledger


class SplitHandle:
    """One granted split: only its granted columns, each read recorded in the ledger."""

    def __init__(self, name: str, columns: dict, granted: frozenset, ledger: Ledger, rule: str, allowed=frozenset()):
        self.__name, self.__ledger, self.__rule, self.__allowed = name, ledger, rule, frozenset(allowed)
        self.__granted = frozenset(granted)
        # Ungranted columns are not even copied in: there is nothing to reach for.
        self.__columns = {c: tuple(v) for c, v in columns.items() if c in self.__granted}
        self.__len = len(next(iter(columns.values()))) if columns else 0

    name = property(lambda self: self.__name)
    columns = property(lambda self: tuple(sorted(self.__granted)))

    def __len__(self):
        return self.__len

    def __repr__(self):
        return f"SplitHandle({self.__name!r}, rows={self.__len}, columns={list(self.columns)})"

    def __getitem__(self, column: str) -> list:
        if column not in self.__granted:
            reason = (f"column '{column}' of split '{self.__name}' is not granted: {self.__rule} allows "
                      f"{', '.join(sorted(self.__granted))}")
            if column in self.__allowed:
                reason += f" (the rules allow it: declare it in {self.__rule}.{self.__name} to read it)"
            self.__ledger.refuse(f"read:{column}", reason, split=self.__name)
            raise AffordanceError(reason)
        if column not in self.__columns:
            raise FairfightError(f"split '{self.__name}' has no column '{column}'")
        self.__ledger.read(self.__name, column, self.__len)
        return list(self.__columns[column])

    @property
    def texts(self) -> list:
        return self["text"]


class DataView:
    """ctx.data: granted splits by name."""

    def __init__(self, splits: dict, ledger: Ledger, rule: str):
        self.__splits, self.__ledger, self.__rule = splits, ledger, rule

    def __getitem__(self, name: str) -> SplitHandle:
        if name not in self.__splits:
            reason = f"split '{name}' is not granted: {self.__rule} grants {', '.join(sorted(self.__splits)) or 'no split'}"
            self.__ledger.refuse("read", reason, split=name)
            raise AffordanceError(reason)
        return self.__splits[name]

    def __contains__(self, name):
        return name in self.__splits

    def __iter__(self):
        return iter(sorted(self.__splits))

    def keys(self):
        return sorted(self.__splits)


class KnowledgeView:
    """ctx.knowledge: granted priors by name (artifacts are read and their sha256 recorded)."""

    def __init__(self, items: dict, ledger: Ledger, rule: str):
        self.__items, self.__ledger, self.__rule = items, ledger, rule

    def __getitem__(self, name: str):
        if name not in self.__items:
            reason = f"knowledge '{name}' is not granted: {self.__rule} grants {', '.join(sorted(self.__items)) or 'none'}"
            self.__ledger.refuse("knowledge", reason, split=name)
            raise AffordanceError(reason)
        item = self.__items[name]
        if item.artifact is None:
            self.__ledger.read("knowledge", name, 1)
            return item.value
        if Path(item.artifact).is_dir():  # a folder artifact: an SAE (SAELens or dictionary_learning layout)
            return self._folder(name, item)
        data = Path(item.artifact).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if item.sha256 and digest != item.sha256:
            raise FairfightError(f"artifact '{item.artifact}' has sha256 {digest}, but the spec expects {item.sha256}")
        self.__ledger.read("knowledge", name, 1, sha256=digest)  # one name per item, everywhere
        return data.decode("utf-8", errors="replace")

    def _folder(self, name, item):
        from ...knowledge import artifact_sha256
        from ...sae import detect_format, load_sae

        digest = artifact_sha256(item.artifact)
        if item.sha256 and digest != item.sha256:
            raise FairfightError(f"artifact folder '{item.artifact}' has sha256 {digest}, but the spec expects "
                                 f"{item.sha256}")
        if detect_format(item.artifact) is None:
            raise FairfightError(f"knowledge '{name}': the folder '{item.artifact}' is not an SAE folder (SAELens "
                                 "cfg.json + sae_weights.safetensors, or dictionary_learning config.json + ae.pt)")
        sae = load_sae(item.artifact)
        self.__ledger.read("knowledge", f"{name} sha256={digest}", 1)
        return sae

    def __contains__(self, name):
        return name in self.__items

    def keys(self):
        return sorted(self.__items)


@dataclass(frozen=True)
class TaskInfo:
    """The task statement every contender may know: what to predict, and its possible labels."""

    target: str | None
    classes: tuple = ()


class Context:
    """What a method function receives."""

    def __init__(self, *, model, data, knowledge, params, seed, ledger, predictors_factory, name="", task=None):
        self.task = task or TaskInfo(None)
        self.model = model
        self.data = data
        self.knowledge = knowledge
        self.params = dict(params)
        self.seed = seed
        self.ledger = ledger
        self.name = name
        self.logs: list[str] = []
        self.predictors = predictors_factory(self)

    def log(self, *parts) -> None:
        self.logs.append(" ".join(str(p) for p in parts))


def grant_of(spec: Spec, contender: Contender) -> tuple[Uses, str]:
    """What a contender is granted (least privilege) and the rule that says so."""
    if contender.uses is None:
        return spec.rules.grant, "rules"
    beyond = contender.uses.missing_from(spec.rules.grant)
    if beyond:
        raise AffordanceError(f"{contender.role} '{contender.name}' asks for more than the rules grant: "
                              + ", ".join(beyond))
    where = f"methods.{contender.name}.uses" if contender.role == "method" else f"{contender.name} uses"
    return contender.uses, where


def seed_everything(seed: int) -> None:
    """The same seed gives the same result on the same machine."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_context(spec: Spec, contender: Contender, seed: int, *, loaded_model, splits, params=None,
                  ledger: Ledger | None = None, grant: Uses | None = None, rule: str | None = None,
                  classes=(), forward_cache=None, model=None, redirect_seed=None) -> Context:
    """A context with exactly the contender's grant (computed, or given by the plan for built-ins).
    `splits` loads split tables by name. `model`: a handle already made (the model server's stub);
    else one is built on `loaded_model` in this process (`redirect_seed`: the random_direction
    control's, see model_handle.py)."""
    from ..model_side.model_handle import ModelHandle
    from .predictors import Predictors

    if grant is None:
        grant, rule = grant_of(spec, contender)
    rule = rule or "uses"
    budget = spec.rules.budget
    ledger = ledger or Ledger(Budget.of(budget))
    data = {}
    for name, columns in grant.data.items():
        table = splits.split(name)
        data[name] = SplitHandle(name, {c: table.columns[c] for c in columns if c in table.columns},
                                 frozenset(columns), ledger, f"{rule}.data",
                                 spec.rules.grant.data.get(name, frozenset()))
    knowledge = {k: spec.rules.knowledge[k] for k in grant.knowledge}
    if model is None:
        model = ModelHandle(loaded_model, frozenset(grant.model), ledger, rule_source=f"{rule}.model",
                            forward_cache=forward_cache, rules=spec.rules.grant.model, redirect_seed=redirect_seed)
    seed_everything(seed)
    merged = dict(contender.params)
    merged.update(params or {})
    return Context(model=model, data=DataView(data, ledger, f"{rule}.data"),
                   knowledge=KnowledgeView(knowledge, ledger, f"{rule}.knowledge"),
                   params=FrozenMap(merged), seed=seed, ledger=ledger, predictors_factory=Predictors,
                   name=contender.name, task=TaskInfo(spec.evaluate.target, tuple(classes or ())))  # None: generation
