"""Baselines of generation tasks (evaluate.kind: generation), on the public method API only: the
model as it is, the model told what to do, and the model shown demonstrations. They are the
baselines a steering or editing method must beat ("make the model more honest": instruct it to be,
show it examples), and they answer with the same greedy `generate` as every method.
"""
from __future__ import annotations

import random

from .. import method


@method
def no_edit(ctx):
    """The model as it is: each prompt (through `template`) answered by greedy generation."""
    template, new_tokens = ctx.params["template"], int(ctx.params["max_new_tokens"])
    return ctx.predictors.generator(template=template, max_new_tokens=new_tokens)


@method
def instruct(ctx):
    """The instruction as a system turn (rendered with the model's chat template), or, for a model
    without one, as a paragraph before each prompt."""
    template, new_tokens = ctx.params["template"], int(ctx.params["max_new_tokens"])
    instruction = str(ctx.params["instruction"])
    if ctx.model.chat:
        return ctx.predictors.generator(system=instruction, template=template, max_new_tokens=new_tokens)
    return ctx.predictors.generator(template=f"{instruction}\n\n{template}", max_new_tokens=new_tokens)


@method
def few_shot_prompt(ctx):
    """k (prompt, answer) demonstrations from the granted split, drawn with the run's seed, shown
    before each prompt: as earlier user/assistant turns with a chat template, else as text
    (PROMPT ANSWER, blank line, ...) before the prompt."""
    template, new_tokens = ctx.params["template"], int(ctx.params["max_new_tokens"])
    split = ctx.data[ctx.params["split"]]
    prompts, answers = list(split.texts), [str(a) for a in split[ctx.params["answer"]]]
    k = min(int(ctx.params["k"]), len(prompts))
    shots = [(prompts[i], answers[i]) for i in random.Random(ctx.seed).sample(range(len(prompts)), k)]
    if ctx.model.chat:
        return ctx.predictors.generator(template=template, demonstrations=shots, max_new_tokens=new_tokens)
    prefix = "".join(f"{template.replace('{text}', p)} {a}\n\n" for p, a in shots)
    return ctx.predictors.generator(template=prefix + template, max_new_tokens=new_tokens)
