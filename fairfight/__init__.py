"""fairfight: make "our interpretability method beats the baselines" a checkable claim.

The public facade. Heavy pieces (torch, transformers) load only when used.
"""
from __future__ import annotations

from .errors import AffordanceError, BudgetExceeded, Diagnostic, FairfightError, Position, SpecError
from .knowledge import concept_words

__version__ = "0.1.0"

__all__ = [
    "AffordanceError", "BudgetExceeded", "Diagnostic", "FairfightError", "Generations", "Position", "Predictions", "choice_output", "SpecError",
    "__version__", "check_file", "concept_words", "load_spec", "method", "model_kind", "schema",
]


def load_spec(path, overrides=()):
    """The validated, frozen IR of a spec file; raises SpecError with every problem found."""
    from .spec.check import load_spec as _load

    return _load(path, overrides)


def check_file(path, overrides=()):
    """A Report (diagnostics, and the IR when valid) for a spec file; never raises for bad input."""
    from .spec.check import check_file as _check

    return _check(path, overrides)


def schema() -> dict:
    """The spec JSON Schema (draft-07)."""
    from .spec.schema import schema as _schema

    return _schema()


def model_kind(spec) -> str:
    """"encoder" or "causal": what the spec's model is (`model.kind`, else its config.json)."""
    from .evaluator.model_side.models import spec_model_kind

    return spec_model_kind(spec)


def method(fn):
    """Mark a function of one argument (the context) as a fairfight method."""
    if not callable(fn):
        raise FairfightError("@method decorates a function taking the context: def my_method(ctx): ...")
    fn.__fairfight_method__ = True
    return fn


def __getattr__(name):  # edits need torch: import them only when asked for
    if name in ("ProjectOut", "Ablate", "AddVector", "AblateFeatures"):
        from .evaluator.model_side import edits

        return getattr(edits, name)
    if name in ("Predictions", "Generations", "choice_output"):  # what a predictor of one's own returns (the
        # module imports torch lazily); choice_output writes a choice task's output for one prompt
        from .evaluator.contender_side import predictors

        return getattr(predictors, name)
    if name == "sae":  # `fairfight.sae.train_topk(...)` after a plain `import fairfight`
        import importlib

        return importlib.import_module(".sae", __name__)
    raise AttributeError(f"module 'fairfight' has no attribute {name!r}")
