"""`fairfight report BUNDLE`: re-render report.md and report.html from the bundle's results.json."""
from __future__ import annotations

import sys

EXIT_OK, EXIT_INVALID = 0, 2


def run_report(bundle: str) -> int:
    """Write BUNDLE/report.md and BUNDLE/report.html; print their paths. 2 if results.json is unreadable."""
    from ..errors import FairfightError
    from ..report import write_reports

    try:
        md, html = write_reports(bundle)
    except FairfightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: cannot write the reports into {bundle}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(md)
    print(html)
    return EXIT_OK
