"""The local executor's process entry point: one contender run per fresh process."""
from __future__ import annotations

import traceback

from ...errors import FairfightError
from .served_worker import execute_served
from .worker import PipeChannel


def worker_main(conn, server_conn) -> None:
    """Process entry point for the local executor (forked from the fork server: a fresh process per run).
    `server_conn`: this run's connection to the model server (the model is not loaded here)."""
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    desc = conn.recv()
    try:
        import torch

        torch.set_num_threads(max(1, int(desc.get("threads") or 1)))
        result = execute_served(desc, PipeChannel(conn), server_conn)
    except BaseException:  # even a KeyboardInterrupt is reported, not lost
        result = {"key": desc["run"]["key"], "status": "failed", "error": traceback.format_exc(), "log": []}
    channel = PipeChannel(conn)
    try:
        channel.send("result", result)
    except FairfightError as exc:  # something in the report is not plain data
        channel.send("result", {"key": desc["run"]["key"], "status": "failed", "log": [],
                                "error": f"the worker's report could not be sent: {exc}"})
    conn.close()
