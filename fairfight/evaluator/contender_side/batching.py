"""Batch-independent predictions: evaluation inputs reach a predictor in shuffled chunks of
varying size, and a sample of them is predicted again in a different composition.

A predictor's output for one input must not depend on the other inputs it is given (one that
re-thresholds each batch so that half of it gets each label, because the evaluation set is known
to be balanced, would otherwise go unnoticed). Chunks and the re-predicted sample are drawn from
the run key, so a rerun (or an audit's) reproduces them. A difference beyond float noise (a
label that changes, or a score that moves more than TOLERANCE) flags the run: refused in the
fair-fight tier, kept with a note in the others.
"""
from __future__ import annotations

import random

from ...errors import FairfightError

RECHECK = 64  # inputs predicted a second time, at most
MAX_CHUNK = 256  # inputs per chunk, at most: a contender's own passes over its chunks (texts it
# made of them, such as token_deletion's) run in chunk-sized passes, which batch well at this size
TOLERANCE = 1e-3  # a score that moves less than this between compositions is float noise
REASON = "batch-dependent predictions"


def chunk_sizes(n: int, rng: random.Random) -> list[int]:
    """Varying chunk sizes summing to n: between a quarter of the largest and the largest
    (MAX_CHUNK, or half the inputs when there are few, so that there are always several chunks)."""
    high = max(1, min(MAX_CHUNK, (n + 1) // 2))
    low = max(1, high // 4)
    sizes = []
    while sum(sizes) < n:
        sizes.append(min(rng.randint(low, high), n - sum(sizes)))
    return sizes


def split(order: list, sizes: list) -> list[list]:
    out, start = [], 0
    for size in sizes:
        out.append(order[start: start + size])
        start += size
    return out


def plan(n: int, key: str) -> tuple[list[list[int]], list[list[int]]]:
    """(chunks covering every input, chunks of the re-predicted sample), deterministic in `key`.
    The sample is regrouped: new order, new sizes, so its inputs meet other chunk-mates."""
    rng = random.Random(f"batch-check:{key}")
    order = list(range(n))
    rng.shuffle(order)
    chunks = split(order, chunk_sizes(n, rng))
    sample = rng.sample(range(n), min(RECHECK, n))
    rng.shuffle(sample)
    return chunks, split(sample, chunk_sizes(len(sample), rng))


def predict_chunk(predictor, texts: list, model) -> tuple[list[dict], tuple]:
    """What the contender side does with one chunk: predict it (nothing is judged there)."""
    predictions = predictor.predict(list(texts), model)
    if not all(hasattr(predictions, a) for a in ("labels", "classes", "to_rows")):
        raise FairfightError(f"predict(texts, model) must return fairfight.Predictions(labels, scores=None, "
                             f"classes=()), got {type(predictions).__name__}")
    if len(predictions.labels) != len(texts):
        raise FairfightError(f"the predictor gave {len(predictions.labels)} predictions for {len(texts)} inputs")
    return predictions.to_rows(), tuple(predictions.classes)


def _predict(predictor, texts, model, indices) -> tuple[list[dict], tuple]:
    return predict_chunk(predictor, [texts[i] for i in indices], model)


def chunk_texts(texts: list, key: str) -> tuple[list, list, list[list[str]]]:
    """(chunks, re-predicted chunks, the texts of each, in the order they are sent): the orchestrator's side."""
    chunks, recheck = plan(len(texts), key)
    return chunks, recheck, [[texts[i] for i in c] for c in chunks + recheck]


def assemble(n: int, chunks: list, recheck: list, outputs: list, task_classes=None) -> tuple[list[dict], list, dict]:
    """Judge a contender's chunk predictions where the contender cannot reach: the rows in input
    order, the classes, and the batch check (the same record predict_in_chunks makes).
    `task_classes`: the labels a prediction may be (the evaluation split's classes)."""
    if not isinstance(outputs, list) or len(outputs) != len(chunks) + len(recheck):
        raise FairfightError("the worker did not predict every chunk of the evaluation inputs it was sent")
    for output in outputs:
        _check_output(output)
    return _judge(n, chunks, recheck, outputs, task_classes)


def predict_in_chunks(predictor, texts: list, model, key: str, task_classes=None) -> tuple[list[dict], list, dict]:
    """(prediction rows in input order, classes, batch check {sampled, differing, chunks, tolerance})."""
    chunks, recheck = plan(len(texts), key)
    outputs = [_predict(predictor, texts, model, c) for c in chunks + recheck]
    for output in outputs:
        _check_output([list(output[0]), list(output[1])])
    return _judge(len(texts), chunks, recheck, outputs, task_classes)


def _kind(value) -> str | None:
    """The kind of plain label a value is (numpy's scalars count as their Python kind), else None."""
    import numbers

    if isinstance(value, str):
        return "str"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    return None


def _same_value(value, options) -> bool:
    """`value` is one of `options`, of the same kind (1.0 is not the class 1, "1" not 1)."""
    kind = _kind(value)
    return kind is not None and any(_kind(o) == kind and value == o for o in options)


def rows_problem(rows, classes, task_classes=None) -> str | None:
    """What is wrong with prediction rows, in words (None: nothing). Every label is a plain value and,
    where `task_classes` is given, one of them; scores, where given, are one finite number per class
    of the predictor's `classes` (plain, distinct values), for every row or none."""
    import math

    classes = list(classes or ())
    if not all(_kind(c) for c in classes) or len({(_kind(c), c) for c in classes}) != len(classes):
        return f"its classes must be distinct plain labels (strings or numbers), got {str(classes)[:200]}"
    with_scores = None
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "prediction" not in row or not set(row) <= {"prediction", "scores"}:
            return f"prediction {i} is not a row of a label and its scores"
        label = row["prediction"]
        if _kind(label) is None:
            return f"prediction {i} is a {type(label).__name__}, not a label (a string or a number)"
        if task_classes is not None and not _same_value(label, task_classes):
            return f"prediction {i} is {label!r}, not one of the classes {list(task_classes)}"
        scores = row.get("scores")
        if with_scores is None:
            with_scores = scores is not None
        if (scores is not None) != with_scores:
            return f"prediction {i} {'lacks' if with_scores else 'has'} scores where the others {'have' if with_scores else 'do not'}"
        if scores is None:
            continue
        if not isinstance(scores, dict) or len(scores) != len(classes) or not all(_same_value(k, classes) for k in scores):
            return f"prediction {i}'s scores are not one number per class of {classes}"
        for c, v in scores.items():
            if _kind(v) not in ("int", "float") or not math.isfinite(v):
                return f"prediction {i}'s score for {c!r} is {v!r}, not a finite number"
    return None


def _judge(n: int, chunks: list, recheck: list, outputs: list, task_classes=None) -> tuple[list[dict], list, dict]:
    """Rows in input order from the chunks' outputs, and the re-predicted sample compared with them.
    Every chunk's rows are checked first (rows_problem): a NaN score or a tensor for a label fails
    the run here, before any comparison could be fooled by it or raise."""
    for got, chunk_classes in outputs:
        problem = rows_problem(got, chunk_classes, task_classes)
        if problem:
            raise FairfightError(f"the predictor's output is invalid: {problem}")
    rows, classes = [None] * n, None
    for chunk, (got, chunk_classes) in zip(chunks, outputs):
        if len(got) != len(chunk):
            raise FairfightError(f"the predictor gave {len(got)} predictions for {len(chunk)} inputs")
        chunk_classes = tuple(chunk_classes)
        if classes is None:
            classes = chunk_classes
        elif chunk_classes != classes:
            raise FairfightError(f"the predictor's classes changed between chunks of the evaluation inputs: "
                                 f"{list(classes)}, then {list(chunk_classes)}")
        for i, row in zip(chunk, got):
            rows[i] = row
    differing = []
    for chunk, (got, _) in zip(recheck, outputs[len(chunks):]):
        if len(got) != len(chunk):
            raise FairfightError(f"the predictor gave {len(got)} predictions for {len(chunk)} inputs")
        differing += [i for i, row in zip(chunk, got) if differs(rows[i], row)]
    check = {"sampled": sum(len(c) for c in recheck), "differing": len(differing), "chunks": len(chunks),
             "tolerance": TOLERANCE, "examples": sorted(differing)[:10]}
    return rows, list(classes or ()), check


def _check_output(output) -> None:
    """A chunk's predictions as they came from the contender process: (rows, classes). What is in
    the rows is checked by rows_problem."""
    if not (isinstance(output, (list, tuple)) and len(output) == 2 and isinstance(output[0], list)
            and isinstance(output[1], (list, tuple))):
        raise FairfightError("the worker sent predictions that are not rows of a prediction and its scores")


def differs(first: dict, second: dict) -> bool:
    """Beyond float noise: a score moved more than TOLERANCE, or the label changed where the
    scores do not explain it as a near tie flipped by noise. Written so that a NaN (which no
    comparison calls different) counts as a difference: `not (x <= tolerance)`."""
    a, b = first.get("scores"), second.get("scores")
    if (a is None) != (b is None) or (a is not None and set(a) != set(b)):
        return True
    if a is not None and not all(abs(float(a[c]) - float(b[c])) <= TOLERANCE for c in a):
        return True
    if _kind(first["prediction"]) == _kind(second["prediction"]) and first["prediction"] == second["prediction"]:
        return False
    if a is None:
        return True
    tie = abs(float(a.get(first["prediction"], 0)) - float(a.get(second["prediction"], 0)))
    return not tie <= 2 * TOLERANCE


def describe(check: dict) -> str:
    return (f"{REASON}: {check['differing']} of {check['sampled']} evaluation inputs predicted again in "
            f"another composition changed (label, or a score by more than {check['tolerance']:g})")


def flag(record: dict) -> str | None:
    """The batch-dependence note of a run record (refused or kept), or None when it passed."""
    check = record.get("batch_check") or {}
    return describe(check) if check.get("differing") else None
