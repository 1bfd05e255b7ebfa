"""`fairfight report BUNDLE`: re-render report.md and report.html from the bundle's results.json."""
from __future__ import annotations

import json
import sys

EXIT_OK, EXIT_INVALID = 0, 2


def run_report(bundle: str, out: str | None = None) -> int:
    """Write BUNDLE/report.md and BUNDLE/report.html (a family: each member's too); print their paths.
    2 if results.json is unreadable. BUNDLE may be an archive of `fairfight pack`: the reports then go to OUT (default: beside it,
    ARCHIVE-report/), since an archive is not rewritten."""
    from pathlib import Path

    from ..errors import FairfightError

    if Path(bundle).is_file():
        return _report_archive(Path(bundle), out)
    try:
        md, html = write_all_reports(Path(bundle))[-2:]
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


def write_all_reports(bundle) -> list:
    """A bundle's report.md and report.html; a family's: each member's, then the family's (last)."""
    from pathlib import Path

    from ..report import write_reports
    from ..report.family import is_family, write_family_reports

    bundle = Path(bundle)
    if not (is_family(bundle) and not (bundle / "results.json").exists()):
        return list(write_reports(bundle))
    family = json.loads((bundle / "family.json").read_text(encoding="utf-8"))
    written = []
    for member in family.get("members", []):
        folder = bundle / str(member.get("bundle", ""))
        if folder.resolve().is_relative_to(bundle.resolve()):
            written += write_reports(folder)
    return written + list(write_family_reports(bundle))


def _report_archive(archive, out) -> int:
    import shutil
    from pathlib import Path

    from ..errors import FairfightError
    from ..pack import SUFFIX, open_archive

    with open_archive(archive) as opened:
        if opened.problems:
            for problem in opened.problems:
                print(f"warning: {problem}", file=sys.stderr)
        if opened.bundle is None or not any((opened.bundle / name).is_file() for name in ("results.json", "family.json")):
            print(f"error: {archive} is not an archive of a fairfight bundle (see above)", file=sys.stderr)
            return EXIT_INVALID
        target = Path(out) if out else archive.parent / (archive.name.removesuffix(SUFFIX) + "-report")
        try:
            written = write_all_reports(opened.bundle)
            for path in written:  # a family's member reports keep their place (the family's links to them)
                rel = Path(path).relative_to(opened.bundle)
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target / rel)
            md, html = (Path(p).relative_to(opened.bundle) for p in written[-2:])
        except FairfightError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        except OSError as exc:
            print(f"error: cannot write the reports into {target}: {exc}", file=sys.stderr)
            return EXIT_INVALID
        except (ValueError, KeyError, TypeError) as exc:
            print(f"error: the archive's family.json is not a family bundle's: {exc!r}", file=sys.stderr)
            return EXIT_INVALID
    print(target / md)
    print(target / html)
    return EXIT_OK
