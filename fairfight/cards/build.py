"""`feature_cards(spec, sae=..., split=..., layer=...)`: read granted text through the model and
make the cards. Trusted side: run by a person (or their assistant) outside any fight, never by
a contender; it reads only what the spec's rules grant.

- the split must be granted in `rules.data` with its `text` column (never the evaluation split,
  nor a skyline split: the rules can grant neither);
- the SAE is a folder (SAELens or dictionary_learning layout), given by path or as the name of
  a knowledge artifact of the rules;
- the concept is a knowledge item of the rules (a word list, or a concept name such as gender
  whose built-in words are used), or a built-in concept name.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import FairfightError


def feature_cards(spec, *, sae, split: str, layer: int, concept: str | None = None, limit: int | None = None,
                  latents=None, cards: int = 100, top: int = 8, min_fires: int = 3, device: str | None = None,
                  progress=None):
    """FeatureCards for `sae` (a folder path or a knowledge name) on the granted texts of `split`.

    spec: a spec path or its IR. limit: read at most this many texts (the split's first, in its
    deterministic order). progress: a function of a line of text, for long reads.
    """
    from ..knowledge import concept_words
    from ..spec.check import load_spec
    from ..spec.ir import Spec

    say = progress or (lambda line: None)
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    folder, sae_label = _sae_folder(spec, sae)
    texts = _granted_texts(spec, split, limit)
    words, concept_name = None, None
    if concept is not None:
        words, concept_name = _concept(spec, concept, concept_words)
    from ..evaluator.model_side.hooks import resolve_layer
    from ..evaluator.model_side.ledger import Budget, Ledger
    from ..evaluator.model_side.model_handle import ModelHandle
    from ..evaluator.model_side.models import load_model
    from ..sae import load_sae

    sae_obj = load_sae(folder)
    m = spec.model
    say(f"loading the model {m.source}")
    loaded = load_model(m.source, revision=m.revision, kind=m.kind, dtype=m.dtype, base_dir=spec.base_dir,
                        device=device or spec.execution.device)
    if sae_obj.d_in != loaded.hidden_size:
        raise FairfightError(f"the SAE reads vectors of size {sae_obj.d_in}, but the model's hidden size is "
                             f"{loaded.hidden_size}")
    resolved = resolve_layer(int(layer), loaded.num_layers)
    handle = ModelHandle(loaded, frozenset({"activations"}), Ledger(Budget()), rule_source="fairfight features")
    say(f"reading {len(texts)} texts of split '{split}' at layer {resolved}")
    states = handle.activations(texts, layers=[resolved], pool="none", split=split)[resolved]
    token_texts = _token_texts(loaded, texts, [len(s) for s in states])
    total = sum(len(s) for s in states)
    say(f"encoding {total:,} tokens with the SAE ({sae_obj.d_sae:,} latents)")
    meta = {"sae": {"name": sae_label, "artifact_sha256": sae_obj.artifact_sha256, "weights_sha256": sae_obj.sha256,
                    "source": str(folder), "activation": sae_obj.activation, "k": sae_obj.k, "d_in": sae_obj.d_in,
                    "d_sae": sae_obj.d_sae},
            "model": m.source, "layer": resolved, "split": split}
    from .compute import compute_cards

    return compute_cards(sae_obj, states, token_texts, concept_words=words, concept_name=concept_name, top=top,
                         cards=cards, latents=latents, min_fires=min_fires, meta=meta)


def _sae_folder(spec, sae) -> tuple[Path, str]:
    item = spec.rules.knowledge.get(str(sae))
    if item is not None:
        if item.artifact is None or not Path(item.artifact).is_dir():
            raise FairfightError(f"knowledge '{sae}' is not an SAE folder (an artifact folder in rules.knowledge)")
        return Path(item.artifact), str(sae)
    folder = Path(sae)
    if not folder.is_dir():
        names = [n for n, k in spec.rules.knowledge.items() if k.artifact is not None and Path(k.artifact).is_dir()]
        raise FairfightError(f"--sae '{sae}' is neither an SAE folder nor a knowledge artifact of the rules"
                             + (f" (they hold {', '.join(sorted(names))})" if names else ""))
    return folder, str(folder)


def _granted_texts(spec, split: str, limit: int | None) -> list[str]:
    from ..data.splits import SplitLoader
    from ..spec.suggest import suggest

    granted = spec.rules.grant.data
    if split not in granted or "text" not in granted[split]:
        if split in spec.splits and split not in granted:
            why = (f"the rules do not grant split '{split}' (rules.data grants "
                   f"{', '.join(sorted(granted)) or 'no split'}): feature cards read granted text only")
        elif split in granted:
            why = f"the rules grant split '{split}' without its text column"
        else:
            why = f"unknown split '{split}'{suggest(split, list(spec.splits))}"
        raise FairfightError(why)
    texts = list(SplitLoader(spec).split(split).columns["text"])
    if limit is not None:
        texts = texts[:limit]
    if not texts:
        raise FairfightError(f"split '{split}' has no texts")
    return [str(t) for t in texts]


def _concept(spec, concept: str, concept_words):
    item = spec.rules.knowledge.get(concept)
    if item is not None:
        if item.artifact is not None:
            raise FairfightError(f"knowledge '{concept}' is an artifact, not a word list or a concept name")
        words = concept_words(item.value)
        return frozenset(w for ws in words.values() for w in ws), f"knowledge '{concept}' ({_short(item.value)})"
    words = concept_words(concept)  # a built-in concept name; FairfightError with suggestions otherwise
    return frozenset(w for ws in words.values() for w in ws), f"built-in concept '{concept}'"


def _short(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value[:6])) + (", …" if len(value) > 6 else "")
    return str(value)


def _token_texts(loaded, texts, lengths):
    """Each text's token spans and names, tokenized as the model handle tokenizes (same
    truncation); a mismatch with the states read is an error, never a silent misalignment."""
    from .compute import TokenText

    tok = loaded.tokenizer
    limits = [getattr(loaded.model.config, "max_position_embeddings", None), tok.model_max_length]
    limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
    max_len = min(limits) if limits else None
    fast = getattr(tok, "is_fast", False)
    enc = tok(texts, truncation=max_len is not None, max_length=max_len, return_offsets_mapping=fast)
    out = []
    for i, text in enumerate(texts):
        ids = enc["input_ids"][i]
        if len(ids) != lengths[i]:
            raise FairfightError(f"text {i}: the tokenizer gives {len(ids)} tokens but the model read {lengths[i]}")
        names = tuple(tok.convert_ids_to_tokens(ids))
        if fast:
            spans = tuple((int(a), int(b)) for a, b in enc["offset_mapping"][i])
        else:  # no offsets: locate each token's text in order (a best effort, said in the docs)
            spans = _locate(text, [tok.convert_tokens_to_string([n]).strip() for n in names])
        out.append(TokenText(text, spans, names))
    return out


def _locate(text, pieces):
    spans, at, low = [], 0, text.lower()
    for p in pieces:
        j = low.find(p.lower(), at) if p else -1
        if j < 0:
            spans.append((0, 0))
        else:
            spans.append((j, j + len(p)))
            at = j + len(p)
    return tuple(spans)


def print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


__all__ = ["feature_cards", "print_progress"]
