"""The JSON Schema (the public contract) and its errors as positioned diagnostics."""
from __future__ import annotations

import copy
import functools
import json
from importlib import resources

from .loader import YAML11_BOOLS, Document
from .suggest import suggest

SCHEMA_FILE = "fairfight.schema.json"


@functools.lru_cache(maxsize=None)
def schema_text() -> str:
    return resources.files("fairfight._schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def _schema() -> dict:
    return json.loads(schema_text())


def schema() -> dict:
    """A copy of the spec JSON Schema (draft-07)."""
    return copy.deepcopy(_schema())


def schema_path() -> str:
    """Absolute path of the shipped schema file (for editor modelines)."""
    with resources.as_file(resources.files("fairfight._schemas").joinpath(SCHEMA_FILE)) as p:
        return str(p)


def enum_of(definition: str) -> tuple:
    return tuple(_schema()["definitions"][definition]["enum"])


_NOUNS = {
    "model_op": "an affordance (model operation)",
    "baseline_name": "a known baseline",
    "skyline_name": "a known skyline",
    "control_name": "a known control",
}

_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "nothing"}


def _describe(value) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text '{value}'" if len(value) < 60 else "text"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, float):
        return f"the number {value:g}" if value - value == 0 else f"{value:g}, which is not a finite number"
    return type(value).__name__


def _is_whole_number(checker, value) -> bool:
    # JSON Schema counts 3.0 as an integer; the spec's integers feed range() and slices, and
    # YAML reads `3.0` and `1e3` as floats, so only a written whole number is one.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(checker, value) -> bool:
    # YAML's .nan and .inf are numbers to JSON Schema; NaN passes every bound and compares false
    # with everything (a confidence of NaN makes every interval NaN), so neither is a number here.
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and value - value == 0)


@functools.lru_cache(maxsize=None)
def _validator():
    import jsonschema

    checker = jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_whole_number, "number": _is_finite_number})
    strict = jsonschema.validators.extend(jsonschema.Draft7Validator, type_checker=checker)
    return strict(_schema())


def _noun_for(sub_schema) -> str:
    for name, noun in _NOUNS.items():
        if sub_schema is _schema()["definitions"].get(name) or sub_schema.get("enum") == _schema()["definitions"][name]["enum"]:
            return noun
    return "one of the allowed values"


class _Converter:
    """Turns jsonschema errors into diagnostics that say what to write instead."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.out = []

    def add(self, path, message, key=False):
        self.out.append(self.doc.diagnostic(path, message, key=key))

    def convert(self, error):
        path = tuple(error.absolute_path)
        name = error.validator
        handler = getattr(self, f"_on_{name}", None)
        if "propertyNames" in error.relative_schema_path:
            return self._on_key_name(error, path)
        if handler:
            return handler(error, path)
        return self.add(path, error.message)

    def _on_key_name(self, error, path):
        key = error.instance
        if error.validator == "enum":
            self.add(path + (key,), f"'{key}' is not {_noun_for(error.schema)}{suggest(key, error.validator_value)}", key=True)
        else:
            self.add(path + (key,), f"'{key}' is not a valid name: {error.schema.get('description', 'use letters, digits, _ and -')}",
                     key=True)

    def _on_additionalProperties(self, error, path):
        allowed = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in allowed:
                hint = suggest(key, allowed) or (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
                self.add(path + (key,), f"unknown key '{key}'{hint}", key=True)

    def _on_required(self, error, path):
        missing = [k for k in error.validator_value if k not in error.instance]
        for key in missing:
            where = f" in {path[-1]!s}" if path else ""
            self.add(path, f"missing required key '{key}'{where}", key=True)

    def _on_enum(self, error, path):
        value = error.instance
        noun = _noun_for(error.schema)
        options = error.validator_value
        hint = suggest(value, options) if isinstance(value, str) else ""
        listing = "" if hint else f" (one of: {', '.join(map(str, options))})"
        self.add(path, f"{_describe(value)} is not {noun}{hint}{listing}")

    def _on_type(self, error, path):
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else wanted
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted)
        message = f"expected {names}, got {_describe(error.instance)}"
        if "boolean" in wanted and error.instance in YAML11_BOOLS:
            message += " (in fairfight specs only true and false are booleans)"
        value = error.instance
        if "integer" in wanted and isinstance(value, float) and value - value == 0 and value.is_integer():
            message = f"expected a whole number, got {value!r} (YAML reads it as a fraction): write {int(value)}"
        self.add(path, message)

    def _on_pattern(self, error, path):
        what = error.schema.get("description", "")
        self.add(path, f"{_describe(error.instance)} is not of the expected form" + (f": {what}" if what else ""))

    def _on_anyOf(self, error, path):
        # Report the branch whose type fits the value; only if none fits, list the types.
        fitting = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        branches = {e.relative_schema_path[0] for e in error.context if e.validator == "type" and not e.relative_path}
        fitting = [e for e in fitting if e.relative_schema_path[0] not in branches]
        if fitting:
            for sub in fitting:
                self.convert(sub)
            return
        kinds = []
        for branch in error.validator_value:
            target = self._resolve(branch)
            kinds.append(_TYPE_NAMES.get(target.get("type"), "a value") if "enum" not in target else _noun_for(target))
        self.add(path, f"expected {' or '.join(dict.fromkeys(kinds))}, got {_describe(error.instance)}")

    _on_oneOf = _on_anyOf

    @staticmethod
    def _resolve(sub):
        ref = sub.get("$ref", "")
        if ref.startswith("#/definitions/"):
            return _schema()["definitions"][ref.rsplit("/", 1)[-1]]
        return sub

    def _on_maxLength(self, error, path):
        self.add(path, f"is {len(error.instance)} characters long; at most {error.validator_value}")

    def _on_minItems(self, error, path):
        self.add(path, f"needs at least {error.validator_value} item(s)")

    def _on_maxProperties(self, error, path):
        self.add(path, f"takes exactly one key (the name), got {len(error.instance)}: {', '.join(error.instance)}")

    def _on_minProperties(self, error, path):
        self.add(path, f"needs at least {error.validator_value} entry")

    def _on_uniqueItems(self, error, path):
        seen, dups = set(), []
        for item in error.instance:
            token = json.dumps(item, sort_keys=True, default=str)
            if token in seen:
                dups.append(item)
            seen.add(token)
        self.add(path, "lists an item twice" + (f": {dups[0]!r}" if dups else ""))

    def _on_minimum(self, error, path):
        self.add(path, f"must be at least {error.validator_value}, got {error.instance}")

    def _on_maximum(self, error, path):
        self.add(path, f"must be at most {error.validator_value}, got {error.instance}")

    def _on_exclusiveMinimum(self, error, path):
        self.add(path, f"must be greater than {error.validator_value}, got {error.instance}")

    def _on_exclusiveMaximum(self, error, path):
        self.add(path, f"must be less than {error.validator_value}, got {error.instance}")


def check_schema(doc: Document) -> list:
    """Every structural problem of `doc` as positioned diagnostics."""
    conv = _Converter(doc)
    errors = list(_validator().iter_errors(doc.data))
    if doc.override_text and _keep_override_text(doc, errors):
        errors = list(_validator().iter_errors(doc.data))
    for error in errors:
        conv.convert(error)
    # One problem, one message: anyOf branches can repeat each other.
    seen, out = set(), []
    for d in conv.out:
        key = (d.pos, d.path, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _keep_override_text(doc: Document, errors) -> bool:
    """Where the schema wants text and a --set override gave a plain number (an all-digit
    sha256), use the text as written. True if anything changed."""
    changed = False
    pending = list(errors)
    while pending:
        error = pending.pop()
        pending.extend(error.context or ())
        path = tuple(error.absolute_path)
        wanted = error.validator_value if error.validator == "type" else ()
        if path in doc.override_text and "string" in ([wanted] if isinstance(wanted, str) else wanted):
            node = doc.data
            for part in path[:-1]:
                node = node[part]
            if not isinstance(node[path[-1]], str):
                node[path[-1]] = doc.override_text[path]
                changed = True
    return changed


def schema_default(*keys):
    """The schema's `default` for a key path, e.g. schema_default("evaluate", "seeds") -> 3.

    Keys that name user entries (a dataset's name) are written "*".
    """
    node = _schema()
    for key in keys:
        node = _Converter._resolve(node)
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return copy.deepcopy(_Converter._resolve(node).get("default", node.get("default")))
