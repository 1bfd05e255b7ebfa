import pytest

from fairfight.errors import FairfightError, SpecError
from fairfight.spec.loader import load_document, parse
from fairfight.spec.source import Source


def doc(text):
    return parse(Source("s.yaml", text))


def errors(text):
    try:
        d = doc(text)
    except SpecError as exc:
        return [x.headline() for x in exc.diagnostics]
    return [x.headline() for x in d.errors]


def test_yaml11_words_stay_text():
    d = doc("a: no\nb: yes\nc: on\nd: off\ne: y\n")
    assert d.data == {"a": "no", "b": "yes", "c": "on", "d": "off", "e": "y"}


def test_dates_and_sexagesimal_stay_text():
    d = doc("a: 2001-01-01\nb: 1:20\nc: 2001-12-14t21:59:43.10-05:00\n")
    assert d.data == {"a": "2001-01-01", "b": "1:20", "c": "2001-12-14t21:59:43.10-05:00"}


def test_core_schema_values():
    d = doc("a: 010\nb: 0x1F\nc: 0o17\nd: 1.5e3\ne: true\nf: ~\ng: -.inf\nh: 'true'\ni: 1_000\n")
    assert d.data["a"] == 10 and d.data["b"] == 31 and d.data["c"] == 15
    assert d.data["d"] == 1500.0 and d.data["e"] is True and d.data["f"] is None
    assert d.data["g"] == float("-inf") and d.data["h"] == "true" and d.data["i"] == "1_000"


def test_keys_are_text_as_written():
    d = doc("labels: {21: professor, 13: nurse, no: x}\n")
    assert d.data == {"labels": {"21": "professor", "13": "nurse", "no": "x"}}


def test_positions_of_values_and_keys():
    d = doc("task:\n  name: x\n  tier:   fair-fight\n")
    assert (d.spans[("task", "tier")].line, d.spans[("task", "tier")].col) == (3, 11)
    assert (d.key_spans[("task", "tier")].line, d.key_spans[("task", "tier")].col) == (3, 3)


def test_duplicate_keys_are_errors_with_both_places():
    assert errors("a: 1\nb: 2\na: 3\n") == [
        "s.yaml:3:1: a: duplicate key 'a' (first written at line 1); the second value would silently win in plain YAML"]


def test_complex_and_empty_keys_are_errors():
    assert errors("? [a, b]\n: 1\n") == ["s.yaml:1:3: a key must be plain text, not a list or a mapping"]
    assert errors("? \n: 1\nx: 2\n")[0].startswith("s.yaml:")


def test_merge_keys_and_tags_refused():
    assert "merge keys" in errors("a: &x {b: 1}\nc:\n  <<: *x\n")[0]
    assert errors("a: !python/object x\n") == ["s.yaml:1:4: a: YAML tags such as '!python/object' are not supported in specs"]


def test_explicit_tags_are_checked():
    assert errors("a: !!int x\n") == ["s.yaml:1:4: a: 'x' cannot be read as !!int"]
    assert doc("a: !!str 12\n").data == {"a": "12"}


def test_recursive_alias_is_an_error_not_a_hang():
    errs = errors("a: &x [*x]\n")
    assert errs and "recursive alias" in errs[0]


def test_empty_file():
    assert errors("") == ["s.yaml:1:1: the file is empty; a spec is a mapping that starts with 'fairfight: 1'"]
    assert errors("# only a comment\n") == errors("")


def test_non_mapping_top_level():
    assert errors("- a\n- b\n") == ["s.yaml:1:1: a spec must be a mapping of keys to values, not a list"]
    assert errors("hello\n") == ["s.yaml:1:1: a spec must be a mapping of keys to values, not a single value (str)"]


def test_syntax_error_is_positioned():
    errs = errors("a: [1, 2\nb: 3\n")
    assert len(errs) == 1 and errs[0].startswith("s.yaml:2:2:") and "YAML syntax error" in errs[0]
    errs = errors("a:\n\tb: 1\n")
    assert errs[0].startswith("s.yaml:2:1:") and "tab" in errs[0].lower() or "YAML" in errs[0]


def test_binary_and_bad_encoding(tmp_path):
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"a: 1\nb: \x00\x01\x02")
    with pytest.raises(SpecError) as e:
        load_document(p)
    assert e.value.diagnostics[0].headline() == f"{p}:2:4: this is a binary file, not a YAML spec (NUL byte)"
    p.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(SpecError) as e:
        load_document(p)
    assert e.value.diagnostics[0].headline() == f"{p}:2:7: the file is not UTF-8 text (byte 0xe9)"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FairfightError, match="cannot read the spec"):
        load_document(tmp_path / "nope.yaml")
    with pytest.raises(FairfightError, match="is a directory"):
        load_document(tmp_path)


def test_snippet_has_caret_under_the_value():
    d = doc("a:\n  b: wrong\n")
    diag = d.diagnostic(("a", "b"), "bad")
    line, caret = diag.snippet.splitlines()
    assert line.endswith("  b: wrong")
    assert caret.index("^") == line.index("wrong") and caret.count("~") == 4


def test_pipes_devices_and_huge_files_are_refused_unread(tmp_path):
    import os

    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    for path in (fifo, "/dev/zero"):  # /dev/zero would never end
        with pytest.raises(SpecError, match="is not a regular file"):
            load_document(path)
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(17 * 2**20)  # sparse: nothing is written
    with pytest.raises(SpecError, match="the file has 17 MiB; a spec is a small YAML file"):
        load_document(big)


def test_lines_are_counted_as_yaml_counts_them(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(b"a: 1\rb: !!int x\r")  # CR alone ends a line for YAML: the snippet must show YAML's line 2
    (error,) = load_document(p).errors
    assert error.headline() == f"{p}:2:4: b: 'x' cannot be read as !!int"
    assert error.snippet.splitlines()[0].endswith("b: !!int x") and "^" in error.snippet
    p.write_text("a: x\u2028y\nb: [\n", encoding="utf-8")  # YAML would put 'y' on line 2, editors on line 1
    with pytest.raises(SpecError) as e:
        load_document(p)
    assert e.value.diagnostics[0].headline().startswith(f"{p}:1:5: character U+2028 (LINE SEPARATOR) ends a line")
    p.write_bytes("a: 1\n".encode("utf-16"))
    with pytest.raises(SpecError) as e:
        load_document(p)
    assert e.value.diagnostics[0].headline() == f"{p}:1:1: the file is UTF-16 text; save it as UTF-8"
