"""The quickstart's example method, written on fairfight's public method API.

erase_gender: find the gender direction(s) in the model's activations using only unlabeled
text and the granted knowledge that gender is the spurious concept, project them out with an
`intervene` edit, and train the probe on the edited activations.
"""
from fairfight import method


@method
def erase_gender(ctx):
    import torch

    from fairfight import ProjectOut, concept_words

    layer, k = ctx.params["layer"], ctx.params["directions"]
    words = concept_words(ctx.knowledge["spurious_concept"])  # e.g. {"female": [...], "male": [...]}
    generic = ctx.data["generic"].texts
    female = [t for t in generic if _mentions(t, words["female"])]
    male = [t for t in generic if _mentions(t, words["male"])]
    acts = ctx.model.activations(female + male, layers=[layer], pool="mean")[layer]
    f, m = acts[: len(female)], acts[len(female):]
    # The mean difference is the main gender direction; the top principal directions of the
    # centred pair differences add the rest of the gender subspace.
    centred = torch.cat([f - f.mean(0), m - m.mean(0)])
    _, _, vt = torch.linalg.svd(centred, full_matrices=False)
    directions = torch.cat([(f.mean(0) - m.mean(0))[None], vt[: max(0, k - 1)]])
    edited = ctx.model.intervene([ProjectOut(layer, directions)])
    train = ctx.data["ambiguous"]
    ctx.log(f"projected out {len(directions)} direction(s) at layer {layer}")
    return ctx.predictors.probe(edited, train.texts, train["profession"], layer=layer, seed=ctx.seed)


def _mentions(text, words):
    tokens = {w.strip(".,;:!?\"'()").lower() for w in text.split()}
    return any(w in tokens for w in words)


@method
def shift(ctx):
    """SHIFT with retraining (Marks et al., ICLR 2025), following the paper's recipe:

    1. a TopK SAE on the model's token states at `layer` of the unlabeled text (`generic` and
       `ambiguous`, no labels): `width`x the hidden size, `sae_k` active latents, `steps` Adam
       steps of `batch` states drawn from at most `tokens` of them; trained on the model side
       (ctx.model.train_sae), so a run with the same inputs and seed reuses it;
    2. the latents that track the spurious concept, chosen at the TOKEN level from the granted
       concept words alone (an automatic stand-in for SHIFT's human reading of features): on the
       ambiguous texts, a latent's lift is how much more often it fires on the concept words'
       tokens than on other tokens, and its share is the part of its activation mass that sits
       on them; the `features` latents with the highest lift among those firing on at least
       `min_count` concept tokens with a share of at least `min_share` are ablated (when none
       qualifies, as on text whose concept words were deleted, nothing is: the plain probe);
    3. ablation sets them to 0 and keeps the SAE's error (SHIFT's convention);
    4. the probe is retrained on the edited model's pooled output embedding (`embed`: the same
       readout finetune_head, ERM, uses), on the ambiguous split.
    Every parameter is in the spec (fixed before looking at evaluation results). Two diagnostic
    switches (default off): `selection: random` ablates as many random latents, `retrain: false`
    keeps the plain model's probe (SHIFT without retraining).
    """
    import torch

    from fairfight import AblateFeatures, concept_words

    p = ctx.params
    layer = p["layer"]
    train = ctx.data["ambiguous"]
    texts, labels = train.texts, train[ctx.task.target]
    sae = ctx.model.train_sae(ctx.data["generic"].texts + texts, layer=layer, width=p["width"] * ctx.model.hidden_size,
                              k=p["sae_k"], steps=p["steps"], batch_size=p["batch"], max_tokens=p["tokens"],
                              seed=ctx.seed)
    t = sae.training
    ctx.log(f"SAE at layer {layer}: {sae.d_sae} latents, k={sae.k}, {t['steps']} steps of {t['batch_size']} "
            f"(of {t['inputs']} token states) in {t['seconds']:.0f} s, training FVE {t['fve']}, "
            f"{t['dead']} dead latents" + (f"; {t['stopped']}" if t["stopped"] else ""))

    words = {w for ws in concept_words(ctx.knowledge["spurious_concept"]).values() for w in ws}
    # which tokens are the concept's words (by character offsets: any tokenizer), and each token's latents
    on_word = [torch.tensor(_concept_tokens(text, item, words), dtype=torch.bool)
               for text, item in zip(texts, ctx.model.tokens(texts))]
    fired = ctx.model.features(texts, sae, layer=layer, pool="sparse")
    lift, share, count, n_concept, n_other = _token_scores(sae.d_sae, on_word, fired)
    ok = (count >= p["min_count"]) & (share >= p["min_share"])
    ranked = torch.where(ok, lift, torch.full_like(lift, -1.0)).argsort(descending=True)
    features = ranked[: min(p["features"], int(ok.sum()))]
    if p.get("selection", "token") == "random":  # diagnostic: as many latents, drawn at random
        features = torch.randperm(sae.d_sae, generator=torch.Generator().manual_seed(ctx.seed))[: p["features"]]
    if len(features) == 0:  # e.g. training text whose concept words were deleted: nothing to select from
        ctx.log(f"{n_concept} concept-word tokens: no latent qualifies (>= {p['min_count']} concept tokens, share >= "
                f"{p['min_share']}), so nothing is ablated; the probe is trained on the unedited model")
        return ctx.predictors.probe(ctx.model, texts, labels, seed=ctx.seed)
    edit = AblateFeatures(layer, sae, features.tolist(), mode="zero", keep_error=True)
    edited = ctx.model.intervene([edit])
    ctx.log(f"{n_concept} concept-word tokens, {n_other} other tokens; {int(ok.sum())} latents qualify "
            f"(>= {p['min_count']} concept tokens, share >= {p['min_share']}); ablating {len(features)} at layer "
            f"{layer} (lift {[round(float(lift[f]), 1) for f in features[:5]]}..., share "
            f"{[round(float(share[f]), 2) for f in features[:5]]}...)")
    if not p.get("retrain", True):  # diagnostic: the plain model's probe, applied to the edited model
        ctx.log("probe trained on the plain model's pooled output embedding, applied to the edited model "
                "(retrain: false)")
        head = ctx.predictors.linear(ctx.model.embed(texts), labels, seed=ctx.seed)
        return ctx.predictors.function(lambda batch, model: head.predict(model.intervene([edit]).embed(batch)).labels)
    ctx.log("probe retrained on the edited model's pooled output embedding")
    return ctx.predictors.probe(edited, texts, labels, seed=ctx.seed)


def _concept_tokens(text, item, words):
    """Per token of `item` (ctx.model.tokens): whether it lies inside one of `words` in `text`."""
    import re

    spans = [m.span() for m in re.finditer(r"[A-Za-z]+", text) if m.group().lower() in words]
    return [not special and end > start and any(a <= start and end <= b for a, b in spans)
            for (start, end), special in zip(item["offsets"], item["special"])]


def _token_scores(d_sae, on_word, fired):
    """Per latent: lift (firing rate on concept tokens / on other tokens), share (of its activation
    mass on concept tokens), count (concept tokens it fires on), and the two token counts."""
    import torch

    hits = torch.zeros(2, d_sae)  # [other, concept] tokens each latent fires on
    mass = torch.zeros(2, d_sae)
    tokens = torch.zeros(2)
    for mask, (idx, val) in zip(on_word, fired):
        group = mask.long()[:, None].expand_as(idx)
        active = val > 0
        hits.index_put_((group[active], idx[active]), torch.ones(int(active.sum())), accumulate=True)
        mass.index_put_((group[active], idx[active]), val[active].float(), accumulate=True)
        tokens += torch.bincount(mask.long(), minlength=2)
    rate = hits / tokens.clamp(min=1)[:, None]
    lift = rate[1] / (rate[0] + 1.0 / tokens[0].clamp(min=1))  # one firing of pseudo-count keeps it finite
    share = mass[1] / mass.sum(0).clamp(min=1e-12)
    return lift, share, hits[1], int(tokens[1]), int(tokens[0])


@method
def shift_human(ctx):
    """SHIFT with its human step (Marks et al., ICLR 2025): a reader went through the feature cards
    of a pre-trained SAE (`fairfight features`) and kept the latents about the spurious concept;
    that choice is granted knowledge (a selection.json naming the SAE folder's hash, the layer and
    the latents, who chose and why), and so is the SAE. Ablate the chosen latents at their layer
    (zero, keeping the SAE's reconstruction error, as SHIFT does) and retrain a linear head on the
    edited model's pooled output readout, the features finetune_head trains on.

    params: sae, selection (the knowledge names; default gender_sae, gender_latents), l2 (the
    head's L2 penalty, finetune_head's default 1e-3).
    """
    from fairfight import AblateFeatures, FairfightError
    from fairfight.selection import parse_selection

    p = ctx.params
    sae = ctx.knowledge[p.get("sae", "gender_sae")]
    chosen = parse_selection(ctx.knowledge[p.get("selection", "gender_latents")], where="the granted selection")
    if chosen.sae_sha256 != sae.artifact_sha256:  # validate checks this too; a method must not trust a pairing
        raise FairfightError(f"the selection was made for the SAE {chosen.sae_sha256[:12]}..., not for the granted "
                             f"one ({sae.artifact_sha256})")
    edited = ctx.model.intervene([AblateFeatures(chosen.layer, sae, list(chosen.latents), mode="zero",
                                                 keep_error=True)])
    train = ctx.data["ambiguous"]
    ctx.log(f"{sae!r}; ablating {len(chosen.latents)} latents at layer {chosen.layer} chosen by {chosen.chosen_by} "
            f"({chosen.why}); head on the pooled output readout")
    return ctx.predictors.probe(edited, train.texts, train["profession"], layer=None, l2=p.get("l2", 1e-3),
                                seed=ctx.seed)
