import pytest

from report_fixtures import SMALL_FIGHT, run_fight


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory, bert_dir):
    """A real bundle from `fairfight eval` (a method, a run-time refusal, a plan-time refusal; one seed)."""
    out, r = run_fight(tmp_path_factory.mktemp("report-small"), bert_dir, SMALL_FIGHT)
    assert (out / "results.json").exists(), r.stdout + r.stderr
    return out, r
