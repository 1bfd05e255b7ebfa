"""Devices and precision (model_side/devices.py): resolving execution.device, loading in a dtype,
contenders receiving CPU float32 tensors, and reads that back off when memory runs out.

The out-of-memory tests inject the allocator's failure through a real forward hook on a real tiny
model; only the resolver's logic is tested with torch's availability monkeypatched. Tests that
need a GPU skip without CUDA."""
import logging

import pytest
import torch

from testkit import SENTENCES
from fairfight.errors import FairfightError
from fairfight.evaluator.model_side import devices
from fairfight.evaluator.model_side.devices import BatchSizer
from fairfight.evaluator.model_side.edits import AddVector
from fairfight.evaluator.model_side.models import load_model

TEXTS = SENTENCES * 2  # 12 texts: several batches at batch_size=8 with different lengths
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


# -- resolving the device (torch's availability monkeypatched: the resolver's logic only) ----------
@pytest.fixture
def sees(monkeypatch):
    def set_(cuda=0, mps=False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return set_


@pytest.mark.parametrize("cuda, mps, expected", [(2, True, "cuda"), (0, True, "mps"), (0, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(sees, cuda, mps, expected):
    sees(cuda, mps)
    assert devices.resolve_device("auto") == expected
    assert devices.planned_device("auto") == expected


def test_asking_for_an_absent_gpu_names_what_is_available(sees):
    sees(0, False)
    with pytest.raises(FairfightError, match=r"torch sees no CUDA GPU here \(available: cpu;"):
        devices.resolve_device("cuda")
    sees(2, False)
    assert devices.resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(FairfightError, match=r"no GPU number 2 \(available: cpu, cuda:0, cuda:1\)"):
        devices.resolve_device("cuda:2")
    with pytest.raises(FairfightError, match="no Apple MPS device"):
        devices.resolve_device("mps")


def test_an_explicit_device_is_planned_as_written_and_checked_by_the_run(sees):
    sees(0, False)  # a cluster's login node: no GPU here, the jobs get one
    assert devices.planned_device("cuda:1") == "cuda:1"
    assert devices.device_type("cuda:1") == "cuda"


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "mps:0", "cpu:1", "CUDA", ""])
def test_malformed_devices_are_refused(bad):
    with pytest.raises(FairfightError, match="device must be auto, cpu, cuda, cuda:N or mps"):
        devices.parse_device(bad)


def test_float16_on_the_cpu_is_a_warning_not_bfloat16():
    assert "lack half precision" in devices.dtype_warning("cpu", "float16")
    assert devices.dtype_warning("cpu", "bfloat16") is None
    assert devices.dtype_warning("cuda:0", "float16") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_loading_on_an_absent_gpu_fails_before_loading(bert_dir):
    with pytest.raises(FairfightError, match="torch sees no CUDA GPU"):
        load_model(f"path:{bert_dir}", device="cuda")


# -- dtype: the model is loaded in it; contenders receive CPU float32 whatever it is -------------------
@pytest.fixture(scope="module")
def gpt2_bf16(gpt2_dir):
    return load_model(f"path:{gpt2_dir}", dtype="bfloat16", device="cpu")


def test_the_model_is_loaded_in_its_dtype_and_its_identity_says_so(gpt2_bf16, gpt2):
    assert next(gpt2_bf16.model.parameters()).dtype == torch.bfloat16
    assert (gpt2_bf16.device, gpt2_bf16.dtype) == ("cpu", "bfloat16")
    assert gpt2_bf16.identity["dtype"] == "bfloat16" and gpt2.identity["dtype"] == "float32"
    assert gpt2_bf16.identity["device"] == gpt2.identity["device"] == "cpu"
    assert devices.used(gpt2_bf16) == {"device": "cpu", "dtype": "bfloat16"}


def every_read(handle):
    """Every tensor-returning operation a contender can call, on the same inputs."""
    def hidden(out):  # per token, padding masked out: independent of how inputs are batched
        return (out["last_hidden_state"] * out["attention_mask"][..., None]).pow(2).sum()

    return {
        "embed": handle.embed(TEXTS),
        "activations": handle.activations(TEXTS, layers=[1])[1],
        "tokens": torch.cat(handle.activations(TEXTS, layers=1, pool="none")[1]),
        "edited": handle.intervene(AddVector(1, [0.5] * handle.hidden_size)).activations(TEXTS, layers=[2])[2],
        "edited_tokens": torch.cat(handle.intervene(AddVector(1, [0.5] * handle.hidden_size))
                                   .activations(TEXTS, layers=[2], pool="none")[2]),
        "gradients": handle.gradients(TEXTS, hidden, layer=1),
        "logprobs": handle.logprobs(TEXTS, [" the"] * len(TEXTS)),
        "weights": handle.weights()["transformer.h.0.mlp.c_fc.weight"],
    }


def test_contenders_receive_cpu_float32_from_a_bfloat16_model_close_to_float32(gpt2_bf16, gpt2, make_handle):
    low, _ = make_handle(gpt2_bf16, batch_size=5)
    full, _ = make_handle(gpt2, batch_size=5)
    low_reads, full_reads = every_read(low), every_read(full)
    for name, value in low_reads.items():
        assert value.dtype == torch.float32 and value.device.type == "cpu", name
        reference = full_reads[name]
        # bfloat16 keeps 8 bits of mantissa: loose tolerances, yet a wrong read (another layer,
        # another text) is off by its whole norm. Gradients lose most (here ~25% of the norm).
        relative = ((value - reference).norm() / reference.norm()).item()
        cosine = torch.nn.functional.cosine_similarity(value.flatten(), reference.flatten(), dim=0).item()
        assert cosine > 0.95 and (relative < 0.1 or name == "gradients"), (name, relative, cosine)
    assert not torch.equal(low_reads["embed"], full_reads["embed"])  # it really ran in bfloat16


# -- out-of-memory back-off ------------------------------------------------------------------------------
class OutOfMemoryAbove:
    """A forward hook on the first block that fails like the allocator when a batch has more than
    `limit` rows (torch.cuda.OutOfMemoryError, or the RuntimeError the MPS / CPU allocators raise)."""

    def __init__(self, model, limit, error=torch.cuda.OutOfMemoryError):
        self.limit, self.error, self.sizes = limit, error, []
        block = model.base_model.h[0] if hasattr(model.base_model, "h") else model.base_model.encoder.layer[0]
        self.handle = block.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        states = args[0] if args else kwargs.get("hidden_states")
        rows = states.shape[0] if states is not None else None
        self.sizes.append(rows)
        if rows is not None and rows > self.limit:
            raise self.error(f"CUDA out of memory. Tried to allocate 2.00 GiB (batch of {rows})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def test_a_read_out_of_memory_halves_the_batch_and_gives_the_unconstrained_results(gpt2, make_handle, caplog):
    reference = every_read(make_handle(gpt2, batch_size=8)[0])
    handle, _ = make_handle(gpt2, batch_size=8)
    before = len(devices.BACKOFFS)
    with OutOfMemoryAbove(gpt2.model, limit=3) as hook, caplog.at_level(logging.WARNING, "fairfight.devices"):
        constrained = every_read(handle)
    assert max(s for s in hook.sizes if s) == 8  # the first batch was tried at full size ...
    assert {s for s in hook.sizes[hook.sizes.index(8) + 1:] if s} <= {1, 2, 3, 4}  # ... then halved
    for name, value in constrained.items():
        torch.testing.assert_close(value, reference[name], rtol=1e-4, atol=1e-5, msg=name)
    # 8 -> 4 -> 2: both halvings are recorded; the console hears about it once
    assert devices.BACKOFFS[before:] == [
        "out of memory at batch size 8: retrying at 4 (kept for later reads; the run fails only if a single "
        "example does not fit)",
        "out of memory at batch size 4: retrying at 2 (kept for later reads; the run fails only if a single "
        "example does not fit)"]
    assert len([r for r in caplog.records if "out of memory" in r.getMessage()]) == 1


def test_the_mps_and_cpu_allocators_runtime_error_backs_off_too(bert, make_handle):
    reference = make_handle(bert, batch_size=6)[0].embed(TEXTS)
    handle, _ = make_handle(bert, batch_size=6)
    with OutOfMemoryAbove(bert.model, limit=2, error=RuntimeError):
        torch.testing.assert_close(handle.embed(TEXTS), reference, rtol=1e-4, atol=1e-5)
        # the smaller size is kept by the handle and the handles derived from it
        assert handle.intervene(AddVector(1, [0.0] * 32)).embed(TEXTS).shape == (len(TEXTS), 32)


def test_out_of_memory_with_a_single_example_fails_the_run(bert, make_handle):
    handle, _ = make_handle(bert, batch_size=4)
    with OutOfMemoryAbove(bert.model, limit=0), pytest.raises(torch.cuda.OutOfMemoryError):
        handle.embed(TEXTS)


def test_other_errors_are_not_retried():
    calls = []

    def step(batch):
        calls.append(list(batch))
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        BatchSizer(8).each([3, 1, 2], step)
    assert calls == [[1, 2, 0]]  # length-sorted, tried once


# -- a real GPU ---------------------------------------------------------------------------------------------
@CUDA
def test_a_tiny_model_on_cuda_reads_what_it_reads_on_the_cpu(gpt2_dir, gpt2, make_handle):
    on_gpu = load_model(f"path:{gpt2_dir}", device="cuda")
    assert next(on_gpu.model.parameters()).device.type == "cuda"
    assert devices.used(on_gpu)["device"].startswith("cuda:")
    gpu_reads = every_read(make_handle(on_gpu, batch_size=5)[0])
    cpu_reads = every_read(make_handle(gpt2, batch_size=5)[0])
    for name, value in gpu_reads.items():
        assert value.device.type == "cpu" and value.dtype == torch.float32, name
        torch.testing.assert_close(value, cpu_reads[name], rtol=1e-3, atol=1e-4, msg=name)
