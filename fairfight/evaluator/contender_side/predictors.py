"""Predictors: what a contender returns, and what the evaluator applies to evaluation inputs.

The protocol is one method, `predict(texts, model) -> Predictions`, where `model` is the run's
own granted handle: a predictor can do at evaluation time only what its contender could do.
`ctx.predictors` builds the standard ones. In a generation task (`evaluate.kind: generation`) the
inputs are prompts and a predictor returns `Generations`: one generated text per prompt (a
prediction row's "prediction" is then that text, scored by the rules' scorer on the trusted side).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import FairfightError


@dataclass(frozen=True)
class Predictions:
    labels: tuple  # one predicted label per input
    scores: tuple | None = None  # per input, a probability per class (in `classes` order)
    classes: tuple = ()

    def to_rows(self) -> list[dict]:
        rows = []
        for i, label in enumerate(self.labels):
            row = {"prediction": label}
            if self.scores is not None:
                row["scores"] = dict(zip(self.classes, self.scores[i]))
            rows.append(row)
        return rows


@dataclass(frozen=True)
class Generations:
    """What a generation task's predictor returns: one text per prompt, in the prompts' order. It
    has the shape of Predictions (labels are the texts, no scores, no classes), so predictions travel
    and are checked the same way; the orchestrator then requires each to be a string."""

    texts: tuple

    @property
    def labels(self) -> tuple:
        return self.texts

    scores = None
    classes = ()

    def to_rows(self) -> list[dict]:
        return [{"prediction": text} for text in self.texts]


def _classes(labels) -> tuple:
    classes = tuple(sorted(set(labels), key=str))
    if len(classes) < 2:
        raise FairfightError(f"a classifier needs at least two classes in its training labels, got {list(classes)}")
    return classes


def fit_linear(features, labels, *, seed: int, l2: float = 1e-3, iterations: int = 100):
    """Multinomial logistic regression on standardised features (full-batch L-BFGS: deterministic)."""
    import torch

    classes = _classes(labels)
    index = {c: i for i, c in enumerate(classes)}
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.tensor([index[v] for v in labels])
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    x = (x - mean) / std
    gen = torch.Generator().manual_seed(seed)
    linear = torch.nn.Linear(x.shape[1], len(classes))
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=gen) * 0.01)
        linear.bias.zero_()
    opt = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), y) + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LinearHead(classes, mean.detach(), std.detach(), linear.weight.detach().clone(), linear.bias.detach().clone())


@dataclass(frozen=True)
class LinearHead:
    classes: tuple
    mean: object
    std: object
    weight: object
    bias: object

    def predict(self, features) -> Predictions:
        import torch

        x = (torch.as_tensor(features, dtype=torch.float32) - self.mean) / self.std
        probs = torch.softmax(x @ self.weight.T + self.bias, dim=-1)
        labels = tuple(self.classes[i] for i in probs.argmax(-1).tolist())
        return Predictions(labels, tuple(tuple(round(p, 6) for p in row) for row in probs.tolist()), self.classes)


@dataclass(frozen=True)
class ProbePredictor:
    """A linear head on the pooled output (`layer=None`, via `embed`) or on a layer's activations,
    read through the same edits the contender trained with."""

    head: LinearHead
    layer: int | None
    edits: tuple = ()

    def predict(self, texts, model) -> Predictions:
        if self.edits:
            model = model.intervene(list(self.edits))
        return self.head.predict(features(model, texts, self.layer, split="evaluation"))


@dataclass(frozen=True)
class ConstantPredictor:
    label: object

    def predict(self, texts, model) -> Predictions:
        return Predictions(tuple(self.label for _ in texts))


@dataclass(frozen=True)
class FunctionPredictor:
    """Wraps `fn(texts, model) -> labels` for predictors that need nothing standard."""

    fn: object

    def predict(self, texts, model) -> Predictions:
        return Predictions(tuple(self.fn(list(texts), model)))


def choice_output(model, prompt, options) -> str:
    """The output of a choice task for one prompt: {option: log-probability of it after the prompt} as
    JSON. One call per prompt, its options alone in it: the numbers never depend on the other prompts
    of a chunk (the batch check compares outputs exactly)."""
    import json

    scores = model.logprobs([prompt] * len(options), list(options), split="evaluation")
    return json.dumps({o: round(float(v), 6) for o, v in zip(options, scores.tolist())}, ensure_ascii=False)


def features(model, texts, layer, split=None):
    if layer is None:
        return model.embed(texts, split=split)
    return model.activations(texts, layers=[layer], pool="mean", split=split)[layer]


class Predictors:
    """ctx.predictors: standard predictor builders bound to a context."""

    def __init__(self, ctx):
        self._ctx = ctx

    def probe(self, model, texts, labels, *, layer=None, seed=None, l2=1e-3, split=None) -> ProbePredictor:
        """Train a linear probe on `model`'s features (its edits included) and return it."""
        labels = list(labels)
        if len(labels) != len(texts):
            raise FairfightError(f"probe: {len(texts)} texts but {len(labels)} labels")
        x = features(model, texts, layer, split=split)
        head = fit_linear(x, labels, seed=self._ctx.seed if seed is None else seed, l2=l2)
        return ProbePredictor(head, layer, tuple(model.edits))

    def linear(self, features, labels, *, seed=None, l2=1e-3) -> LinearHead:
        """A linear head (multinomial logistic regression on standardised features) fit on any
        features a method computed; `head.predict(features)` gives Predictions."""
        labels = list(labels)
        if len(labels) != len(features):
            raise FairfightError(f"linear: {len(features)} feature rows but {len(labels)} labels")
        return fit_linear(features, labels, seed=self._ctx.seed if seed is None else seed, l2=l2)

    def constant(self, label) -> ConstantPredictor:
        return ConstantPredictor(label)

    def function(self, fn) -> FunctionPredictor:
        return FunctionPredictor(fn)

    def generator(self, model=None, *, system: str | None = None, template: str = "{text}",
                  demonstrations=(), max_new_tokens: int = 32, options=None, chat: bool = False) -> "GeneratorPredictor":
        """Generation tasks: a predictor that answers each prompt with `model.generate` (greedy, on
        the model server), through `model`'s edits (default: ctx.model, no edits). `template` wraps
        each prompt (`{text}` is the prompt). With a `system` instruction or `demonstrations`
        ((prompt, answer) pairs shown as earlier turns), the prompt becomes chat messages rendered
        with the model's own chat template (the model needs one: `ctx.model.chat`); `chat=True` asks
        a text prompt as one user turn even without them (as an instruction-tuned model is used; the
        built-in baselines do so whenever the model has a chat template).

        Choice tasks (scorer `choice(...)`): with `options` (a list of at least two texts), each
        prompt is answered instead with the log-probability of each option as the continuation of
        the prompt as asked (`model.logprobs`, the same edits), written as a JSON object
        {option: log-probability}: the output the choice scorer reads."""
        if "{text}" not in template:
            raise FairfightError("a generator's template needs the placeholder {text}")
        if system is not None and not isinstance(system, str):
            raise FairfightError(f"system must be a string, got {type(system).__name__}")
        shots = []
        for i, pair in enumerate(demonstrations):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                raise FairfightError(f"demonstrations[{i}] must be a (prompt, answer) pair of strings")
            shots.append((pair[0], pair[1]))
        if options is not None:
            options = tuple(options)
            if len(options) < 2 or not all(isinstance(o, str) and o for o in options) or len(set(options)) != len(options):
                raise FairfightError("options must be at least two different, non-empty texts")
        model = self._ctx.model if model is None else model
        return GeneratorPredictor(template, system, tuple(shots), int(max_new_tokens), tuple(model.edits), options,
                                  bool(chat))

    def prompt(self, template: str, verbalisations: dict) -> "PromptPredictor":
        """Causal LMs: score each label's verbalisation after `template` (with `{text}`) by log-probability."""
        if "{text}" not in template:
            raise FairfightError("a prompt template needs the placeholder {text}")
        return PromptPredictor(template, tuple(verbalisations.items()))


@dataclass(frozen=True)
class PromptPredictor:
    template: str
    verbalisations: tuple  # (label, continuation) pairs

    def predict(self, texts, model) -> Predictions:
        import torch

        prompts = [self.template.replace("{text}", t) for t in texts]
        scores = torch.stack([model.logprobs(prompts, [cont] * len(prompts), split="evaluation")
                              for _, cont in self.verbalisations], dim=1)
        probs = torch.softmax(scores, dim=1)
        classes = tuple(label for label, _ in self.verbalisations)
        labels = tuple(classes[i] for i in probs.argmax(1).tolist())
        return Predictions(labels, tuple(tuple(round(p, 6) for p in row) for row in probs.tolist()), classes)


@dataclass(frozen=True)
class GeneratorPredictor:
    """Answers each prompt with greedy `generate` through the edits it was built with (decoding on the
    trusted side is batch-invariant, so an answer never depends on its chunk-mates)."""

    template: str
    system: str | None
    demonstrations: tuple  # (prompt, answer) pairs
    max_new_tokens: int
    edits: tuple = ()
    options: tuple | None = None  # a choice task's options: log-probabilities instead of generated texts
    chat: bool = False  # a text prompt asked as one user turn (the model's chat template) even alone

    def prompt_of(self, text):
        """The prompt the model is asked: a text, or chat messages with a system turn or demonstrations.
        An input that is itself a chat prompt (a generation task's evaluation split may hold them)
        keeps its messages, after the system turn and the demonstrations; the template wraps the
        content of its user turns."""
        chat = not isinstance(text, str)
        if chat:
            asked = [dict(t, content=self.template.replace("{text}", t["content"])) if t.get("role") == "user"
                     else dict(t) for t in text]
        else:
            asked = self.template.replace("{text}", text)
        if self.system is None and not self.demonstrations:
            return [{"role": "user", "content": asked}] if self.chat and not chat else asked
        turns = [{"role": "system", "content": self.system}] if self.system is not None else []
        for prompt, answer in self.demonstrations:
            turns += [{"role": "user", "content": self.template.replace("{text}", prompt)},
                      {"role": "assistant", "content": answer}]
        return turns + (asked if chat else [{"role": "user", "content": asked}])

    def predict(self, texts, model) -> Generations:
        if self.edits:
            model = model.intervene(list(self.edits))
        prompts = [self.prompt_of(t) for t in texts]
        if not prompts:
            return Generations(())
        if self.options is not None:
            return Generations(tuple(choice_output(model, p, self.options) for p in prompts))
        return Generations(tuple(model.generate(prompts, max_new_tokens=self.max_new_tokens, split="evaluation")))
