"""`fairfight report BUNDLE`: re-render report.md and report.html from the bundle's results.json."""
from __future__ import annotations

import json
import sys

EXIT_OK, EXIT_INVALID = 0, 2


def run_report(bundle: str, out: str | None = None) -> int:
    """Write BUNDLE/report.md and BUNDLE/report.html; print their paths. 2 if results.json is unreadable.
    BUNDLE may be an archive of `fairfight pack`: the reports then go to OUT (default: beside it,
    ARCHIVE-report/), since an archive is not rewritten."""
    from pathlib import Path

    from ..errors import FairfightError
    from ..report import write_reports

    if Path(bundle).is_file():
        return _report_archive(Path(bundle), out)
    from ..report.family import is_family, write_family_reports

    try:
        if is_family(bundle) and not (Path(bundle) / "results.json").exists():  # each member's, then the family's
            family = json.loads((Path(bundle) / "family.json").read_text(encoding="utf-8"))
            for member in family.get("members", []):
                folder = Path(bundle) / str(member.get("bundle", ""))
                if folder.resolve().is_relative_to(Path(bundle).resolve()):
                    write_reports(folder)
            md, html = write_family_reports(bundle)
        else:
            md, html = write_reports(bundle)
    except FairfightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: cannot write the reports into {bundle}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (ValueError, KeyError, TypeError) as exc:
        print(f"error: {bundle}/family.json is not a family bundle's: {exc!r}", file=sys.stderr)
        return EXIT_INVALID
    print(md)
    print(html)
    return EXIT_OK


def _report_archive(archive, out) -> int:
    import shutil
    from pathlib import Path

    from ..errors import FairfightError
    from ..pack import SUFFIX, open_archive
    from ..report import write_reports

    with open_archive(archive) as opened:
        if opened.problems:
            for problem in opened.problems:
                print(f"warning: {problem}", file=sys.stderr)
        if opened.bundle is None or not (opened.bundle / "results.json").is_file():
            print(f"error: {archive} is not an archive of a fairfight bundle (see above)", file=sys.stderr)
            return EXIT_INVALID
        target = Path(out) if out else archive.parent / (archive.name.removesuffix(SUFFIX) + "-report")
        try:
            md, html = write_reports(opened.bundle)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(md, target / md.name)
            shutil.copy(html, target / html.name)
        except FairfightError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        except OSError as exc:
            print(f"error: cannot write the reports into {target}: {exc}", file=sys.stderr)
            return EXIT_INVALID
    print(target / md.name)
    print(target / html.name)
    return EXIT_OK
