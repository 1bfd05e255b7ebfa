"""`fairfight audit`: what a reviewer can check from a bundle alone (and, with --rerun, the data)."""
from .archive import run_archive_audit
from .core import Audit, Finding, run_audit

__all__ = ["Audit", "Finding", "run_archive_audit", "run_audit"]
