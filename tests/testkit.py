"""Plain helpers the tests share (imported as `testkit`: tests/ is on sys.path through the root
conftest; a `from conftest import ...` can meet another folder's conftest module instead)."""
import json

from fairfight.data.builtin import generate

EOS = "<|endoftext|>"

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


def bpe_tokenizer():
    """A byte-level BPE tokenizer trained here on SENTENCES (the tiny models' vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(SENTENCES * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token=EOS, eos_token=EOS)
