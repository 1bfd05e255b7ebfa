"""The reviews example's method, written on fairfight's public method API.

erase_genre: the granted knowledge is a list of words that name a genre ("scary", "hilarious",
...). Their activations, each word in the same neutral frame, vary mostly along the genre: the
top principal directions of those activations are projected out of the layer with an
`intervene` edit, and the probe is trained on the edited activations.
"""
from fairfight import method


@method
def erase_genre(ctx):
    import torch

    from fairfight import ProjectOut, concept_words

    layer, k = ctx.params["layer"], ctx.params["directions"]
    words = concept_words(ctx.knowledge["genre_words"])["words"]  # a word list comes back as {"words": (...)}
    frames = [f"a {word} movie" for word in words]
    acts = ctx.model.activations(frames, layers=[layer], pool="mean")[layer]
    _, _, vt = torch.linalg.svd(acts - acts.mean(0), full_matrices=False)
    edited = ctx.model.intervene([ProjectOut(layer, vt[:k])])
    train = ctx.data["ambiguous"]
    ctx.log(f"projected out {k} direction(s) of {len(words)} genre words at layer {layer}")
    return ctx.predictors.probe(edited, train.texts, train[ctx.task.target], layer=layer, seed=ctx.seed)
