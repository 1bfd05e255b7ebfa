"""Defensive access to spec data that may have failed the schema."""
from __future__ import annotations


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def _s(v) -> str | None:
    return v if isinstance(v, str) else None
