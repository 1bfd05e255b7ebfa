"""Reports of a bundle, generated from its results.json only (nothing is rerun).

    write_reports(bundle)  -> (report.md, report.html), written atomically into the bundle
    render_markdown(results), render_html(results), print_summary(results)

report.md and report.html are derived files: they are not sealed in MANIFEST.json, and
`fairfight report BUNDLE` re-renders them at any time.
"""
from __future__ import annotations

from pathlib import Path

from .model import load_results

REPORT_MD, REPORT_HTML = "report.md", "report.html"


def render_markdown(results: dict) -> str:
    from .markdown import render_markdown as render

    return render(results)


def render_html(results: dict, examples=()) -> str:
    from .html import render_html as render

    return render(results, examples)


def print_summary(results: dict, console=None) -> None:
    from .terminal import print_summary as show

    show(results, console)


def write_reports(bundle_dir) -> tuple[Path, Path]:
    """Read BUNDLE/results.json and write BUNDLE/report.md and BUNDLE/report.html (atomically)."""
    from ..evaluator.orchestration.bundle import write_atomic

    root = Path(bundle_dir)
    results = load_results(root)
    md, html = root / REPORT_MD, root / REPORT_HTML
    from .examples import contender_examples

    md_text = render_markdown(results)
    html_text = render_html(results, contender_examples(root, results))  # both rendered before either is written
    write_atomic(md, md_text)
    write_atomic(html, html_text)
    return md, html


__all__ = ["REPORT_HTML", "REPORT_MD", "load_results", "print_summary", "render_html", "render_markdown",
           "write_reports"]
