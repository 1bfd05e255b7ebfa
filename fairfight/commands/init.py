"""`fairfight init`: write a starter spec and its methods.py."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import FairfightError

EXIT_OK, EXIT_REFUSED = 0, 2


@dataclass
class InitOptions:
    path: str = "spec.yaml"
    tier: str = "fair-fight"
    schema_url: str | None = None
    force: bool = False


# An in-the-wild report judges no claims (validate warns about any), so its starter states none.
_CLAIMS = {
    "in-the-wild": "# claims: none; an in-the-wild report describes the method and judges no claims\n",
}
_DEFAULT_CLAIMS = "claims:\n  - my_method beats all baselines on worst_group_accuracy\n"


SCHEMA_COPY = "fairfight.schema.json"  # the editor's schema, beside the spec (`fairfight schema` refreshes it)


def _template(name: str) -> str:
    return resources.files("fairfight").joinpath("templates", name).read_text(encoding="utf-8")


def run_init(opts: InitOptions) -> int:
    try:  # a file where a folder should be, no permission, a name too long: bad input, not a crash
        return _run_init(opts)
    except OSError as exc:
        raise FairfightError(f"cannot write {exc.filename or opts.path}: {exc.strerror or exc}") from None


def _run_init(opts: InitOptions) -> int:
    from ..spec.schema import schema_path

    target = Path(opts.path)
    if target.is_dir() or target.suffix not in (".yaml", ".yml"):  # a folder to write spec.yaml into
        target = target / "spec.yaml"
    methods = target.parent / "methods.py"
    existing = [p for p in (target, methods) if p.exists()]
    if existing and not opts.force:
        raise FairfightError(f"{existing[0]} already exists; use --force to overwrite")
    task = re.sub(r"[^a-z0-9_.-]+", "-", (target.parent.resolve().name or "my-task").lower()).strip("-._") or "my-task"
    # The modeline names a copy of the schema beside the spec, by a relative path: it travels with the
    # spec's folder (an absolute path into this machine's environment did not), and works offline.
    text = string.Template(_template("spec.yaml")).substitute(
        schema=opts.schema_url or f"./{SCHEMA_COPY}", tier=opts.tier, task_name=task, spec_name=target.name,
        claims=_CLAIMS.get(opts.tier, _DEFAULT_CLAIMS))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    methods.write_text(_template("methods.py"), encoding="utf-8")
    written = [target, methods]
    if not opts.schema_url:
        (target.parent / SCHEMA_COPY).write_text(Path(schema_path()).read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target.parent / SCHEMA_COPY)
    print(f"wrote {', '.join(map(str, written))}\nnext: fairfight validate {target}")
    return EXIT_OK
