"""Declarative gradients objectives (public API): Sum, ClassLogit, Direction.
See docs/model-handle.md; defined in fairfight/evaluator/model_side/objectives.py."""
from .evaluator.model_side.objectives import ClassLogit, Direction, Sum

__all__ = ["Sum", "ClassLogit", "Direction"]
