"""The IR: a validated, defaults-applied, frozen spec. Nothing after spec/ reads raw dicts."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .expressions import Arm, Where


class FrozenMap(Mapping):
    """An immutable, hashable, picklable mapping (insertion-ordered)."""

    __slots__ = ("_items",)

    def __init__(self, items=()):
        object.__setattr__(self, "_items", dict(items))

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __hash__(self):
        return hash(tuple((k, _hashable(v)) for k, v in self._items.items()))

    def __eq__(self, other):
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self):
        return f"FrozenMap({self._items!r})"

    def __getstate__(self):
        return self._items

    def __setstate__(self, state):
        object.__setattr__(self, "_items", state)

    def __setattr__(self, name, value):
        raise AttributeError("FrozenMap is immutable")


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    return value


def freeze(value):
    """Plain data -> immutable data (dict -> FrozenMap, list -> tuple)."""
    if isinstance(value, Mapping):
        return FrozenMap((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Task:
    name: str
    goal: str
    tier: str


@dataclass(frozen=True)
class ModelSpec:
    source: str  # "hf:ID" | "path:DIR" | "package:MODULE"
    revision: str
    kind: str
    dtype: str


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str  # "jsonl:PATH" etc.; file paths are absolute in the IR
    config: str | None
    revision: str
    options: FrozenMap
    split_column: str | None
    text: str
    labels: FrozenMap  # column -> FrozenMap(raw value as text -> label name)


@dataclass(frozen=True)
class SplitSpec:
    name: str
    dataset: str | None  # a dataset name, or None when `source` is given directly
    source: str | None  # e.g. "builtin:generic_text" when `from:` names a source
    part: str | None  # the dataset's own split ("train"), if named
    where: Where | None
    limit: int | None
    balance: tuple
    role: str  # "contender" | "evaluation" | "skyline"
    seed: int
    transform: tuple = ()  # declared changes to the text (data/transforms.py), in order


@dataclass(frozen=True)
class Resample:
    """How each seed resamples the training splits: "none", "bootstrap" or "subsample" (of `fraction`)."""

    kind: str = "none"
    fraction: float | None = None

    def __str__(self) -> str:
        return f"subsample({self.fraction:g})" if self.kind == "subsample" else self.kind


@dataclass(frozen=True)
class Evaluate:
    kind: str
    split: str
    target: str | None
    scorer: str | None
    groups: tuple
    metrics: tuple
    primary: str
    seeds: int
    confidence: float
    bootstrap: int
    resample: Resample = Resample()


@dataclass(frozen=True)
class Knowledge:
    name: str
    value: object  # str | tuple[str, ...] | None for artifacts
    artifact: Path | None = None
    sha256: str | None = None
    judgement: str | None = None  # a selection of SAE latents (selection.json): what was chosen, by whom


@dataclass(frozen=True)
class Budget:
    trials: int = 1
    examples: int | None = None
    steps: int | None = None
    wall_time: float | None = None  # seconds
    generated_tokens: int | None = None  # new tokens generated outside the evaluation
    max_new_tokens: int | None = None  # per prompt, in any generate call


@dataclass(frozen=True)
class Uses:
    """A set of affordances: what rules allow, or what a contender declares."""

    model: frozenset = frozenset()
    data: FrozenMap = field(default_factory=FrozenMap)  # split -> frozenset of columns
    knowledge: frozenset = frozenset()

    def missing_from(self, rules: "Uses") -> list[str]:
        """What this asks for beyond `rules`, as readable phrases."""
        out = [f"model operation '{op}'" for op in sorted(self.model - rules.model)]
        for split, cols in self.data.items():
            if split not in rules.data:
                out.append(f"split '{split}'")
            else:
                out += [f"column '{c}' of split '{split}'" for c in sorted(cols - rules.data[split])]
        out += [f"knowledge '{k}'" for k in sorted(self.knowledge - rules.knowledge)]
        return out


@dataclass(frozen=True)
class Rules:
    grant: Uses  # model ops, data columns, knowledge names
    knowledge: FrozenMap  # name -> Knowledge
    selection: str | None
    budget: Budget
    selection_metric: str | None = None  # what tuning scores trials by; None: evaluate.primary


@dataclass(frozen=True)
class Contender:
    name: str
    role: str  # "method" | "baseline" | "skyline"
    run: str | None  # methods: "FILE.py:FUNC" (FILE absolute) or "module:FUNC"
    uses: Uses | None  # declared; None = the full rules
    params: FrozenMap
    search: FrozenMap
    split: str | None = None  # skylines: their training split
    description: str = ""
    unmatched: FrozenMap = field(default_factory=FrozenMap)  # methods: affordance -> why no baseline need match it


@dataclass(frozen=True)
class Claim:
    text: str
    relation: str  # "beats" | "matches"
    subject: Arm
    against: Arm | None  # None = every baseline
    metric: str
    amount: float  # margin (beats) or tolerance (matches)
    members: object = None  # a family claim's MemberRange (expressions.py); None: judged in one spec

    @property
    def ranged(self) -> bool:
        """Judged over a family's members (judgement/family.py), not inside one member's eval."""
        return self.members is not None


@dataclass(frozen=True)
class Axis:
    """One axis of a family: the spec path its values are set at."""

    name: str
    path: str
    values: tuple  # frozen values, in order
    labels: tuple  # one short name per value (member names, report columns)


@dataclass(frozen=True)
class FamilySearch:
    """`fairfight search`: the data seed path, and the seeds of each stage (never shared)."""

    path: str
    discovery: tuple
    confirmation: tuple
    pick: int = 1


@dataclass(frozen=True)
class Family:
    axes: tuple  # Axis
    combine: str  # "grid" | "zip"
    search: FamilySearch | None = None


@dataclass(frozen=True)
class Member:
    """One member of a family: a label per axis, and the value each axis set."""

    name: str  # "cue=0.5,model=small": unique within the family, safe as a folder name
    labels: FrozenMap  # axis -> label
    values: FrozenMap  # axis -> value
    seed: int | None = None  # `fairfight search`: the data seed this copy of the member is drawn with


@dataclass(frozen=True)
class Execution:
    executor: str
    workers: int
    slurm: FrozenMap
    ray: FrozenMap
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N" | "mps" (model_side/devices.py)


@dataclass(frozen=True)
class Spec:
    version: int
    path: Path | None
    base_dir: Path
    spec_hash: str  # sha256 of the source text and the overrides
    task: Task
    model: ModelSpec
    datasets: FrozenMap  # name -> DatasetSpec
    splits: FrozenMap  # name -> SplitSpec
    evaluate: Evaluate
    rules: Rules
    methods: FrozenMap  # name -> Contender
    baselines: tuple  # Contender
    skylines: tuple  # Contender
    controls: tuple  # control names, applied to every method
    claims: tuple  # Claim
    execution: Execution
    where: "SpecLocations" = field(default=None, compare=False)  # positions, for errors found later
    family: "Family | None" = None  # the spec's `family:` block (it is then one member of it, or the family's base)
    member: "Member | None" = None  # which member of the family this spec is (spec/family.py)

    def contenders(self) -> tuple:
        return tuple(self.methods.values()) + self.baselines + self.skylines

    @property
    def judged_claims(self) -> tuple:
        """The claims one eval judges: every claim but those ranging over a family's members."""
        return tuple(c for c in self.claims if not c.ranged)

    @property
    def tuning_metric(self) -> str:
        """What tuning trials are scored by: rules.selection_metric, else the primary metric."""
        return self.rules.selection_metric or self.evaluate.primary

    def to_dict(self) -> dict:
        data = to_jsonable(self)
        data.pop("where", None)  # positions say where, not what: they never change a result
        return data

    def error(self, path: str, message: str):
        """A SpecError pointing at the part of the spec that asked for what failed."""
        from ..errors import Diagnostic, Position, SpecError

        if self.where is None:
            return SpecError([Diagnostic(str(self.path or "<spec>"), Position(1, 1), path, message)])
        return SpecError([self.where.diagnostic(path, message)])


@dataclass(frozen=True, eq=False)
class SpecLocations:
    """Dotted path -> (source name, Position), with the texts to quote; excluded from equality."""

    spans: FrozenMap
    texts: FrozenMap  # source name -> text

    def diagnostic(self, path: str, message: str, severity: str = "error"):
        from ..errors import Diagnostic, Position
        from .source import source_of

        probe = path
        while probe and probe not in self.spans:
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
            probe = probe.split("[")[0] if probe.endswith("]") else probe
        name, pos = self.spans.get(probe, (next(iter(self.texts), "<spec>"), Position(1, 1)))
        source = source_of(name.split("\0")[0], self.texts.get(name, ""))
        return Diagnostic(source.name, pos, path, message, severity, source.snippet(pos))


def to_jsonable(value):
    """IR -> JSON-serialisable data (for run keys, bundles and `validate --format json`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, Where):
            return value.text
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
