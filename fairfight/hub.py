"""Is the Hugging Face hub reachable? Asked once per process, before an `hf:` model or dataset loads.

Without the offline variables, `datasets` and `huggingface_hub` retry an unreachable hub with
growing waits (about 70 s over 15 tries) before they fail. One connection attempt with a short
timeout tells the same thing at once: when it fails, this process goes offline (the libraries
then read their local caches only, so a model or dataset downloaded before still loads), and a
load that needs the network fails at once, with `unreachable()` saying why.
"""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

TIMEOUT = 3.0  # seconds for one connection attempt
DEFAULT_ENDPOINT = "https://huggingface.co"
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_checked: dict = {}  # endpoint -> None (reachable) or why not


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


def _offline_already() -> bool:
    if any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in _OFFLINE_VARIABLES[:1]):
        return True
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def unreachable() -> str | None:
    """Why the hub cannot be reached (and this process went offline), or None: reachable, or offline
    by the user's own choice (HF_HUB_OFFLINE), where the libraries never try the network."""
    if _offline_already() and endpoint() not in _checked:
        return None
    url = endpoint()
    if url not in _checked:
        _checked[url] = _probe(url)
        if _checked[url] is not None:
            go_offline()
    return _checked[url]


def _probe(url: str) -> str | None:
    parsed = urlparse(url)
    host = parsed.hostname
    if not host:
        return f"HF_ENDPOINT '{url}' is not a URL"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT):
            return None
    except OSError as exc:
        return f"the Hugging Face hub at {url} is unreachable ({exc.strerror or type(exc).__name__})"


def go_offline() -> None:
    """The offline variables for this process and the ones it starts, and the libraries' own switches
    where they were imported before (they read the variables once, at import)."""
    import sys

    for name in _OFFLINE_VARIABLES:
        os.environ[name] = "1"
    if "huggingface_hub.constants" in sys.modules:
        sys.modules["huggingface_hub.constants"].HF_HUB_OFFLINE = True
    if "datasets.config" in sys.modules:
        config = sys.modules["datasets.config"]
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            if hasattr(config, name):
                setattr(config, name, True)
    if "transformers.utils.hub" in sys.modules:
        hub = sys.modules["transformers.utils.hub"]
        if hasattr(hub, "_is_offline_mode"):
            hub._is_offline_mode = True


def hint(what: str) -> str:
    """The sentence a failed hf: load ends with: why, and what to do."""
    why = _checked.get(endpoint())
    if why:
        return (f"; {why}, so {what} was looked up in the local cache only, and it is not there: download it "
                "while online, or save it to a file (jsonl:/csv:/parquet:, path:DIR for a model)")
    return ("; it could not be fetched from the Hugging Face hub (offline? download it first, "
            "or save it to a file and use jsonl:/csv:/parquet:)")
