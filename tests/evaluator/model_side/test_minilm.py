"""Integration: the packaged MiniLM sentence encoder through the handle."""
import torch

from fairfight.evaluator.model_side.model_handle import ModelHandle
from fairfight.evaluator.model_side.ledger import Ledger


def test_minilm_paraphrases_are_closer_than_unrelated_sentences(minilm):
    handle = ModelHandle(minilm, frozenset({"embed"}), Ledger())
    e = handle.embed(["A man is playing a guitar.", "Someone is playing the guitar.",
                      "The stock market fell sharply today."])
    assert e.shape == (3, 384)
    cos = torch.nn.functional.cosine_similarity
    para, unrelated = cos(e[0], e[1], dim=0), max(cos(e[0], e[2], dim=0), cos(e[1], e[2], dim=0))
    assert para > 0.6 and para > unrelated + 0.3
