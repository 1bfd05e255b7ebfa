"""Generation tasks on the trusted side: check a contender's texts, score them with the rules' scorer.

A generation predictor's rows are {"prediction": TEXT}, one per prompt. They come from a contender
and are hostile: each must be a string of at most MAX_OUTPUT characters, exactly one per prompt,
or the run fails with the reason. The scorer (scorers.py) is loaded here, in the orchestrator, and
gives each text a score in [0, 1]; the per-example scores are written beside the texts in the
run's predictions.jsonl (by the orchestrator), and the verdicts resample them like accuracy's hits.
"""
from __future__ import annotations

from collections import defaultdict

from fairfight.errors import FairfightError
from fairfight.spec.vocabulary import metric_subset, subset_rows

from .scorers import MAX_SCORED, load_scorer, score_outputs

MAX_OUTPUT = MAX_SCORED  # characters of one generated text: a longer one fails its run (it would be cut)
GENERATION_METRICS = ("score",)


def texts_problem(rows, expected: int) -> str | None:
    """What is wrong with a generation predictor's rows, in words (None: nothing)."""
    if not isinstance(rows, list):
        return "it reported no predictions"
    if len(rows) != expected:
        return f"{len(rows)} predictions for {expected} evaluation prompts"
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != {"prediction"}:
            return f"prediction {i} is not a generated text alone (a generation predictor returns Generations(texts))"
        text = row["prediction"]
        if not isinstance(text, str):
            return f"prediction {i} is a {type(text).__name__}, not a generated text (a string)"
        if len(text) > MAX_OUTPUT:
            return f"prediction {i} has {len(text)} characters; a generated text has at most {MAX_OUTPUT}"
    return None


def group_means(values, keys) -> dict:
    """The mean of `values` per group key ('/'-joined), as group_accuracies gives accuracy per group."""
    sums, counts = defaultdict(float), defaultdict(int)
    for v, k in zip(values, keys):
        sums[k] += v
        counts[k] += 1
    return {k: sums[k] / counts[k] for k in counts}


class GenerationScoring:
    """The rules' scorer, loaded once per eval (or audit) in this trusted process."""

    def __init__(self, spec):
        self.text = spec.evaluate.scorer
        if not self.text:
            raise FairfightError("a generation task needs evaluate.scorer")
        self.fn = load_scorer(self.text, spec.base_dir)
        self.groups = list(spec.evaluate.groups)

    def reference_columns(self) -> list:
        from fairfight.spec.scorer_syntax import parse_scorer

        return list(parse_scorer(self.text).columns)

    def scores(self, texts: list, columns: dict) -> list[float]:
        """One score per text; `columns`: the rows' columns (the prompt as 'text', the references)."""
        n = len(texts)
        rows = [{c: values[i] for c, values in columns.items()} for i in range(n)]
        return score_outputs(self.fn, texts, rows, scorer=f"scorer {self.text}")

    def metrics(self, scores: list, columns: dict, metrics) -> dict:
        return self.summarise(scores, columns, self.groups, metrics)

    @staticmethod
    def summarise(scores: list, columns: dict, groups, metrics) -> dict:
        """{"score": the mean} (when listed), and with evaluate.groups, {"group_scores": the mean per
        group} (a run record keeps it beside its metrics, as results.json's schema says)."""
        from .scoring import group_keys

        out = {}
        for metric in metrics:
            subset = metric_subset(metric)
            if subset is not None and subset[0] in columns:  # score(COLUMN=VALUE): over those rows only
                kept = [s for s, keep in zip(scores, subset_rows(subset, columns)) if keep]
                out[metric] = sum(kept) / len(kept) if kept else float("nan")
            elif metric == "score":
                out["score"] = sum(scores) / len(scores) if scores else float("nan")
        if groups and all(g in columns for g in groups):
            keys = group_keys(columns, list(groups))
            out["group_scores"] = {"/".join(k): v for k, v in sorted(group_means(scores, keys).items())}
        return out


__all__ = ["MAX_OUTPUT", "GENERATION_METRICS", "texts_problem", "group_means", "GenerationScoring"]
