"""Plain helpers the tests share (imported as `testkit`: tests/ is on sys.path through the root
conftest; a `from conftest import ...` can meet another folder's conftest module instead)."""
import json

from fairfight.data.builtin import generate

SENTENCES = [
    "the nurse helped the patient in the ward",
    "the professor wrote a long paper about physics",
    "she is a doctor and he is a teacher",
    "a cat sat on the warm mat",
    "the weather is cold and rainy today",
    "my friend bought a new red car",
]


def write_bios(path, size: int, test_size: int, seed: int) -> None:
    """Generated bios (builtin:synthetic_bios) as one JSONL file with a `split` column."""
    parts = generate("synthetic_bios", {"size": size, "test_size": test_size, "seed": seed})
    with open(path, "w") as f:
        for split, rows in parts.items():
            for row in rows:
                f.write(json.dumps({**row, "split": split}) + "\n")
