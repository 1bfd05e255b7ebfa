"""report.html in a real browser: headless Chromium renders it offline, with no console errors, and
a reader sees the affordance matrix, the charts and every verdict.

CI installs Debian's chromium (.ci/run); on a machine without it this test fails rather than
skips, saying how to install it, because a report nobody has seen rendered is not tested.
"""
import json
import re

import numpy as np

from fairfight.report import render_html

from chromium_kit import chromium, console_errors
from report_fixtures import FIXTURES, load


# Run in the page after it is laid out: what a reader sees (innerText follows CSS: hidden text is
# not in it), and the rendered size of the matrix and of every chart.
PROBE = """<script>
(() => {
  const box = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return {w: r.width, h: r.height, shown: s.display !== 'none' && s.visibility !== 'hidden'}; };
  const rows = [...document.querySelectorAll('#affordance-matrix tr[data-contender]')];
  const out = {
    text: document.body.innerText,
    matrix: [...document.querySelectorAll('#affordance-matrix')].map(box),
    matrix_rows: rows.map(r => ({label: r.getAttribute('data-contender'), ...box(r), text: r.innerText})),
    charts: [...document.querySelectorAll('svg')].map(e => ({label: e.getAttribute('aria-label'), ...box(e),
                                                             marks: e.querySelectorAll('path, rect, line').length})),
  };
  const pre = document.createElement('pre');
  pre.id = 'fairfight-probe';
  pre.textContent = JSON.stringify(out);
  document.documentElement.appendChild(pre);
})();
</script>"""


def test_headless_chromium_screenshot_is_not_blank(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(load(FIXTURES / "results.json")), encoding="utf-8")
    png = tmp_path / "report.png"
    r = chromium(tmp_path, f"--screenshot={png}", "--window-size=1400,3000", page.as_uri())
    assert png.exists(), r.stderr[-3000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))
    assert pixels.shape[:2] == (3000, 1400)
    rgb = (pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours = np.unique(rgb, axis=0)
    background = np.bincount(np.ravel_multi_index(rgb.T, (256, 256, 256))).max() / len(rgb)
    assert len(colours) > 50, len(colours)  # text, badges, charts: many colours, not one flat page
    assert background < 0.97, background  # and a good part of the page is not background
    top = rgb.reshape(3000, 1400, 3)[:600]  # the title and the verdicts are at the top
    assert len(np.unique(top.reshape(-1, 3), axis=0)) > 20
    assert not console_errors(r.stderr), console_errors(r.stderr)


def test_a_reader_sees_the_matrix_the_charts_and_every_verdict(tmp_path):
    results = load(FIXTURES / "results.json")
    page = tmp_path / "report.html"
    page.write_text(render_html(results).replace("</body>", PROBE + "</body>"), encoding="utf-8")
    r = chromium(tmp_path, "--dump-dom", "--window-size=1400,3000", page.as_uri())
    found = re.search(r'<pre id="fairfight-probe">(.*?)</pre>', r.stdout, re.S)
    assert found, r.stderr[-3000:]
    import html

    seen = json.loads(html.unescape(found.group(1)))
    text = " ".join(seen["text"].split())

    # every verdict, with its claim, as text on the page
    assert results["verdicts"]
    for v in results["verdicts"]:
        assert v["claim"] in text, v["claim"]
        assert re.search(rf"{re.escape(v['verdict'])}\s*{re.escape(v['claim'])}", text), v

    # the affordance matrix is laid out, one visible row per contender, cells readable
    (matrix,) = seen["matrix"]
    assert matrix["shown"] and matrix["w"] > 300 and matrix["h"] > 100, matrix
    labels = [row["label"] for row in seen["matrix_rows"]]
    for label in ["probe", "plain_head", "majority", "token_deletion", "oracle", "ungranted_operation",
                  "declared_too_much"]:
        assert label in labels, (label, labels)
    for row in seen["matrix_rows"]:
        assert row["shown"] and row["h"] > 5, row
    rows = {row["label"]: " ".join(row["text"].split()) for row in seen["matrix_rows"]}
    assert "refused" in rows["ungranted_operation"] and "used" in rows["probe"]

    # the charts: one per claim and per metric, each drawn at a readable size with marks in it
    charts = [c for c in seen["charts"] if c["label"]]
    names = {c["label"] for c in charts}
    assert "chart-accuracy" in names, names
    assert sum(1 for n in names if "claim" in n) >= len(results["verdicts"]), names
    for chart in charts:
        assert chart["shown"] and chart["w"] > 150 and chart["h"] > 80 and chart["marks"] > 3, chart
    assert not console_errors(r.stderr), console_errors(r.stderr)
