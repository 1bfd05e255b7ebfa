"""What a worker process needs in its environment to import *this* fairfight.

A worker's interpreter puts its current directory first on sys.path. A git clone's default
folder name is `fairfight`, and from the folder that holds it that clone (no __init__.py) is a
namespace package named `fairfight`. Python prefers a regular package found *anywhere* on
sys.path over a namespace portion, but an editable install is found by a finder that comes after
the path search, so the clone folder won: every worker failed with "cannot import name
'__version__' from 'fairfight' (unknown location)". Putting the folder that holds the real
package on PYTHONPATH makes the regular package visible to the path search, whatever the current
directory holds, while the current directory stays importable for a method's own modules.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def package_root() -> Path:
    import fairfight

    return Path(fairfight.__file__).resolve().parent.parent


def child_import_env() -> dict:
    """Environment variables to give every process that imports fairfight (empty when the
    package already lies in a sys.path folder, as with a normal install)."""
    root = package_root()
    on_path = {Path(p).resolve() for p in sys.path if p}
    if root in on_path:
        return {}
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(root) in current:
        return {}
    return {"PYTHONPATH": os.pathsep.join([str(root), *current])}


def export_child_import_env() -> dict:
    """Put child_import_env() into this process's environment, which child processes inherit."""
    env = child_import_env()
    os.environ.update(env)
    return env
