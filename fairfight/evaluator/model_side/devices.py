"""Where the model runs and in what precision, and batches that back off when memory runs out.

- `resolve_device("auto" | "cpu" | "cuda" | "cuda:N" | "mps")`: the device torch will use;
  auto picks CUDA when torch sees it, else MPS, else the CPU. Asking for a device that is not
  there is a FairfightError naming what is.
- `torch_dtype(name)` and `dtype_warning(device, dtype)`: float16 on the CPU works but is slow
  or missing in many CPU kernels, so it is a warning, not an error.
- `BatchSizer`: the batch size of one model's reads. A batch that runs out of memory (a
  torch.cuda.OutOfMemoryError, or a RuntimeError saying "out of memory" from the MPS or CPU
  allocators) is retried at half the size, down to 1; the smaller size is kept for later reads.
  Only an out-of-memory at batch size 1 fails the run.

Every result leaves the model side as a CPU float32 tensor (model_handle.py's `_detach`,
passes.py's pooled rows), whatever the device and dtype; see docs/devices.md.
torch is imported inside the functions: the spec checks import this module's constants.
"""
from __future__ import annotations

import logging
import re
from typing import Callable

from fairfight.errors import FairfightError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|mps)(?::(\d+))?$")
DTYPES = ("float32", "bfloat16", "float16")
LOG = logging.getLogger("fairfight.devices")
BACKOFFS: list[str] = []  # every back-off in this process, in order (the worker copies them to the run's log)


def parse_device(text: str) -> tuple[str, int | None]:
    """'cuda:1' -> ('cuda', 1); only cuda takes a number."""
    m = DEVICE_PATTERN.match(str(text))
    if not m or (m.group(2) is not None and m.group(1) != "cuda"):
        raise FairfightError(f"device must be auto, cpu, cuda, cuda:N or mps, got {text!r}")
    return m.group(1), None if m.group(2) is None else int(m.group(2))


def device_type(device: str) -> str:
    """cpu, cuda or mps: what a run key records (the GPU's number does not change results)."""
    return parse_device(device)[0]


def _mps_available(torch) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available() -> list[str]:
    """The devices torch sees here, e.g. ['cpu', 'cuda:0', 'cuda:1']."""
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available(torch):
        out.append("mps")
    return out


def resolve_device(requested: str = "auto") -> str:
    """The device to place the model on: 'cpu', 'cuda', 'cuda:N' or 'mps'."""
    kind, index = parse_device(requested)
    import torch

    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if _mps_available(torch) else "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise FairfightError(f"device {requested!r}: torch sees no CUDA GPU here (available: "
                                 f"{', '.join(available())}; torch {torch.__version__}, built with CUDA "
                                 f"{torch.version.cuda or 'none'})")
        if index is not None and index >= torch.cuda.device_count():
            raise FairfightError(f"device {requested!r}: there is no GPU number {index} (available: "
                                 f"{', '.join(available())})")
    if kind == "mps" and not _mps_available(torch):
        raise FairfightError(f"device {requested!r}: torch sees no Apple MPS device here "
                             f"(available: {', '.join(available())})")
    return requested


def planned_device(requested: str = "auto") -> str:
    """The device an eval plans its runs on: auto is resolved here, once, by the process that plans;
    an explicit device is taken as asked (a cluster's login node need not have the GPU its jobs get:
    each run checks it is there when it loads the model)."""
    kind, _ = parse_device(requested)
    if kind != "auto":
        return requested
    return "cpu" if _cpu_only_torch() else resolve_device("auto")


def _cpu_only_torch() -> bool:
    """Whether torch here is a build without CUDA or ROCm on a machine without MPS (not macOS): then
    auto is the CPU for sure, known from torch/version.py without importing torch (`fairfight plan`
    stays fast). Anything else is left to torch itself."""
    import importlib.util
    import platform
    import sys
    from pathlib import Path

    if "torch" in sys.modules or platform.system() == "Darwin":
        return False
    try:
        found = importlib.util.find_spec("torch")
        folders = list(found.submodule_search_locations or []) if found else []
        text = (Path(folders[0]) / "version.py").read_text(encoding="utf-8") if folders else ""
    except (ImportError, ValueError, OSError):
        return False
    return says_cpu_build(text)


def says_cpu_build(version_py: str) -> bool:
    """Whether torch's version.py text says it was built without CUDA and without ROCm (hip)."""
    return all(re.search(rf"^{name}(?:\s*:[^=\n]*)?\s*=\s*None\s*$", version_py, re.M) for name in ("cuda", "hip"))


def torch_dtype(name: str):
    import torch

    if name not in DTYPES + ("float64",):
        raise FairfightError(f"model dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return getattr(torch, name)


def dtype_warning(device: str, dtype: str) -> str | None:
    """Why this (device, dtype) pair is a poor choice, or None."""
    if dtype == "float16" and device_type(device) == "cpu":
        return ("float16 on the CPU: many CPU kernels lack half precision (slow, or not implemented); "
                "use bfloat16 or float32 there")
    return None


def describe(device: str) -> str:
    """'cuda:0 (NVIDIA H200)', 'cpu': for provenance and the report."""
    if device_type(device) != "cuda":
        return device
    import torch

    index = parse_device(device)[1]
    index = torch.cuda.current_device() if index is None else index
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def used(loaded) -> dict:
    """What a run records about where its model ran: {"device": "cuda:0 (NVIDIA H200)", "dtype": ...}."""
    return {"device": describe(loaded.device), "dtype": loaded.dtype}


# -- out-of-memory back-off ------------------------------------------------------------------------
def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_cached_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # what the failed batch allocated is garbage now; give it back


class BatchSizer:
    """The batch size of one model's reads: halved when a batch runs out of memory, then kept.

    Derived handles (intervene, finetune) share their parent's sizer: one model copy, one budget.
    """

    def __init__(self, size: int, log: Callable[[str], None] | None = None):
        if int(size) < 1:
            raise FairfightError("batch_size must be at least 1")
        self.size = int(size)
        self.requested = int(size)
        self._log = log or LOG.warning
        self._logged = False

    def batches(self, lengths) -> list[list[int]]:
        """Length-sorted batches (less padding) at the current size; callers put rows back in order."""
        order = _length_order(lengths)
        return [order[i: i + self.size] for i in range(0, len(order), self.size)]

    def each(self, lengths, step: Callable[[list[int]], None]) -> None:
        """Call step(batch) over length-sorted batches, the longest first; a batch out of memory is
        split and retried.

        Batches are cut from the longest end (a smaller last batch holds the shortest texts) and
        run longest first: the first batch is the largest allocation, and every later one fits
        into the blocks it freed. Shortest first, each batch needed blocks larger than any freed
        before and the allocator's heap only grew (a 4,000-text MiniLM pass peaked at 1.4 GB
        against 0.7 GB, and ran ~10% slower). An out-of-memory also comes at the start, not the end.
        `step` must only write its own rows' results (so a retried batch simply overwrites them).
        """
        order = _length_order(lengths)
        pending = [order[max(0, end - self.size): end] for end in range(len(order), 0, -self.size)][::-1]
        while pending:
            batch = pending.pop()
            if len(batch) > self.size:  # sized before a back-off: split like the ones after it
                pending += [batch[i: i + self.size] for i in range(0, len(batch), self.size)]
                continue
            try:
                step(batch)
            except Exception as exc:
                if not is_out_of_memory(exc) or len(batch) == 1:
                    raise
                out_of_memory = True
            else:
                out_of_memory = False
            if out_of_memory:  # outside the except block: the traceback's frames (and tensors) are gone
                _free_cached_memory()
                self._halve(len(batch))
                pending.append(batch)

    def _halve(self, failed: int) -> None:
        self.size = max(1, failed // 2)
        message = (f"out of memory at batch size {failed}: retrying at {self.size} (kept for later reads; "
                   f"the run fails only if a single example does not fit)")
        BACKOFFS.append(message)
        if not self._logged:  # once per model: later halvings are in BACKOFFS, not the console
            self._logged = True
            self._log(message)


def _length_order(lengths) -> list[int]:
    return sorted(range(len(lengths)), key=lambda i: (lengths[i], i))


__all__ = ["DTYPES", "BACKOFFS", "BatchSizer", "parse_device", "device_type", "available", "resolve_device",
           "planned_device", "used",
           "torch_dtype", "dtype_warning", "describe", "is_out_of_memory"]
