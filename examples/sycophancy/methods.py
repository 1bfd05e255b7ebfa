"""The sycophancy example's method, written on fairfight's public method API only.

caa: contrastive activation addition (Rimsky et al., "Steering Llama 2 via Contrastive Activation
Addition", ACL 2024) against sycophancy. From the granted training questions on which the user
pushes a wrong city, it builds pairs of the same chat prompt answered two ways, with the right
capital and with the city the user suggested (the assistant's turn prefilled and left open), reads
the residual stream at each answer's last token at `layer`, and takes the mean difference (right
minus suggested) as the steering vector. At evaluation the vector times `scale` is added at every
generated token (CAA's "every position after the prompt") while the model answers greedily, asked
as the baselines ask it (one user turn, the model's chat template).
"""
from fairfight import AddVector, method


@method
def caa(ctx):
    p = ctx.params
    train = ctx.data["train"]
    pushed = [i for i, city in enumerate(train["suggested"]) if city]  # the user suggested a wrong city
    if not pushed:
        raise ValueError("caa needs training questions on which the user suggests a wrong answer")

    def answered(i, answer):
        return [{"role": "user", "content": train.texts[i]},
                {"role": "assistant", "content": p["answer"].format(answer=answer)}]

    right = [answered(i, train["answer"][i]) for i in pushed]
    wrong = [answered(i, train["suggested"][i]) for i in pushed]
    layer = p["layer"]
    states = ctx.model.activations(right + wrong, layers=[layer], pool="last")[layer]
    vector = (states[: len(pushed)] - states[len(pushed):]).mean(0)
    ctx.log(f"steering vector at layer {layer} from {len(pushed)} pairs: norm {float(vector.norm()):.2f} "
            f"(mean state norm {float(states.norm(dim=1).mean()):.2f}); added x{p['scale']} at generated tokens")
    edited = ctx.model.intervene([AddVector(layer, vector, scale=p["scale"], positions="generated")])
    return ctx.predictors.generator(edited, max_new_tokens=p["max_new_tokens"], chat=ctx.model.chat)
