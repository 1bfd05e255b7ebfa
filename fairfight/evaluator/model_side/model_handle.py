"""The model handle a contender receives: only its granted operations, each one counted.

The raw model and tokenizer live in name-mangled attributes and are never returned; every
operation checks the grant, charges the ledger, and only then computes (see
docs/model-handle.md for the operations and their conventions).
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math

import numpy as np
import torch
from torch import nn

from fairfight.errors import AffordanceError, FairfightError
from fairfight.evaluator.model_side import generation, passes
from fairfight.evaluator.model_side.devices import BatchSizer
from fairfight.evaluator.model_side.edits import edit_from_dict, edit_vectors, random_direction
from fairfight.evaluator.model_side.classifier_head import ClassifierHead
from fairfight.evaluator.model_side.continuations import continuation_logprobs
from fairfight.evaluator.model_side.hooks import InputCapture, install_edits, resolve_layer
from fairfight.evaluator.model_side.ledger import Ledger
from fairfight.evaluator.model_side.prompts import check_prompts, prompt_key, render as render_prompts, turn_prefix
from fairfight.evaluator.model_side.run_memo import RunMemo
from fairfight.evaluator.model_side.models import LoadedModel

OPERATIONS = ("generate", "logprobs", "embed", "activations", "intervene", "gradients", "weights", "finetune")
POOLS = ("mean", "last", "none")


def _texts(inputs, what: str = "texts") -> list[str]:
    if hasattr(inputs, "texts"):
        inputs = inputs.texts
    if isinstance(inputs, (str, bytes)):
        raise FairfightError(f"{what} must be a list of strings, not a single string")
    items = list(inputs)
    bad = next((x for x in items if not isinstance(x, str)), None)
    if bad is not None:
        raise FairfightError(f"{what} must be strings, got {type(bad).__name__}")
    return items


def _pool(h: torch.Tensor, mask: torch.Tensor, pool: str):
    """Pool right-padded states [b, T, d] with their attention mask."""
    if pool == "mean":
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1)
    lengths = mask.sum(1)
    if pool == "last":
        return h[torch.arange(h.shape[0], device=h.device), lengths - 1]
    return [h[i, : int(n)] for i, n in enumerate(lengths)]


class ModelHandle:
    def __init__(self, loaded: LoadedModel, grant: frozenset[str], ledger: Ledger, *,
                 rule_source: str = "uses.model", batch_size: int = 32, edits=(), device: str | None = None,
                 _head: ClassifierHead | None = None, forward_cache=None, rules=frozenset(),
                 _sizer: BatchSizer | None = None, redirect_seed: int | None = None, _shown=None,
                 _memo: RunMemo | None = None):
        """`redirect_seed`: the random_direction control's (the run's seed): every AddVector this handle
        and those derived from it are given is replaced by a random vector of the same norm at the same
        place (edits.random_direction) before anything runs with it; `edits` still shows the ones given."""
        grant = frozenset(grant)
        unknown = sorted(grant - set(OPERATIONS))
        if unknown:
            raise FairfightError(f"unknown model operation(s) {unknown}; known: {', '.join(OPERATIONS)}")
        if batch_size < 1:
            raise FairfightError("batch_size must be at least 1")
        device = loaded.device if device is None else device  # default: where load_model placed it
        self.__loaded = loaded
        self.__model = loaded.model.to(device)
        self.__tok = loaded.tokenizer
        self.__grant = grant
        self.__ledger = ledger
        self.__rule_source = rule_source
        self.__batch_size = int(batch_size)
        self.__sizer = _sizer or BatchSizer(batch_size)  # shared with derived handles: halved on out-of-memory
        self.__device = device
        self.__edits = tuple(self._check_edit(e) for e in edits)  # what runs (ledger, cache keys, hooks)
        self.__redirect = redirect_seed
        self.__shown = self.__edits if _shown is None else tuple(_shown)  # what the contender gave
        # what the run's generate and logprobs computed, shared by every handle derived from its first (run_memo.py)
        self.__memo = _memo if _memo is not None else RunMemo()
        self.__head = _head
        self.__cache = forward_cache  # shared pooled passes (see forward_cache.py); None: compute
        self.__rules = frozenset(rules)  # what the rules allow: to tell an author what to declare
        limits = [getattr(loaded.model.config, "max_position_embeddings", None), self.__tok.model_max_length]
        limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
        self.__max_len = min(limits) if limits else None

    # -- public, harmless facts ------------------------------------------------------------
    kind = property(lambda self: self.__loaded.kind)
    num_layers = property(lambda self: self.__loaded.num_layers)
    hidden_size = property(lambda self: self.__loaded.hidden_size)
    # whether chat prompts can be rendered (the tokenizer has a chat template): prompts.py
    chat = property(lambda self: bool(getattr(self.__tok, "chat_template", None)))
    grant = property(lambda self: self.__grant)
    edits = property(lambda self: self.__shown)
    head = property(lambda self: self.__head)

    def __repr__(self):
        ops = ", ".join(o for o in OPERATIONS if o in self.__grant)
        return (f"ModelHandle(kind={self.kind!r}, num_layers={self.num_layers}, "
                f"hidden_size={self.hidden_size}, grant=[{ops}], edits={len(self.__edits)})")

    # -- operations -------------------------------------------------------------------------
    def embed(self, texts, *, split=None) -> torch.Tensor:
        texts = self._start("embed", texts, split)
        n = self.num_layers
        return self._pooled("embed", texts, [n], "mean")[n]

    def activations(self, texts, *, layers, pool="mean", split=None) -> dict:
        self._gate("activations", split or "inputs")  # a refusal comes before any argument error
        if pool not in POOLS:
            raise FairfightError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
        layers = [layers] if isinstance(layers, int) else list(layers)
        if not layers:
            raise FairfightError("activations needs at least one layer")
        resolved = [resolve_layer(int(x), self.num_layers) for x in layers]
        texts = self._start("activations", texts, split, layers=resolved)
        if pool != "none":
            pooled = self._pooled("activations", texts, sorted(set(resolved)), pool)
            return {lay: pooled[r] for lay, r in zip(layers, resolved)}
        if not self.__edits:  # plain token-level states: the shared cache's entry per layer
            states = {r: passes.plain_token_states(self._runner("activations"), self.__cache, texts, r)
                      for r in sorted(set(resolved))}
            return {lay: [torch.from_numpy(np.array(states[r][0][a:b])) for a, b in zip(states[r][1], states[r][1][1:])]
                    for lay, r in zip(layers, resolved)}
        rows = self._map("activations", texts, lambda enc, cap: {
            lay: _pool(cap[r], enc["attention_mask"], pool) for lay, r in zip(layers, resolved)}, resolved)
        return {lay: [r[lay] for r in rows] for lay in layers}

    def features(self, texts, sae, *, layer, pool="mean", split=None):
        """SAE latents of the states at `layer` (an `activations` read): [n, d_sae] pooled over each
        text's tokens (mean, max, sum or last), pool="none": a list of [tokens, d_sae], or
        pool="sparse": a list of (indices, values) [tokens, m] per text (pooling.sparse_latents)."""
        from fairfight.sae.model import registered
        from fairfight.sae.pooling import POOLS, pooled_latents

        self._gate("activations", split or "inputs")
        if pool not in POOLS:
            raise FairfightError(f"features pool must be one of {', '.join(POOLS)}, got {pool!r}")
        sae = registered(sae) if isinstance(sae, str) else sae
        if not hasattr(sae, "encode") or getattr(sae, "d_in", None) != self.hidden_size:
            raise FairfightError(f"features needs an SAE reading vectors of size {self.hidden_size} (the model's "
                                 f"hidden size), got {sae!r}")
        resolved = resolve_layer(int(layer), self.num_layers)
        texts = self._start("activations", texts, split, layers=[resolved])
        if self.__edits:  # edited states: token-level from the edited model (no shared plain entry)
            rows = self._map("activations", texts, lambda enc, cap: _pool(cap[resolved], enc["attention_mask"],
                                                                          "none"), [resolved])
            flat = torch.cat(rows).numpy() if rows else torch.zeros((0, self.hidden_size)).numpy()
            offsets = [0] + list(itertools.accumulate(len(r) for r in rows))
        else:
            flat, offsets = passes.plain_token_states(self._runner("activations"), self.__cache, texts, resolved)
        return pooled_latents(sae, flat, offsets, pool)

    def tokens(self, texts, *, split=None) -> list[dict]:
        """How the model reads each text: {"tokens": [str], "offsets": [(start, end)], "special":
        [bool]} per text, one item per token position of the token-level reads (activations with
        pool="none", features): `text[start:end]` is the token's span of the text without the
        spaces around it ((0, 0) for a special token such as [CLS]), so a method finds a word's
        tokens whatever the tokenizer (WordPiece "##" pieces, GPT-2's "Ġ" spaces). Needs `activations`; a ledger entry of its own
        ("tokens", no model examples: the model does not run)."""
        self._gate("activations", split or "inputs")
        texts = _texts(texts)
        self.__ledger.charge("tokens", split or "inputs", 0, texts=texts)
        if not texts:
            return []
        if not getattr(self.__tok, "is_fast", False):
            raise FairfightError("tokens needs a fast (Rust) tokenizer: this model's tokenizer gives no offsets")
        enc = self.__tok(texts, truncation=self.__max_len is not None, max_length=self.__max_len,
                         return_offsets_mapping=True, return_special_tokens_mask=True)
        return [{"tokens": self.__tok.convert_ids_to_tokens(ids), "offsets": [_trim(text, *o) for o in offs],
                 "special": [bool(m) for m in mask]}
                for text, ids, offs, mask in zip(texts, enc["input_ids"], enc["offset_mapping"],
                                                 enc["special_tokens_mask"])]

    def train_sae(self, texts, *, layer, width, k, steps=None, batch_size=None, lr=None, seed=0,
                  max_tokens=None, max_seconds=None, split=None):
        """A TopK SAE (fairfight.sae.train_topk) trained here, on the model side, on the plain
        token-level states of `texts` at `layer` (at most `max_tokens` of them, drawn with `seed`).
        Deterministic, so the forward cache keeps it: a run with the same model, texts, layer and
        parameters reads the stored SAE instead of training (sae_cache.py). Needs `activations`;
        the ledger records the states read ("activations") and the training ("train_sae", its
        steps, whether it was reused). Returns the SAE, with `.training` (its history)."""
        from fairfight.sae.train import DEFAULT_BATCH, DEFAULT_STEPS, train_topk

        self._gate("activations", split or "inputs")
        if self.__edits:
            raise FairfightError("train_sae trains on the plain model's states: call it on ctx.model, not on an "
                                 "intervene view")
        resolved = resolve_layer(int(layer), self.num_layers)
        params = {"width": _positive(width, "width"), "k": _positive(k, "k"),
                  "steps": _positive(DEFAULT_STEPS if steps is None else steps, "steps"),
                  "batch_size": _positive(DEFAULT_BATCH if batch_size is None else batch_size, "batch_size"),
                  "lr": None if lr is None else float(lr), "seed": int(seed),
                  "max_tokens": None if max_tokens is None else _positive(max_tokens, "max_tokens"),
                  "max_seconds": None if max_seconds is None else float(max_seconds)}
        texts = self._start("activations", texts, split, layers=[resolved])
        cache = self.__cache or passes.Uncached()
        threads = getattr(cache, "pass_threads", None) or torch.get_num_threads()
        key = {**params, "threads": int(threads), "trainer": TRAINER_VERSION}
        stored = cache.stored_sae(texts, resolved, key)
        self.__ledger.charge("train_sae", split or "inputs", 0, layers=[resolved], steps=params["steps"],
                             note="reused" if stored is not None else "trained")
        if stored is not None:
            return stored

        # the states first, outside the SAE's cache entry: their own entry takes the machine's pass lock too
        flat, _ = passes.plain_token_states(self._runner("activations"), self.__cache, texts, resolved)

        def compute():
            rows = torch.from_numpy(np.array(flat, dtype=np.float32))
            if params["max_tokens"] and len(rows) > params["max_tokens"]:
                gen = torch.Generator().manual_seed(params["seed"])
                rows = rows[torch.randperm(len(rows), generator=gen)[: params["max_tokens"]]]
            return train_topk(rows, width=params["width"], k=params["k"], seed=params["seed"], steps=params["steps"],
                              batch_size=params["batch_size"], lr=params["lr"], max_seconds=params["max_seconds"])

        return cache.sae(texts, resolved, key, compute)[0]

    def _runner(self, op) -> passes.Runner:
        return passes.Runner(self.__model, self._encode, self._lengths, self.__sizer.each,
                             lambda: self.__ledger.check_time(op), _pool, self.num_layers, self.hidden_size,
                             self._no_cache())

    def _pooled(self, op, texts, layers, pool) -> dict:
        """resolved layer -> [n, d]: shared, resumed and stopped early where possible (passes.py)."""
        return passes.pooled(self._runner(op), self.__cache, texts, layers, pool, self.__edits)

    def intervene(self, edits) -> ModelHandle:
        self._gate("intervene", "inputs")
        edits = [edits] if not isinstance(edits, (list, tuple)) else list(edits)
        given = tuple(self._check_edit(e) for e in edits)
        new = given if self.__redirect is None else tuple(random_direction(e, self.__redirect) for e in given)
        self.__ledger.charge("intervene", "inputs", 0, layers=sorted({e.layer for e in new}),
                             edits=[e.to_dict() for e in new])  # the ledger records what runs
        return self._derive(edits=self.__edits + new, _shown=self.__shown + given)

    def gradients(self, texts, objective, *, wrt="hidden", layer=None, pool="mean", split=None):
        self._gate("gradients", split or "inputs")
        if wrt not in ("hidden", "inputs"):
            raise FairfightError(f"wrt must be 'hidden' or 'inputs', got {wrt!r}")
        if pool not in ("mean", "none"):
            raise FairfightError(f"gradients pool must be 'mean' or 'none', got {pool!r}")
        target = resolve_layer(self.num_layers if layer is None else int(layer), self.num_layers)
        texts = self._start("gradients", texts, split, layers=[target] if wrt == "hidden" else ())
        all_layers = list(range(self.num_layers + 1))

        def step(enc, cap, index):
            out = self.__model(**enc, **self._no_cache())
            outputs = {"hidden_states": [cap[i] for i in all_layers], "last_hidden_state": cap[self.num_layers],
                       "attention_mask": enc["attention_mask"], "input_ids": enc["input_ids"], "index": index}
            if self.kind == "causal":
                outputs["logits"] = out.logits
            value = objective(outputs)
            if not isinstance(value, torch.Tensor):
                raise FairfightError("the gradients objective must return a tensor")
            value = value.sum() if value.ndim else value  # per-example values: their sum
            wrt_tensor = cap["inputs"] if wrt == "inputs" else cap[target]
            g = torch.autograd.grad(value, wrt_tensor, allow_unused=True)[0] if value.requires_grad else None
            g = torch.zeros_like(wrt_tensor) if g is None else g  # the objective ignores it: zero
            return _pool(g, enc["attention_mask"], pool)

        out = self._map("gradients", texts, step, all_layers, mode="grad")
        return out if pool == "none" else self._stack(out, texts)

    def weights(self) -> dict[str, torch.Tensor]:
        self._start("weights", [], None)
        return {k: p.detach().float().cpu().clone().requires_grad_(False) for k, p in self.__model.named_parameters()}

    def finetune(self, texts, labels, *, steps=None, epochs=1, lr=2e-5, head="linear", split=None,
                 seed=0, lora=None) -> ModelHandle:
        """head="linear": the model and a linear head trained on (text, label) pairs (a classifier).
        head="lm" (causal LMs): the model trained to write each label (an answer) after its text (a
        prompt, or chat messages rendered with the model's template); `lora=R` trains rank-R LoRA
        adapters (merged afterwards) instead of every weight (lm_tuning.py)."""
        self._gate("finetune", split or "inputs")
        if head == "lm":
            return self._finetune_lm(texts, labels, steps=steps, epochs=epochs, lr=lr, split=split, seed=seed,
                                     lora=lora)
        if lora is not None:
            raise FairfightError("finetune: lora= applies to head='lm' (a causal LM trained on answers)")
        texts, labels = _texts(texts), list(labels)
        if len(texts) != len(labels) or not texts:
            raise FairfightError(f"finetune needs one label per text ({len(texts)} texts, {len(labels)} labels)")
        if head != "linear":
            raise FairfightError(f"finetune head must be 'linear' or 'lm', got {head!r}")
        classes = _classes(labels)
        if len(classes) < 2:
            raise FairfightError("finetune needs at least two distinct labels")
        y = torch.tensor([classes.index(v) for v in labels], device=self.__device)
        bs = min(self.__batch_size, len(texts))  # training keeps its batch size on OOM: halving would change what is trained
        total = int(steps) if steps is not None else int(epochs) * math.ceil(len(texts) / bs)
        if total < 1:
            raise FairfightError(f"finetune needs at least one step (steps={steps}, epochs={epochs})")
        gen = torch.Generator().manual_seed(int(seed))
        schedule, order = [], []
        while len(schedule) < total:  # shuffled epochs, cut at `total` steps
            if not order:
                order = torch.randperm(len(texts), generator=gen).tolist()
            schedule.append(order[:bs])
            order = order[bs:]
        self.__ledger.charge("finetune", split or "inputs", sum(map(len, schedule)),
                             edits=[e.to_dict() for e in self.__edits], steps=total)
        tuned = copy.deepcopy(self.__model)
        n = self.num_layers
        # seeded inside a forked RNG: reproducible, and the caller's RNG state is left alone
        with torch.random.fork_rng(devices=[] if str(self.__device) == "cpu" else None):
            torch.manual_seed(int(seed))
            linear = nn.Linear(self.hidden_size, len(classes)).to(self.__device, next(tuned.parameters()).dtype)
            opt = torch.optim.AdamW(list(tuned.parameters()) + list(linear.parameters()), lr=lr)
            tuned.train()
            for batch in schedule:
                self.__ledger.check_time("finetune")
                enc = self._encode([texts[i] for i in batch])
                with install_edits(tuned, self.__edits, capture={}, capture_layers=[n]) as cap:
                    tuned.base_model(**enc, **self._no_cache())
                    loss = nn.functional.cross_entropy(linear(_pool(cap[n], enc["attention_mask"], "mean")),
                                                       y[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
        tuned.eval()
        linear = linear.eval().requires_grad_(False).to("cpu", torch.float32)  # embed() returns CPU float32
        identity = {**self.__loaded.identity, "finetuned": {"steps": total, "lr": lr, "seed": seed}}
        loaded = dataclasses.replace(self.__loaded, model=tuned, identity=identity)
        return ModelHandle(loaded, self.__grant, self.__ledger, rule_source=self.__rule_source,
                           batch_size=self.__batch_size, edits=self.__edits, device=self.__device,
                           _head=ClassifierHead(linear, classes), redirect_seed=self.__redirect,
                           _shown=self.__shown, _memo=self.__memo)

    def _finetune_lm(self, prompts, answers, *, steps, epochs, lr, split, seed, lora) -> ModelHandle:
        from fairfight.evaluator.model_side import lm_tuning

        self._require_causal("finetune(head='lm')")
        asked, answers = check_prompts(prompts), [str(a) for a in _texts(answers, "answers")]
        if len(asked) != len(answers) or not asked:
            raise FairfightError(f"finetune needs one answer per prompt ({len(asked)} prompts, {len(answers)} answers)")
        if lora is not None and (isinstance(lora, bool) or not isinstance(lora, int) or lora < 1):
            raise FairfightError(f"finetune: lora must be a rank (an integer >= 1) or None, got {lora!r}")
        rendered, templated = render_prompts(self.__tok, asked)
        seqs = lm_tuning.sequences(self.__tok, rendered, templated, answers, self.__max_len)
        schedule = self._schedule(len(seqs), steps, epochs, seed)
        self.__ledger.charge("finetune", split or "inputs", sum(map(len, schedule)),
                             edits=[e.to_dict() for e in self.__edits], steps=len(schedule))
        tuned = copy.deepcopy(self.__model)
        pad = self.__tok.pad_token_id if self.__tok.pad_token_id is not None else self.__tok.eos_token_id
        with install_edits(tuned, self.__edits):  # trained through the handle's edits, as `linear` is
            tuned = lm_tuning.tune(tuned, seqs, schedule, lr=float(lr), seed=int(seed), lora=lora, pad_id=pad,
                                   device=self.__device, check_time=lambda: self.__ledger.check_time("finetune"))
        identity = {**self.__loaded.identity,
                    "finetuned": {"steps": len(schedule), "lr": lr, "seed": seed, "head": "lm", "lora": lora}}
        loaded = dataclasses.replace(self.__loaded, model=tuned, identity=identity)
        return ModelHandle(loaded, self.__grant, self.__ledger, rule_source=self.__rule_source,
                           batch_size=self.__batch_size, edits=self.__edits, device=self.__device,
                           redirect_seed=self.__redirect, _shown=self.__shown, _memo=self.__memo)

    def _schedule(self, n: int, steps, epochs, seed) -> list[list[int]]:
        """Batches of indices: shuffled epochs (seeded), cut at `steps` (default: whole epochs)."""
        bs = min(self.__batch_size, n)
        total = int(steps) if steps is not None else int(epochs) * math.ceil(n / bs)
        if total < 1:
            raise FairfightError(f"finetune needs at least one step (steps={steps}, epochs={epochs})")
        gen = torch.Generator().manual_seed(int(seed))
        schedule, order = [], []
        while len(schedule) < total:
            if not order:
                order = torch.randperm(n, generator=gen).tolist()
            schedule.append(order[:bs])
            order = order[bs:]
        return schedule

    def generate(self, prompts, *, max_new_tokens=20, split=None) -> list[str]:
        """Greedy continuations of texts or chat prompts (rendered with the model's template: prompts.py),
        batch-invariant: a prompt's text never depends on the others (generation.py)."""
        self._gate("generate", split or "inputs")
        self._require_causal("generate")
        asked = check_prompts(prompts)
        texts, templated = render_prompts(self.__tok, asked)
        new_tokens = generation.check_max_new_tokens(max_new_tokens)
        prompts = self._start("generate", texts, split, causal=True, keys=[prompt_key(p) for p in asked],
                              new_tokens=new_tokens)
        ids = self.__tok(prompts, add_special_tokens=not templated)["input_ids"] if prompts else []
        splits = [turn_prefix(self.__tok, p, i) for p, i in zip(asked, ids)] if templated else None
        with torch.no_grad(), install_edits(self.__model, self.__edits):
            return generation.greedy(self.__model, self.__tok, ids, new_tokens, device=self.__device,
                                     max_len=self.__max_len, before_each=lambda: self.__ledger.check_time("generate"),
                                     memo=self.__memo, edits=self.__edits, splits=splits)

    def logprobs(self, prompts, continuations, *, split=None) -> torch.Tensor:
        self._gate("logprobs", split or "inputs")
        self._require_causal("logprobs")
        asked = check_prompts(prompts)
        prompts, templated = render_prompts(self.__tok, asked)
        conts = _texts(continuations, "continuations")
        if len(prompts) != len(conts):
            raise FairfightError(f"logprobs needs one continuation per prompt ({len(prompts)} vs {len(conts)})")
        tok = self.__tok
        p_ids = tok(prompts, add_special_tokens=not templated)["input_ids"] if prompts else []
        c_ids = tok(conts, add_special_tokens=False)["input_ids"] if conts else []
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        if any(not p for p in p_ids) and start is None:
            raise FairfightError("an empty prompt needs a bos or eos token to condition on")
        seqs, starts = [], []
        for p, c in zip(p_ids, c_ids):
            p = list(p) or [start]
            seq = (p + list(c))[-self.__max_len:] if self.__max_len else p + list(c)
            seqs.append(seq)
            starts.append(len(seq) - len(c))
        self.__ledger.charge("logprobs", split or "inputs", len(prompts), edits=self._edit_dicts(),
                             texts=[prompt_key(p) for p in asked])
        result = torch.zeros(len(seqs))
        # asked before in this run (the batch check's second composition): the value computed then
        edits_key = RunMemo.edits_key(self.__edits)
        keys = [RunMemo.key("logprobs", edits_key, seq, start) for seq, start in zip(seqs, starts)]
        todo = []
        for i, key in enumerate(keys):
            known = self.__memo.get(self.__model, key)
            if known is None:
                todo.append(i)
            else:
                result[i] = known

        def step(batch):
            self.__ledger.check_time("logprobs")
            width = max(len(seqs[i]) for i in batch)
            ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, : len(seqs[i])] = torch.tensor(seqs[i])
                mask[row, : len(seqs[i])] = 1
            spans = [(max(starts[i], 1), len(seqs[i])) for i in batch]  # token t is scored by position t - 1
            for i, value in zip(batch, continuation_logprobs(self.__model, ids, mask, spans, self.__device)):
                result[i] = value
                self.__memo.put(self.__model, keys[i], float(value))

        with torch.no_grad(), install_edits(self.__model, self.__edits):
            self.__sizer.each([len(seqs[i]) for i in todo], lambda batch: step([todo[j] for j in batch]))
        return result

    # -- machinery ----------------------------------------------------------------------------
    def _gate(self, op: str, split: str) -> None:
        if op not in self.__grant:
            allowed = ", ".join(o for o in OPERATIONS if o in self.__grant) or "nothing"
            reason = f"operation '{op}' is not granted: {self.__rule_source} allows {allowed}"
            if op in self.__rules:
                reason += f" (the rules allow '{op}': declare it in {self.__rule_source} to use it)"
            self.__ledger.refuse(op, reason, split=split)
            raise AffordanceError(reason)

    def _require_causal(self, op: str) -> None:
        if self.kind != "causal":
            raise FairfightError(f"'{op}' needs a causal language model; this model is an {self.kind}")

    def _start(self, op, texts, split, layers=(), causal=False, keys=None, new_tokens=None) -> list[str]:
        """Grant check, input check, then the ledger charge: all before any computation. `keys`: what
        the ledger compares with the evaluation inputs (generate: the prompts' keys, prompts.py)."""
        split = split or "inputs"
        self._gate(op, split)
        if causal:
            self._require_causal(op)
        if op in ("embed", "activations"):
            texts = self._rendered_reads(texts)
        texts = _texts(texts, "prompts" if op == "generate" else "texts")
        self.__ledger.charge(op, split, len(texts), layers=layers, edits=self._edit_dicts(),
                             texts=texts if keys is None else keys, new_tokens=new_tokens)
        return texts

    def _rendered_reads(self, texts):
        """Chat prompts given to a read (embed, activations, features) are rendered with the model's
        template, as generate renders them (an assistant turn last: left open, so the state at its last
        token is the answer's), and read as that text: a method reads the states of the very text the
        model answers. Texts pass unchanged. The tokenizer's own start token is not added twice."""
        if hasattr(texts, "texts"):
            texts = texts.texts
        if isinstance(texts, (str, bytes)) or not isinstance(texts, (list, tuple)) \
                or not any(isinstance(t, (list, tuple)) for t in texts):
            return texts
        rendered, _ = render_prompts(self.__tok, check_prompts(texts, "texts"), "texts")
        bos = getattr(self.__tok, "bos_token", None)
        adds_bos = bos is not None and self.__tok("x")["input_ids"][:1] == [self.__tok.bos_token_id]
        return [t[len(bos):] if adds_bos and t.startswith(bos) else t for t in rendered]

    def _edit_dicts(self):
        return [e.to_dict() for e in self.__edits]

    def _check_edit(self, e):
        e = edit_from_dict(e) if isinstance(e, dict) else e
        if not hasattr(e, "apply") or not hasattr(e, "to_dict"):
            raise FairfightError(f"not an edit: {e!r} (use ProjectOut, Ablate, AddVector or AblateFeatures)")
        resolve_layer(e.layer, self.num_layers)
        if hasattr(e, "check_model"):  # AblateFeatures: its SAE must be loaded and fit the model
            e.check_model(self.hidden_size)
        for v in edit_vectors(e):
            if len(v) != self.hidden_size:
                raise FairfightError(f"{type(e).__name__} at layer {e.layer}: vector of length {len(v)}, "
                                     f"but the model's hidden size is {self.hidden_size}")
        return e

    def _derive(self, **changes) -> ModelHandle:
        kw = dict(rule_source=self.__rule_source, batch_size=self.__batch_size, edits=self.__edits,
                  device=self.__device, _head=self.__head, forward_cache=self.__cache, rules=self.__rules,
                  _sizer=self.__sizer, redirect_seed=self.__redirect, _shown=self.__shown, _memo=self.__memo)
        kw.update(changes)
        return ModelHandle(self.__loaded, self.__grant, self.__ledger, **kw)

    def _encode(self, texts, side="right"):
        enc = self.__tok(texts, padding=True, truncation=self.__max_len is not None, max_length=self.__max_len,
                         return_tensors="pt", padding_side=side)
        keep = ("input_ids", "attention_mask") if self.kind == "causal" else tuple(enc.keys())
        return {k: enc[k].to(self.__device) for k in keep}

    def _lengths(self, texts) -> list[int]:
        return [len(x) for x in self.__tok(texts, truncation=self.__max_len is not None,
                                           max_length=self.__max_len)["input_ids"]] if texts else []

    def _map(self, op, texts, fn, capture_layers, *, mode="base") -> list:
        """Run `fn` over length-sorted batches and return its per-example rows in input order.

        mode "base": a no-grad forward of the base model (no LM head), then fn(enc, captured);
        "generate": fn(enc, captured) drives the model itself; "grad": fn(enc, captured, index)
        with autograd on and the input embeddings captured.
        """
        results = [None] * len(texts)

        def step(batch):  # backs off on out-of-memory (devices.BatchSizer.each); rows land in input order
            self.__ledger.check_time(op)
            enc = self._encode([texts[i] for i in batch], "left" if mode == "generate" else "right")
            cap: dict = {}
            with install_edits(self.__model, self.__edits, capture=cap, capture_layers=capture_layers):
                if mode == "grad":
                    with torch.enable_grad(), InputCapture(self.__model, cap):
                        out = fn(enc, cap, torch.tensor(batch))
                else:
                    with torch.no_grad():
                        if mode == "base":
                            self.__model.base_model(**enc, **self._no_cache())
                        out = fn(enc, cap)
            for row, i in enumerate(batch):
                results[i] = _detach(out[row] if not isinstance(out, dict) else {k: v[row] for k, v in out.items()})

        self.__sizer.each(self._lengths(texts), step)
        return results

    def _no_cache(self) -> dict:
        return {"use_cache": False} if self.kind == "causal" else {}

    def _stack(self, rows, texts) -> torch.Tensor:
        return torch.stack(rows) if rows else torch.zeros((0, self.hidden_size))


TRAINER_VERSION = 1  # part of a stored SAE's key: bump when train_topk's arithmetic changes


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """A token's span without surrounding whitespace (byte-level BPEs put a word's space in its token)."""
    start, end = int(start), int(end)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FairfightError(f"train_sae: {what} must be a positive int, got {value!r}")
    return int(value)


def _detach(x):
    if isinstance(x, dict):
        return {k: _detach(v) for k, v in x.items()}
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu()
    return x


def _classes(labels) -> list:
    unique = list(dict.fromkeys(labels))
    try:
        return sorted(unique)
    except TypeError:
        return unique


__all__ = ["OPERATIONS", "ModelHandle", "ClassifierHead"]
