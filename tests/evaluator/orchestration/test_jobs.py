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


def _in_predict(monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 12.0, 12.0])  # made, load, train, predict (inputs sent at once)
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    job = jobs.Job({"run": {"key": "k"}}, [], timeout=None)
    job.enter("load")
    job.enter("train")
    job.enter("predict")
    job.entered["sent"] = 12.0
    return job


def test_time_queued_behind_other_runs_does_not_count_against_a_phases_limit(monkeypatch):
    job = _in_predict(monkeypatch)
    job.queued_before_predict = 30.0  # queued while training: not this phase's
    late = 12.0 + jobs.PREDICT_LIMIT + 100
    assert job.overdue(late) and "predicting took longer" in job.overdue(late)
    assert job.overdue(late, lambda: 30.0 + 150.0) is None  # 150 s of this phase waited for other runs
    assert job.overdue(late, lambda: 30.0 + 50.0)  # 50 s only: still 50 s over
    assert job.overdue(12.0 + 10, lambda: 1 / 0) is None  # asked only once a limit is passed


def test_the_wall_time_budget_leaves_out_queued_time_too(monkeypatch):
    job = _in_predict(monkeypatch)
    job.timeout = 20.0  # training took 10 s; predicting 15 s more would pass it
    assert job.overdue(12.0 + 15) and "training and predicting" in job.overdue(12.0 + 15)
    assert job.overdue(12.0 + 15, lambda: 8.0) is None
