"""ctx.model.tokens: token strings and character offsets, aligned with the token-level reads,
for a WordPiece tokenizer (tiny BERT with MiniLM's vocabulary) and a GPT-2-style byte-level BPE
(trained in the test session); a ledger entry of its own, under the activations grant."""
import pytest

from fairfight import AffordanceError
from fairfight.evaluator.model_side.ledger import grant_of

TEXTS = ["The nurse said she was unbelievably tired.", "Dr. Smith operated on his patient",
         "A surgeon's résumé, naturally."]


def _word_tokens(item, text, word):
    """Positions of the tokens whose span lies inside an occurrence of `word` in `text`."""
    spans = []
    start = text.lower().find(word)
    while start >= 0:
        spans.append((start, start + len(word)))
        start = text.lower().find(word, start + 1)
    return [i for i, (s, e) in enumerate(item["offsets"])
            if not item["special"][i] and e > s and any(a <= s and e <= b for a, b in spans)]


@pytest.mark.parametrize("which", ["bert", "gpt2"])
def test_tokens_cover_each_text_and_align_with_token_states(which, request, make_handle):
    loaded = request.getfixturevalue(which)
    handle, ledger = make_handle(loaded)
    items = handle.tokens(TEXTS)
    states = handle.activations(TEXTS, layers=[1], pool="none")[1]
    assert len(items) == len(TEXTS)
    for text, item, st in zip(TEXTS, items, states):
        n = len(item["tokens"])
        assert n == len(item["offsets"]) == len(item["special"]) == st.shape[0]  # one per token state
        real = [(s, e) for (s, e), sp in zip(item["offsets"], item["special"]) if not sp]
        assert all(0 <= s <= e <= len(text) for s, e in real)
        assert [s for s, _ in real] == sorted(s for s, _ in real)
        # every non-space character of the text is inside some token's span
        covered = {c for s, e in real for c in range(s, e)}
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    entry = [e for e in ledger.entries if e.op == "tokens"]
    assert len(entry) == 1 and entry[0].examples == 0 and grant_of("tokens") == "activations"


def test_wordpiece_pieces_of_a_word_are_found_by_offsets(bert, make_handle):
    handle, _ = make_handle(bert)
    item = handle.tokens(TEXTS[:1])[0]
    found = _word_tokens(item, TEXTS[0], "unbelievably")
    pieces = [item["tokens"][i] for i in found]
    assert len(pieces) > 1 and pieces[0] == "unbelievably"[: len(pieces[0])]  # split into WordPiece pieces
    assert all(p.startswith("##") for p in pieces[1:])
    assert "".join(p.removeprefix("##") for p in pieces) == "unbelievably"
    assert item["special"][0] and item["tokens"][0] == "[CLS]" and item["offsets"][0] == (0, 0)


def test_byte_level_bpe_offsets_give_the_words_not_the_marked_tokens(gpt2, make_handle):
    handle, _ = make_handle(gpt2)
    item = handle.tokens(TEXTS[:2])[1]
    assert any(t.startswith("Ġ") for t in item["tokens"])  # GPT-2's space marker: a string match would miss
    found = _word_tokens(item, TEXTS[1], "patient")
    assert found and "".join(TEXTS[1][s:e] for s, e in (item["offsets"][i] for i in found)).strip() == "patient"
    assert not any(item["special"])


def test_tokens_need_the_activations_grant(bert, make_handle):
    handle, ledger = make_handle(bert, grant=("embed",))
    with pytest.raises(AffordanceError, match="'activations' is not granted"):
        handle.tokens(TEXTS)
    assert [e.op for e in ledger.entries] == ["activations"] and ledger.entries[0].refused
