"""Writing a tiny Llama model as a GGUF file, the way llama.cpp's converter does (for tests).

The file is made from a real (random, tiny) transformers LlamaForCausalLM and a real byte-level BPE
tokenizer, so a test can check what fairfight reads back against the model it came from: the
same logits (float32 tensors), or the de-quantised values (Q8_0 tensors).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
HEADS, KV_HEADS, HIDDEN, FFN, LAYERS = 4, 2, 32, 64, 2


def tiny_llama(tokenizer, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    eos = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=FFN,
                         num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                         max_position_embeddings=64, rms_norm_eps=1e-5, tie_word_embeddings=False,
                         bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # RMSNorm weights start at 1: make them differ, so a swapped tensor shows
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    return model


def loaded_tiny_llama(folder: Path, tok, seed: int = 0, chat_template: str | None = None):
    """A tiny Llama and the tokenizer `tok` saved to `folder`, loaded through path: (real loading code).
    The caller passes conftest's BPE tokenizer: a `conftest` imported here could be another folder's."""
    from fairfight.evaluator.model_side.models import load_model

    if chat_template:
        tok.chat_template = chat_template
    tiny_llama(tok, seed=seed).save_pretrained(folder)
    tok.save_pretrained(folder)
    return load_model(f"path:{folder}")


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary layout for q and k (transformers undoes it when it reads the file)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_tensors(model) -> dict[str, np.ndarray]:
    """llama.cpp's tensor names and layouts for a LlamaForCausalLM's weights."""
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    out = {"token_embd.weight": sd["model.embed_tokens.weight"], "output_norm.weight": sd["model.norm.weight"],
           "output.weight": sd["lm_head.weight"]}
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(model.config.num_hidden_layers):
        for hf, cpp in names.items():
            w = sd[f"model.layers.{i}.{hf}.weight"]
            if cpp == "attn_q":
                w = _permute(w, HEADS)
            elif cpp == "attn_k":
                w = _permute(w, KV_HEADS)
            out[f"blk.{i}.{cpp}.weight"] = np.ascontiguousarray(w)
    return out


def write_gguf(path: Path, model, tokenizer, *, quantize: bool = False, chat_template: str | None = CHAT_TEMPLATE) -> Path:
    """`model` and `tokenizer` as a GGUF file; `quantize`: matrices as Q8_0 (norms stay float32)."""
    import gguf
    from gguf.quants import quantize as q8

    cfg = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    special = set(tokenizer.all_special_tokens)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t, _ in vocab])
    merges = tokenizer.backend_tokenizer.to_str()
    import json

    merges = json.loads(merges)["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    eos = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    w.add_bos_token_id(eos)
    w.add_eos_token_id(eos)
    w.add_add_bos_token(False)
    if chat_template:
        w.add_chat_template(chat_template)
    for name, arr in gguf_tensors(model).items():
        if quantize and arr.ndim == 2:
            w.add_tensor(name, q8(arr, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, arr.astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)


def dequantized_q8(arr: np.ndarray) -> np.ndarray:
    """What a Q8_0 tensor of `arr` reads back as (the values a de-quantised model must hold)."""
    import gguf
    from gguf.quants import dequantize, quantize

    return dequantize(quantize(arr, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0)
