"""benchmarks/generation_vs_script.py keeps running (a tiny chat GPT-2 in place of SmolLM2) and
both programs answer every contender's prompts."""
import re

from bench_run import run_benchmark
from generationkit import tiny_chat_gpt2


def test_generation_vs_script_prints_the_table_and_both_sides_score_every_contender(tmp_path):
    model = tiny_chat_gpt2(tmp_path / "model", init_range=0.3)
    out = run_benchmark("generation_vs_script.py", "--model", f"path:{model}", "--smoke")
    for row in ("plain script", "fairfight eval"):
        assert re.search(rf"^{row}\s+[\d.]+\s+\d+\s+\d+\s+\d*\s+\d+\s+[\d.]+$", out, re.M), (row, out)
    assert re.search(r"fairfight/script = [\d.]+", out), out
    rows = dict(re.findall(r"^  (\w+)\s+([\d.]+ / [\d.]+   [\d.]+ / [\d.]+)$", out, re.M))
    assert set(rows) == {"no_edit", "instruct", "few_shot_prompt", "caa"}, out
    answers = int(re.search(r"^fairfight eval\s+[\d.]+\s+\d+\s+\d+\s+(\d+)", out, re.M).group(1))
    assert answers == 4 * 2 * 3  # 4 contenders x 1 seed x (3 plain + 3 insistent) prompts
