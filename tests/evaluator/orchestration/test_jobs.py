"""A run's timings, as the orchestrator measures them (the worker's own clock is the contender's)."""
from fairfight.evaluator.orchestration import jobs


def test_load_counts_from_the_workers_start_not_from_the_queue(monkeypatch):
    clock = iter([0.0, 50.0, 52.0, 60.0, 61.0, 70.0])  # made, started (after 50 s queued), trained, ...
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    job = jobs.Job({"run": {"key": "k"}}, [], timeout=None)
    job.enter("load")  # the worker process starts
    job.enter("train")
    job.enter("predict")
    job.enter("train")  # said again: the phase's clock does not restart
    measured = job.measured()
    assert measured["timings"] == {"load": 2.0, "train": 8.0, "predict": 10.0}
    assert measured["elapsed"] == 20.0
