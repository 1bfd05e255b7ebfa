"""A run's scratch folder (local executor): made here, on the trusted side, before the worker starts;
the worker's only writable folder inside the walls (contender_side/sandbox.py); watched while the run
lasts and removed when it ends, whatever is in it.

Made by the worker itself, it could not be removed from inside the walls (removing a folder needs a
right on the folder that holds it, the temp folder, which a contender must not have): every run
left an empty `fairfight-run-*` folder behind. A contender writing without end would fill the
disk: the orchestrator checks the folder's size about once a second, as it does the run's output
(local.RunOutput), and stops the run past LIMIT bytes or FILES entries.
"""
from __future__ import annotations

import os
import shutil
import tempfile

LIMIT = int(os.environ.get("FAIRFIGHT_SCRATCH_LIMIT_MB") or 4096) << 20
FILES = 100_000  # entries: a walk over more each second would cost the orchestrator, and inodes run out too


class Scratch:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="fairfight-run-")

    def overflow(self) -> str | None:
        """Why the run must stop (its scratch folder passed a limit), else None."""
        used, entries, todo = 0, 0, [self.path]
        while todo:
            folder = todo.pop()
            try:
                with os.scandir(folder) as it:
                    for entry in it:
                        entries += 1
                        if entries > FILES:
                            return (f"its scratch folder holds more than {FILES} files: stopped before it filled "
                                    "the disk")
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        used += max(st.st_size, st.st_blocks * 512)  # blocks: fallocate keeps the size
                        if entry.is_dir(follow_symlinks=False):
                            todo.append(entry.path)
            except OSError:
                continue
            if used > LIMIT:
                return (f"its scratch folder passed {LIMIT >> 20} MiB: stopped before it filled the disk "
                        "(FAIRFIGHT_SCRATCH_LIMIT_MB sets the limit)")
        return None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
