"""Families in the spec language: member expansion (grid, zip, labels), each member a full spec whose
errors point at the axis value that made them, the worker's view of one member, ranged claims."""
from pathlib import Path

from fairfight.spec.check import check_file, check_text

SPECS = Path(__file__).resolve().parents[1] / "specs"
GRID = SPECS / "valid" / "family-grid.yaml"


def test_a_grid_expands_to_every_combination_in_axis_order():
    report = check_file(GRID)
    assert report.ok and report.spec is None
    names = [m.name for m, _ in report.family]
    assert names == ["cue=1.0,confound=0.8", "cue=1.0,confound=0.95", "cue=0.0,confound=0.8", "cue=0.0,confound=0.95"]
    for member, r in report.family:
        spec = r.spec
        assert spec.member == member
        options = spec.datasets["bios"].options
        assert (options["lexical_share"], options["confound"]) == (member.values["cue"], member.values["confound"])
    hashes = {r.spec.spec_hash for _, r in report.family}
    assert len(hashes) == 4  # provenance tells the members apart


def test_zip_pairs_values_and_labels_name_them():
    report = check_file(SPECS / "valid" / "family-zip.yaml")
    assert report.ok
    (m1, r1), (m2, r2) = report.family
    assert (m1.name, m2.name) == ("cue=1.0,knowledge=concept", "cue=0.5,knowledge=words")
    assert r1.spec.rules.knowledge["spurious_concept"].value == "gender"
    assert r2.spec.rules.knowledge["spurious_concept"].value == ("he", "she")
    assert r2.spec.datasets["bios"].options["lexical_share"] == 0.5


def test_a_worker_rebuilds_one_member_from_the_text_and_its_name():
    text = GRID.read_text()
    report = check_text(text, name="spec.yaml", base_dir=GRID.parent, member="cue=0.0,confound=0.95")
    assert report.ok and report.family is None
    spec = report.spec
    assert spec.member.name == "cue=0.0,confound=0.95"
    assert spec.datasets["bios"].options["confound"] == 0.95
    full = check_file(GRID)
    same = dict((m.name, r.spec) for m, r in full.family)["cue=0.0,confound=0.95"]
    assert spec.spec_hash == same.spec_hash and spec.datasets == same.datasets
    bad = check_text(text, name="spec.yaml", base_dir=GRID.parent, member="cue=0.5")
    assert not bad.ok and "no member 'cue=0.5'" in bad.errors[0].message


def test_ranged_claims_are_judged_over_the_family_not_in_a_member():
    report = check_file(GRID)
    spec = report.family[0][1].spec
    ranged = [c for c in spec.claims if c.ranged]
    assert [c.members.quantifier for c in ranged] == ["some", "every", "every", "some"]
    assert ranged[2].members.where({"cue": 1.0, "confound": 0.95})
    assert not ranged[2].members.where({"cue": 1.0, "confound": 0.8})
    assert [c.text for c in spec.judged_claims] == ["token_deletion beats finetune_head on worst_group_accuracy"]


def test_an_error_in_some_members_names_them_and_one_in_every_member_is_said_once(tmp_path):
    text = GRID.read_text().replace("values: [0.8, 0.95]", "values: [0.8, 2.0]").replace(
        "baselines: [finetune_head, token_deletion]", "baselines: [finetune_head, token_deletion, leace]")
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    report = check_file(path)
    lines = [d.headline() for d in report.errors]
    member_errors = [line for line in lines if "option 'confound'" in line]
    assert len(member_errors) == 1  # said once, naming the two members with confound=2.0, at the value
    assert "in family members 'cue=1.0,confound=2.0', 'cue=0.0,confound=2.0'" in member_errors[0]
    value_line = next(i for i, line in enumerate(text.splitlines(), 1) if "[0.8, 2.0]" in line)
    assert all(f":{value_line}:" in line for line in member_errors)
    leace = [line for line in lines if "leace" in line]
    assert leace and not any("family member" in line for line in leace)  # every member has it: said once


def test_set_overrides_apply_to_every_member():
    report = check_file(GRID, ["evaluate.seeds=4"])
    assert report.ok and all(r.spec.evaluate.seeds == 4 for _, r in report.family)
