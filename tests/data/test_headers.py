"""`validate` reads the columns of local data files from their first row / header / schema (fairfight/
data/headers.py): a misspelt column is found without --data, even beside other problems; --no-data
keeps the static check alone."""
import os
import subprocess
import sys

import pytest

from fairfight.data.headers import file_columns, split_file_columns
from testkit import write_bios


def test_columns_from_first_row_header_and_schema(tmp_path):
    (tmp_path / "a.jsonl").write_text('\n{"text": "x", "label": 1}\n{"other": 2}\n')
    (tmp_path / "b.csv").write_text("text,label,group\nx,1,a\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["x"], "label": [1]}), tmp_path / "c.parquet")
    assert file_columns("jsonl", "a.jsonl", tmp_path) == {"text", "label"}
    assert file_columns("csv", "b.csv", tmp_path) == {"text", "label", "group"}
    assert file_columns("parquet", "c.parquet", tmp_path) == {"text", "label"}
    import gzip

    with gzip.open(tmp_path / "d.jsonl.gz", "wt") as f:
        f.write('{"bio": "x", "title": "nurse"}\n')
    assert file_columns("jsonl", "d.jsonl.gz", tmp_path) == {"bio", "title"}  # compressed, as the bios example
    assert file_columns("jsonl", "missing.jsonl", tmp_path) is None  # loading says why
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    assert file_columns("jsonl", "broken.jsonl", tmp_path) is None
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "p1.csv").write_text("bio,label\n")
    assert split_file_columns("csv:parts/*.csv", tmp_path, "bio") == {"text", "label"}  # the text column renamed
    assert split_file_columns("csv:parts/*.csv", tmp_path, "body") is None


SPEC = """
fairfight: 1
task: {name: local-columns}
model: {source: "path:MODEL"}
datasets:
  bios: {source: jsonl:bios.jsonl, split_column: split}
splits:
  train: {from: bios/train}
  test: {from: bios/test, role: evaluation}
evaluate:
  split: test
  target: profession
  groups: [profession, gendr]
  metrics: [accuracy]
rules:
  model: [embed]
  data: {train: [text, profession]}
"""


def validate(spec, *args):
    return subprocess.run([sys.executable, "-m", "fairfight.cli", "validate", *args, str(spec)], capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.fixture()
def typo_spec(tmp_path, bert_dir):
    write_bios(tmp_path / "bios.jsonl", 20, 10, 0)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("MODEL", str(bert_dir)))
    return spec


def test_validate_finds_a_column_typo_in_a_local_file_by_default(typo_spec):
    r = validate(typo_spec)
    assert r.returncode == 2, r.stdout
    line = next(x for x in r.stdout.splitlines() if "gendr" in x)
    assert line.startswith(f"{typo_spec}:13:24: evaluate.groups[1]: split 'test' has no column 'gendr'; did you "
                           "mean 'gender'?"), line
    with_data = validate(typo_spec, "--data")
    assert with_data.returncode == 2 and line in with_data.stdout  # the same finding, where --data and eval find it
    fast = validate(typo_spec, "--no-data")
    assert fast.returncode == 0, fast.stdout  # the static check alone cannot know the file's columns
    both = validate(typo_spec, "--data", "--no-data")
    assert both.returncode == 2 and "choose one" in both.stderr


def test_every_problem_at_once_a_static_error_beside_a_column_typo(typo_spec):
    typo_spec.write_text(typo_spec.read_text().replace("metrics: [accuracy]", "metrics: [acuracy]"))
    r = validate(typo_spec)
    assert r.returncode == 2
    assert "'acuracy'" in r.stdout and "'gendr'" in r.stdout  # both, in one run


def test_reading_headers_does_not_import_torch(typo_spec):
    code = ("import sys; from fairfight.cli import main\n"
            "try: main(['validate', sys.argv[1]])\nexcept SystemExit: pass\n"
            "print('torch' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code, str(typo_spec)], capture_output=True, text=True)
    assert r.stderr.strip().splitlines()[-1] == "False", r.stderr
