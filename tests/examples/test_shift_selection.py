"""The `shift` example's token-level selection (examples/quickstart/methods.py): which tokens are
the concept's words (by character offsets, for WordPiece and byte-level BPE alike), and each
latent's lift and share on them."""
import importlib.util
from pathlib import Path

import pytest
import torch

METHODS = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "methods.py"


@pytest.fixture(scope="module")
def methods():
    spec = importlib.util.spec_from_file_location("quickstart_methods", METHODS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which", ["bert", "gpt2"])
def test_concept_tokens_are_found_by_offsets(which, request, make_handle, methods):
    handle, _ = make_handle(request.getfixturevalue(which))
    text = "Herbert said she trained his sister, and Sherlock was there."
    item = handle.tokens([text])[0]
    marked = methods._concept_tokens(text, item, {"she", "his", "sister"})
    # the marked tokens cover exactly the characters of the three words (however they are split)
    covered = {c for (s, e), m in zip(item["offsets"], marked) if m for c in range(s, e)}
    wanted = {c for w in ("she", "his", "sister") for c in range(text.index(f" {w}") + 1, text.index(f" {w}") + 1 + len(w))}
    assert covered == wanted
    # no token of "Herbert" or "Sherlock" (which contain "her" and "she") is marked
    for word in ("Herbert", "Sherlock"):
        start = text.index(word)
        assert not any(m for (s, e), m in zip(item["offsets"], marked) if start <= s < start + len(word))
    assert sum(marked) >= 3


def test_lift_and_share_single_out_the_latent_of_the_concept_tokens(methods):
    # 3 texts of 4 tokens; token 1 of each is a concept token; latent 0 fires only there,
    # latent 1 everywhere, latent 2 on one concept token and on two other tokens (half its mass)
    on_word = [torch.tensor([False, True, False, False])] * 3
    fired = []
    for t in range(3):
        idx = torch.tensor([[1, 2], [0, 1], [1, 2], [1, 3]])
        val = torch.tensor([[1.0, 1.0 if t == 0 else 0.0], [2.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
        if t == 1:
            val[1, 0], idx[1, 0] = 2.0, 2  # latent 2 instead of 0 on this concept token
        fired.append((idx, val))
    lift, share, count, n_concept, n_other = methods._token_scores(4, on_word, fired)
    assert (n_concept, n_other) == (3, 9)
    assert count.tolist() == [2, 3, 1, 0]
    assert lift.argmax() == 0 and share[0] == 1.0 and share[1] < 0.3
    assert abs(float(share[2]) - 2 / 3) < 1e-6  # mass 2 on the concept token, 1 elsewhere
