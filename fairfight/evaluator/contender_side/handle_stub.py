"""What a contender holds when the model lives in the model server: stubs with the public API of
ModelHandle and of the ledger, which send each call over the run's connection.

Nothing here can widen a grant: the server checks the grant and charges the ledger for every
call, and a refusal is recorded there before the error comes back (as the same exception type).
Requests are plain data (model_side/wire.py); a trained SAE travels as its weights, an edit as
its record, a gradients objective as one of fairfight.objectives (see docs/trust-boundary.md).
"""
from __future__ import annotations

import pickle
import threading

from ...errors import FairfightError
from ..model_side import wire
from ..model_side.server import raise_reply

OPERATIONS = ("generate", "logprobs", "embed", "activations", "intervene", "gradients", "weights", "finetune")


class ServerLink:
    """One run's connection to the model server (one request at a time)."""

    def __init__(self, conn):
        self.__conn = conn
        self.__lock = threading.Lock()
        self.__sent_saes: set = set()

    def call(self, op: str, hid: int = 0, /, **kw):
        data = wire.encode([op, int(hid), kw])
        with self.__lock:
            self.__conn.send_bytes(data)
            reply = pickle.loads(self.__conn.recv_bytes())
        if reply[0] == "ok":
            return reply[1]
        raise_reply(reply)

    def sae_name(self, sae) -> str:
        """The sha256 the server knows an SAE by, sending its weights the first time."""
        if isinstance(sae, str):
            from fairfight.sae.model import _REGISTRY

            sae = _REGISTRY.get(sae, sae)  # an SAE loaded here by name: send its weights; else the server's own
            if isinstance(sae, str):
                return sae
        if not hasattr(sae, "W_enc") or not hasattr(sae, "sha256"):
            raise FairfightError(f"not an SAE: {sae!r} (fairfight.sae.load_sae, train_topk, or its sha256)")
        if sae.sha256 not in self.__sent_saes:
            fields = {k: getattr(sae, k) for k in ("W_enc", "b_enc", "W_dec", "b_dec", "activation", "k",
                                                      "threshold", "subtract_b_dec", "source")}
            name = self.call("sae", **fields)
            if name != sae.sha256:
                raise FairfightError("the SAE's weights changed after it was made (its sha256 no longer matches)")
            self.__sent_saes.add(name)
        return sae.sha256

    def sent(self, name: str) -> None:
        """An SAE the server made for this run (train_sae): it needs no upload."""
        self.__sent_saes.add(name)


def _texts(inputs, what="texts"):
    if hasattr(inputs, "texts"):
        inputs = inputs.texts
    if isinstance(inputs, (str, bytes)):
        raise FairfightError(f"{what} must be a list of strings, not a single string")
    return list(inputs)


class HandleStub:
    """ctx.model through the model server: the same operations and facts as ModelHandle."""

    def __init__(self, link: ServerLink, hid: int, facts: dict):
        self.__link, self.__id, self.__facts = link, int(hid), dict(facts)
        self.__head = None

    kind = property(lambda self: self.__facts["kind"])
    num_layers = property(lambda self: self.__facts["num_layers"])
    hidden_size = property(lambda self: self.__facts["hidden_size"])
    chat = property(lambda self: bool(self.__facts.get("chat")))
    grant = property(lambda self: frozenset(self.__facts["grant"]))

    @property
    def edits(self) -> tuple:
        from ..model_side.edits import edit_from_dict

        return tuple(edit_from_dict(d) for d in self.__facts["edits"])

    @property
    def head(self):
        if self.__facts["head"] is not None and self.__head is None:
            from ..model_side.classifier_head import ClassifierHead

            self.__head = ClassifierHead.from_state(self.__facts["head"])
        return self.__head

    def __repr__(self):
        ops = ", ".join(o for o in OPERATIONS if o in self.grant)
        return (f"ModelHandle(kind={self.kind!r}, num_layers={self.num_layers}, "
                f"hidden_size={self.hidden_size}, grant=[{ops}], edits={len(self.__facts['edits'])})")

    def _call(self, op, **kw):
        return self.__link.call(op, self.__id, **kw)

    def _derived(self, reply) -> "HandleStub":
        return HandleStub(self.__link, reply["id"], reply)

    # -- operations -------------------------------------------------------------------------
    def embed(self, texts, *, split=None):
        return self._call("embed", texts=_texts(texts), split=split)

    def activations(self, texts, *, layers, pool="mean", split=None) -> dict:
        return self._call("activations", texts=_texts(texts), layers=layers, pool=pool, split=split)

    def features(self, texts, sae, *, layer, pool="mean", split=None):
        return self._call("features", texts=_texts(texts), sae=self.__link.sae_name(sae), layer=layer, pool=pool,
                          split=split)

    def tokens(self, texts, *, split=None) -> list:
        return self._call("tokens", texts=_texts(texts), split=split)

    def train_sae(self, texts, *, layer, width, k, steps=None, batch_size=None, lr=None, seed=0, max_tokens=None,
                  max_seconds=None, split=None):
        from fairfight.sae.model import SAE

        reply = self._call("train_sae", texts=_texts(texts), layer=layer, width=width, k=k, steps=steps,
                           batch_size=batch_size, lr=lr, seed=seed, max_tokens=max_tokens, max_seconds=max_seconds,
                           split=split)
        sae = SAE(**{f: v for f, v in reply["sae"].items() if v is not None})
        if sae.sha256 != reply["sha256"]:
            raise FairfightError("the SAE the model server trained did not arrive intact (sha256 differs)")
        object.__setattr__(sae, "training", reply["training"])
        self.__link.sent(sae.sha256)  # the server holds it already
        return sae

    def intervene(self, edits) -> "HandleStub":
        from ..model_side.edits import edit_from_dict

        edits = [edits] if not isinstance(edits, (list, tuple)) else list(edits)
        records = []
        for e in edits:
            e = edit_from_dict(e) if isinstance(e, dict) else e
            if not hasattr(e, "to_dict"):
                raise FairfightError(f"not an edit: {e!r} (use ProjectOut, Ablate, AddVector or AblateFeatures)")
            if getattr(e, "sae", None) is not None:  # AblateFeatures: the server needs the SAE's weights
                self.__link.sae_name(e.sae)
            records.append(e.to_dict())
        return self._derived(self._call("intervene", edits=records))

    def gradients(self, texts, objective, *, wrt="hidden", layer=None, pool="mean", split=None):
        from ..model_side.objectives import is_declarative

        record = objective.to_dict() if is_declarative(objective) else {"objective": "callable"}
        return self._call("gradients", texts=_texts(texts), objective=record, wrt=wrt, layer=layer, pool=pool,
                          split=split)

    def weights(self) -> dict:
        return self._call("weights")

    def finetune(self, texts, labels, *, steps=None, epochs=1, lr=2e-5, head="linear", split=None,
                 seed=0, lora=None) -> "HandleStub":
        # head="lm": the texts are prompts (chat messages allowed), checked on the server like generate's
        texts = _texts(texts, "prompts") if head == "lm" else _texts(texts)
        return self._derived(self._call("finetune", texts=texts, labels=list(labels), steps=steps, epochs=epochs,
                                        lr=lr, head=head, split=split, seed=seed, lora=lora))

    def generate(self, prompts, *, max_new_tokens=20, split=None) -> list:
        return self._call("generate", prompts=_texts(prompts, "prompts"), max_new_tokens=max_new_tokens, split=split)

    def logprobs(self, prompts, continuations, *, split=None):
        return self._call("logprobs", prompts=_texts(prompts, "prompts"),
                          continuations=_texts(continuations, "continuations"), split=split)


class LedgerStub:
    """ctx.ledger through the model server: reads and refusals are recorded there."""

    def __init__(self, link: ServerLink):
        self.__link = link

    def read(self, split, column, rows, sha256=None) -> None:
        self.__link.call("read", split=split, column=column, rows=int(rows), sha256=sha256)

    def refuse(self, op, reason, split="inputs") -> None:
        self.__link.call("refuse", op=op, reason=str(reason), split=split)

    def to_dict(self) -> dict:
        return self.__link.call("ledger")

    def totals(self) -> dict:
        return self.to_dict()["totals"]

    @property
    def reads(self) -> dict:
        return self.totals()["reads"]


__all__ = ["ServerLink", "HandleStub", "LedgerStub"]
