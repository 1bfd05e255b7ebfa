"""How `fairfight search` picks the member(s) to confirm from the discovery family.json."""
from fairfight.commands.search import pick

CLAIM = "a beats b on accuracy in some member"


def _discovery(tests):
    return {"verdicts": [{"claim": CLAIM, "members": [
        {"member": m, "in_range": True, "p_support": ps, "p_fail": pf} for m, ps, pf in tests]}]}


def test_the_member_that_holds_on_every_discovery_seed_is_picked():
    found = _discovery([("x=1,data_seed=1", 0.01, 1.0), ("x=1,data_seed=2", 0.30, 0.9),  # weak at seed 2
                        ("x=2,data_seed=1", 0.02, 1.0), ("x=2,data_seed=2", 0.03, 1.0)])
    assert pick(found, CLAIM, 1) == [("x=2", 0.03)]
    assert [m for m, _ in pick(found, CLAIM, 2)] == ["x=2", "x=1"]


def test_where_it_holds_nowhere_the_member_least_against_it_is_picked():
    """p_support is 1 wherever the difference goes the wrong way: the tie is broken by how clearly
    the claim fails (the largest p_fail at the worst seed), not by the family's order."""
    found = _discovery([("x=1,data_seed=1", 1.0, 0.001), ("x=1,data_seed=2", 1.0, 0.004),
                        ("x=2,data_seed=1", 1.0, 0.5), ("x=2,data_seed=2", 1.0, 0.02),
                        ("x=3,data_seed=1", 1.0, 1.0), ("x=3,data_seed=2", 1.0, 1.0)])
    assert [m for m, _ in pick(found, CLAIM, 3)] == ["x=3", "x=2", "x=1"]


def test_members_out_of_the_claims_range_are_never_picked():
    found = _discovery([("x=1,data_seed=1", 0.01, 1.0)])
    found["verdicts"][0]["members"].append({"member": "x=2,data_seed=1", "in_range": False, "p_support": 0.0})
    assert pick(found, CLAIM, 2) == [("x=1", 0.01)]
