"""docs/spec-reference.md, generated from the schema (so the two can never disagree).

    python -m fairfight.spec.reference > docs/spec-reference.md
"""
from __future__ import annotations

import json

from .schema import _Converter, schema

HEADER = """# Spec reference (version 1)

Generated from `schema/fairfight.schema.json` by `python -m fairfight.spec.reference`; do not
edit by hand. The language itself (filters, claims, affordances, errors) is explained in
[spec-language.md](spec-language.md). `<name>` stands for a name you choose.
"""


def _type(node) -> str:
    node = _Converter._resolve(node)
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "anyOf" in node:
        return " or ".join(_type(b) for b in node["anyOf"])
    kind = node.get("type", "")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and "items" in node:
        return f"list of {_type(node['items'])}"
    return kind or "any"


def _rows(node, path, out):
    node = _Converter._resolve(node)
    for key, sub in node.get("properties", {}).items():
        _row(sub, f"{path}.{key}" if path else key, out)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        _row(extra, f"{path}.<name>", out)


def _row(sub, path, out):
    resolved = _Converter._resolve(sub)
    desc = sub.get("description") or resolved.get("description", "")
    default = sub.get("default", resolved.get("default"))
    examples = resolved.get("examples") or sub.get("examples") or []
    cells = [f"`{path}`", _type(sub), "" if default is None else f"`{json.dumps(default)}`",
             desc.replace("|", "\\|") + ("<br>e.g. " + ", ".join(f"`{json.dumps(e)}`" for e in examples[:2]) if examples else "")]
    out.append("| " + " | ".join(cells) + " |")
    if resolved.get("type") == "object" or "properties" in resolved:
        _rows(resolved, path, out)


def render() -> str:
    s = schema()
    lines = [HEADER]
    required = set(s["required"])
    for key, sub in s["properties"].items():
        lines.append(f"## `{key}`{' (required)' if key in required else ''}\n")
        lines.append((_Converter._resolve(sub).get("description") or sub.get("description", "")) + "\n")
        lines.append("| key | type | default | meaning |\n|---|---|---|---|")
        rows = []
        _row(sub, key, rows)
        lines += rows
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
