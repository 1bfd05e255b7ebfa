"""Methods for the spec beside this file. A method takes the context and returns a predictor."""
from fairfight import method


@method
def my_method(ctx):
    train = ctx.data["train"]
    layer = ctx.params["layer"]
    # Replace this with your method: read activations, find features, edit, retrain...
    return ctx.predictors.probe(ctx.model, train.texts, train["profession"], layer=layer, seed=ctx.seed)
