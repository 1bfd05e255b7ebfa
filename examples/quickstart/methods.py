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
    """SHIFT (Marks et al., ICLR 2025), with retraining: train a TopK SAE on MiniLM's token
    activations of unlabeled text, pick the latents that track gender using only the granted
    knowledge that gender is the spurious concept, ablate them (keeping the SAE's error, as
    SHIFT does), and retrain the probe on the edited activations.

    The SAE trains on the text of `generic` and `ambiguous` (no labels). The gender latents
    are those whose activation drops most when the concept's words are deleted from the
    ambiguous texts: an automatic stand-in for SHIFT's human reading of features (a spec that
    grants a human's feature-selection artifact could use that instead).
    """
    import torch

    from fairfight import AblateFeatures, concept_words
    from fairfight.sae import train_topk

    p = ctx.params
    layer, probe_layer = p["layer"], p.get("probe_layer", p["layer"])
    train = ctx.data["ambiguous"]
    texts, labels = train.texts, train["profession"]
    # read per split: the ambiguous texts' states at `layer` are the cache entry the edited passes resume from
    tokens = torch.cat([t for split in (ctx.data["generic"].texts, texts)
                        for t in ctx.model.activations(split, layers=[layer], pool="none")[layer]])
    gen = torch.Generator().manual_seed(int(ctx.seed))
    tokens = tokens[torch.randperm(len(tokens), generator=gen)[: p.get("max_tokens", 30000)]]
    sae = train_topk(tokens, width=p.get("width", 4) * tokens.shape[1], k=p.get("sae_k", 32), seed=ctx.seed,
                     epochs=p.get("epochs", 3))

    words = {w for ws in concept_words(ctx.knowledge["spurious_concept"]).values() for w in ws}
    probe = [t for t in texts if _mentions(t, words)][: p.get("select_texts", 500)]
    before = ctx.model.features(probe, sae, layer=layer)
    after = ctx.model.features([_delete(t, words) for t in probe], sae, layer=layer)
    drop = (before - after).mean(0)  # how much of each latent the concept's words account for
    features = drop.topk(p["features"]).indices
    edited = ctx.model.intervene([AblateFeatures(layer, sae, features, mode="zero", keep_error=True)])
    ctx.log(f"{sae!r}; ablating {len(features)} latents at layer {layer} (largest drops "
            f"{[round(float(v), 3) for v in drop[features][:5]]}), probe at layer {probe_layer}")
    return ctx.predictors.probe(edited, texts, labels, layer=probe_layer, seed=ctx.seed)


def _delete(text, words):
    kept = [w for w in text.split() if w.strip(".,;:!?\"'()").lower() not in words]
    return " ".join(kept)


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
