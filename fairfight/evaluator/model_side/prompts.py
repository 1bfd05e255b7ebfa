"""Prompts for causal LMs: plain text, or chat messages rendered with the model's own template.

A chat prompt is a list of {"role": "system" | "user" | "assistant", "content": str} turns. It is
rendered here, on the trusted side, with the tokenizer's chat template and the assistant's turn
opened (add_generation_prompt; a prompt whose last turn is the assistant's continues that turn),
so every contender's "ask the model" means the same text; a
contender never supplies a template. What arrives is checked before anything renders it: it came
from a contender and may be anything the wire can carry.
"""
from __future__ import annotations

from fairfight.errors import FairfightError

ROLES = ("system", "user", "assistant")
MAX_TURNS = 256  # per chat prompt: a conversation, not a data set smuggled through one prompt


def check_prompts(prompts, what: str = "prompts") -> list:
    """Each prompt as a str or a tuple of {"role", "content"} dicts; anything else is refused."""
    if hasattr(prompts, "texts"):
        prompts = prompts.texts
    if isinstance(prompts, (str, bytes, dict)):
        raise FairfightError(f"{what} must be a list of prompts (texts or chat message lists), not a single "
                             f"{type(prompts).__name__}")
    try:
        items = list(prompts)
    except TypeError:
        raise FairfightError(f"{what} must be a list of prompts, got {type(prompts).__name__}") from None
    return [p if isinstance(p, str) else _messages(p, f"{what}[{i}]") for i, p in enumerate(items)]


def _messages(turns, where: str) -> tuple:
    if not isinstance(turns, (list, tuple)):
        raise FairfightError(f"{where} must be a text or a list of chat messages, got {type(turns).__name__}")
    if not turns:
        raise FairfightError(f"{where}: a chat prompt needs at least one message")
    if len(turns) > MAX_TURNS:
        raise FairfightError(f"{where}: {len(turns)} messages; a chat prompt holds at most {MAX_TURNS}")
    out = []
    for j, turn in enumerate(turns):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise FairfightError(f"{where}[{j}] must be a dict with exactly the keys 'role' and 'content'")
        role, content = turn["role"], turn["content"]
        if role not in ROLES:
            raise FairfightError(f"{where}[{j}]: role {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise FairfightError(f"{where}[{j}]: content must be a string, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    return tuple(out)


def is_chat(prompt) -> bool:
    return not isinstance(prompt, str)


def prompt_key(prompt) -> str:
    """What the ledger compares to know a prompt: a text is itself; a chat prompt is its messages
    written canonically (an evaluation input that is a chat prompt, sent as it is, costs nothing; a
    chat prompt built around it, with a system turn or demonstrations, is another prompt)."""
    if isinstance(prompt, str):
        return prompt
    import json

    return "\x00chat:" + json.dumps([[t["role"], t["content"]] for t in prompt], ensure_ascii=False)


def message_problem(value) -> str | None:
    """Why `value` is not a chat prompt (None: it is one), for the data checks."""
    try:
        _messages(value, "it")
    except FairfightError as exc:
        return str(exc)
    return None


def render(tokenizer, prompts: list, what: str = "prompts") -> tuple[list[str], bool]:
    """(texts, templated): the prompts as the model reads them, and whether they came from its
    chat template (their special tokens are in the text then: the tokenizer must not add more)."""
    chats = [is_chat(p) for p in prompts]
    if any(chats) and not all(chats):
        raise FairfightError(f"{what}: one call takes texts or chat message lists, not both (call once for each)")
    if not any(chats):
        return list(prompts), False
    if not getattr(tokenizer, "chat_template", None):
        raise FairfightError(f"{what}: chat messages need a chat template, and this model's tokenizer has none "
                             "(pass plain texts)")
    try:
        texts = [_render_one(tokenizer, p) for p in prompts]
    except Exception as exc:  # the model's template may refuse an order of turns (e.g. two system turns)
        raise FairfightError(f"{what}: the model's chat template cannot render these messages: {exc}") from None
    return texts, True


def turn_prefix(tokenizer, prompt, ids) -> int:
    """How many of a chat prompt's tokens `ids` are its earlier turns (all but the last, rendered
    as closed turns), when they are a prefix of `ids`; 0 for a text, a one-turn chat, or a template
    that renders earlier turns otherwise inside the whole. A function of the prompt alone: the
    decoding computes those turns once per run (decoding.py), never depending on other prompts."""
    if isinstance(prompt, str) or len(prompt) < 2:
        return 0
    try:
        text = tokenizer.apply_chat_template([dict(t) for t in prompt[:-1]], tokenize=False)
        head = tokenizer(text, add_special_tokens=False)["input_ids"]
    except Exception:  # a template may refuse a conversation cut there (e.g. one that must end with a user)
        return 0
    return len(head) if 0 < len(head) < len(ids) and list(ids[:len(head)]) == list(head) else 0


def _render_one(tokenizer, prompt) -> str:
    """A prompt that ends with the user's (or the system's) turn opens the assistant's; one that ends
    with an assistant turn is that turn, left open: the model continues it (a prefilled answer; the
    state at its last token is where contrastive activation addition reads an answer)."""
    turns = [dict(t) for t in prompt]
    if turns[-1]["role"] == "assistant":
        return tokenizer.apply_chat_template(turns, continue_final_message=True, tokenize=False)
    return tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)


__all__ = ["ROLES", "check_prompts", "render", "is_chat", "prompt_key", "message_problem", "turn_prefix"]
