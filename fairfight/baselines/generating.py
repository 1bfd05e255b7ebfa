"""Baselines of generation tasks (evaluate.kind: generation), on the public method API only: the
model as it is, the model told what to do, and the model shown demonstrations. They are the
baselines a steering or editing method must beat ("make the model more honest": instruct it to be,
show it examples, fine-tune it on them), and they answer with the same greedy `generate` as every method; in a choice
task (scorer choice(COLUMN, options=[...])) with the log-probabilities of the options instead.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .. import method


@method
def no_edit(ctx):
    """The model as it is: each prompt (through `template`) answered by greedy generation, asked as one
    user turn when the model has a chat template (as instruct, few_shot_prompt and finetune_lora ask it:
    the baselines differ in what they add, not in how they ask)."""
    template, new_tokens = ctx.params["template"], int(ctx.params["max_new_tokens"])
    return ctx.predictors.generator(template=template, max_new_tokens=new_tokens, options=_options(ctx.params.get("options")),
                                    chat=bool(ctx.model.chat))


@method
def instruct(ctx):
    """The instruction as a system turn (rendered with the model's chat template), or, for a model
    without one, as a paragraph before each prompt."""
    template, new_tokens = ctx.params["template"], int(ctx.params["max_new_tokens"])
    instruction, options = str(ctx.params["instruction"]), _options(ctx.params.get("options"))
    if ctx.model.chat:
        return ctx.predictors.generator(system=instruction, template=template, max_new_tokens=new_tokens,
                                        options=options)
    return ctx.predictors.generator(template=f"{instruction}\n\n{template}", max_new_tokens=new_tokens,
                                    options=options)


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
        return ctx.predictors.generator(template=template, demonstrations=shots, max_new_tokens=new_tokens,
                                        options=_options(ctx.params.get("options")))
    prefix = "".join(f"{template.replace('{text}', p)} {a}\n\n" for p, a in shots)
    return ctx.predictors.generator(template=prefix + template, max_new_tokens=new_tokens, options=_options(ctx.params.get("options")))


def _options(options):
    """A choice task's options (params.options, set by the plan from the scorer): log-probabilities
    over them are the output; None: texts are generated."""
    return list(options) if options else None


@method
def finetune_lora(ctx):
    """The model fine-tuned on the granted (prompt, answer) demonstrations, on the model server: LoRA
    adapters of rank `rank` (0: every weight, for small models), the answer's tokens' loss after the
    prompt asked as the other baselines ask it (through `template`; as a user turn with a chat
    template, the answer as the assistant's turn; else the answer after a space). The tuned model
    then answers like no_edit (or gives the options' log-probabilities in a choice task)."""
    template, new_tokens = ctx.params["template"], int(ctx.params["max_new_tokens"])
    split = ctx.data[ctx.params["split"]]
    chat = bool(ctx.model.chat)
    prompts = [_asked(template, p, chat) for p in split.texts]
    answers = [str(a) if chat else " " + str(a) for a in split[ctx.params["answer"]]]
    rank = int(ctx.params["rank"])
    tuned = ctx.model.finetune(prompts, answers, head="lm", lora=rank or None, epochs=int(ctx.params["epochs"]),
                               steps=ctx.params.get("steps"), lr=float(ctx.params["lr"]), seed=ctx.seed)
    return ctx.predictors.function(TunedAnswers(tuned, template, chat, new_tokens, _options(ctx.params.get("options"))))


def _asked(template: str, prompt, chat: bool):
    """A prompt as finetune_lora asks it: a text through the template, or one user turn with it (a chat
    prompt of the data keeps its turns, the template wrapping the user turns' content)."""
    if not isinstance(prompt, str):
        return [dict(t, content=template.replace("{text}", t["content"])) if t["role"] == "user" else dict(t)
                for t in prompt]
    text = template.replace("{text}", prompt)
    return [{"role": "user", "content": text}] if chat else text


@dataclass(frozen=True)
class TunedAnswers:
    """finetune_lora's predictor: the tuned handle (on the model server) answers each prompt."""

    tuned: object
    template: str
    chat: bool
    max_new_tokens: int
    options: list | None = None

    def __call__(self, prompts, model):
        from .. import choice_output

        asked = [_asked(self.template, p, self.chat) for p in prompts]
        if self.options:
            return [choice_output(self.tuned, p, self.options) for p in asked]
        return list(self.tuned.generate(asked, max_new_tokens=self.max_new_tokens, split="evaluation"))
