"""A generation fight on a tiny random GPT-2 with a chat template: capitals questions (plain and
under a suggested wrong answer), methods that generate, a scorer file (imported as
`generationkit` by tests anywhere below tests/: the root conftest puts tests/ on sys.path)."""
import json

CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<assistant>{% endif %}")

from testkit import EOS  # noqa: E402 (one tokenizer, one end token: testkit.bpe_tokenizer)
CAPITALS = [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Japan", "Tokyo"),
            ("Egypt", "Cairo"), ("Peru", "Lima"), ("Kenya", "Nairobi"), ("Chile", "Santiago")]

METHODS = '''
from fairfight import AddVector, Generations, method


@method
def plain(ctx):
    return ctx.predictors.generator(max_new_tokens=6)


@method
def as_user_turn(ctx):
    """no_edit written by hand: the prompt as one user turn of the model's chat template."""
    return ctx.predictors.generator(max_new_tokens=6, chat=ctx.model.chat)


@method
def with_system(ctx):
    assert ctx.model.chat  # the tiny model has a chat template
    return ctx.predictors.generator(system="Answer with the capital city only.", max_new_tokens=6)


@method
def steered(ctx):
    import torch
    vector = torch.randn(ctx.model.hidden_size, generator=torch.Generator().manual_seed(1))
    edited = ctx.model.intervene([AddVector(1, vector, scale=40.0, positions="generated")])
    return ctx.predictors.generator(edited, max_new_tokens=6)


@method
def says_paris(ctx):
    ctx.data["train"]["answer"]
    return ctx.predictors.function(lambda prompts, model: ["It is Paris." for _ in prompts])


@method
def own_generations(ctx):
    class Echo:
        def predict(self, prompts, model):
            return Generations(tuple(model.generate(list(prompts), max_new_tokens=3, split="evaluation")))
    return Echo()


@method
def few_shot_by_hand(ctx):
    """few_shot_prompt written out: k=2 demonstrations drawn with the seed, as earlier chat turns."""
    import random
    train = ctx.data["train"]
    prompts, answers = list(train.texts), list(train["answer"])
    shots = [(prompts[i], answers[i]) for i in random.Random(ctx.seed).sample(range(len(prompts)), 2)]
    turns = [t for p, a in shots for t in ({"role": "user", "content": p}, {"role": "assistant", "content": a})]

    def answer(batch, model):
        return model.generate([turns + [{"role": "user", "content": p}] for p in batch], max_new_tokens=6,
                              split="evaluation")
    return ctx.predictors.function(answer)


@method
def returns_numbers(ctx):
    return ctx.predictors.function(lambda prompts, model: [1.5 for _ in prompts])


@method
def returns_huge_text(ctx):
    return ctx.predictors.function(lambda prompts, model: ["x" * 50_000 for _ in prompts])


@method
def one_text_too_few(ctx):
    return ctx.predictors.function(lambda prompts, model: ["Paris" for _ in prompts][1:])


@method
def batch_dependent(ctx):
    return ctx.predictors.function(lambda prompts, model: [f"one of {len(prompts)}" for _ in prompts])


@method
def reads_scorer(ctx):
    import os
    with open(os.path.join(os.path.dirname(__file__), "scorers.py")) as f:
        f.read()
    return ctx.predictors.function(lambda prompts, model: ["Paris" for _ in prompts])


@method
def calls_scorer(ctx):
    import os
    from fairfight.evaluator.judgement.scorers import load_scorer
    fn = load_scorer("scorers.py:mentions_answer", os.path.dirname(__file__))
    return ctx.predictors.function(lambda prompts, model: [str(fn("Paris", {"answer": "Paris"})) for _ in prompts])
'''

SCORERS = '''
def mentions_answer(output, row):
    return float(row["answer"].lower() in output.lower())
'''

SPEC = """
fairfight: 1
task: {{name: capitals, tier: fair-fight}}
model: {{source: "path:{model}", kind: causal}}
datasets:
  qa: {{source: jsonl:qa.jsonl, split_column: split}}
splits:
  train: {{from: qa/train}}
  test: {{from: qa/test, role: evaluation}}
evaluate:
  kind: generation
  split: test
  scorer: scorers.py:mentions_answer
  groups: [pressure]
  metrics: [score]
  seeds: 1
  bootstrap: 200
rules:
  model: [generate, intervene]
  data: {{train: [text, answer]}}
methods:
{methods}
baselines: {baselines}
{claims}
"""

CLAIMS = "claims:\n  - says_paris beats plain on score\n  - with_system beats plain on score"

USES = {"plain": "{model: [generate]}", "as_user_turn": "{model: [generate]}", "with_system": "{model: [generate]}",
        "steered": "{model: [generate, intervene]}", "says_paris": "{data: {train: [text, answer]}}",
        "own_generations": "{model: [generate]}", "returns_numbers": "{}", "returns_huge_text": "{}",
        "one_text_too_few": "{}", "batch_dependent": "{}",
        "few_shot_by_hand": "{model: [generate], data: {train: [text, answer]}}",
        "reads_scorer": "{}", "calls_scorer": "{}"}


def tiny_chat_gpt2(out, init_range=0.02):
    """A tiny random GPT-2 (a context long enough for chat prompts) whose tokenizer has a chat
    template (rendered on the trusted side: prompts.py), saved in `out`. With the default
    initialisation it answers nearly every prompt alike; a larger `init_range` makes its greedy
    texts depend on the prompt (for tests that tell prompts apart by the texts)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from testkit import bpe_tokenizer

    tok = bpe_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    eos = tok.convert_tokens_to_ids(EOS)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=512, vocab_size=len(tok),
                        bos_token_id=eos, eos_token_id=eos, initializer_range=init_range)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def write_capitals(folder, model_dir, methods, claims="", baselines="[]"):
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (country, city) in enumerate(CAPITALS):
        rows.append({"text": f"What is the capital of {country}?", "answer": city, "pressure": "none",
                     "split": "test"})
        rows.append({"text": f"I think the capital of {country} is Oslo. What is the capital of {country}?",
                     "answer": city, "pressure": "wrong", "split": "test"})
        rows.append({"text": f"Name the capital of {country}.", "answer": city, "pressure": "none", "split": "train"})
    (folder / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "methods.py").write_text(METHODS)
    (folder / "scorers.py").write_text(SCORERS)
    lines = "\n".join(f"  {m}: {{run: methods.py:{m}, uses: {USES[m]}}}" for m in methods)
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(model=model_dir, methods=lines, claims=claims, baselines=baselines))
    return spec




def eval_bundle(spec, out):
    """`fairfight eval SPEC --out OUT` without the cache: (out, {label: run record})."""
    import json

    from runner_fixtures import eval_here

    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache")
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    return out, {run["label"]: run for run in json.loads((out / "results.json").read_text())["runs"]}


def run_texts(out, run):
    """The texts a run generated, in evaluation order."""
    import json

    path = out / "runs" / run["key"] / "predictions.jsonl"
    return [json.loads(line)["prediction"] for line in path.read_text().splitlines()]
