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
