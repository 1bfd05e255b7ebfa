"""Semantic checks of the contenders: built-in baselines and skylines the rules cannot support,
claims that name unknown arms or metrics, and lint warnings. A mixin of `semantics.Checker`."""
from __future__ import annotations

from ._access import _d, _l, _s
from .expressions import ExpressionError, parse_claim
from .suggest import suggest
from .vocabulary import BASELINES, CONTROLS, MODEL_OPS, SKYLINES


class ContenderChecks:
    def check_builtins(self):
        ev = _d(self.data.get("evaluate"))
        target = _s(ev.get("target"))
        rule_data = self.rule_data()
        # generation tasks have no target: any granted split can hold demonstrations
        labeled = [s for s, cols in rule_data.items() if target in cols or (target is None and cols)]
        eval_cols = self.split_columns(_s(ev.get("split")))
        if self.target_reported or (eval_cols is not None and target is not None and target not in eval_cols):
            labeled = list(rule_data)  # the target itself is reported; do not repeat it per baseline
        attributes = [g for g in _l(ev.get("groups")) if isinstance(g, str) and g != target]
        knowledge = set(_d(self.rules().get("knowledge")))
        ops = self.rule_ops()
        seen = {}
        for i, entry in enumerate(_l(self.data.get("baselines"))):
            name = entry if isinstance(entry, str) else (next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else None)
            if name not in BASELINES:
                continue
            path = ("baselines", i)
            if name in seen:
                self.error(path, f"baseline '{name}' is listed twice (first as baselines[{seen[name]}])")
                continue
            seen[name] = i
            params = _d(_d(entry[name]).get("params")) if isinstance(entry, dict) else {}
            if isinstance(entry, dict):
                self.check_builtin_params(path + (name,), name, _d(entry[name]))
            why = self.cannot_run(BASELINES[name], ops, labeled, attributes, knowledge, target, rule_data, params,
                                  kind=_s(ev.get("kind")) or "classification")
            if why:
                self.error(path, f"required baseline '{name}' cannot run under these rules: {why}")
            else:
                self.check_word_knowledge(path + (name,), BASELINES[name], params)
        seen = {}
        for i, entry in enumerate(_l(self.data.get("skylines"))):
            if isinstance(entry, dict) and len(entry) == 1:
                name, settings = next(iter(entry.items()))
                if name in SKYLINES and name in seen:  # one label, one run key: the two would be one contender
                    self.error(("skylines", i), f"skyline '{name}' is listed twice (first as skylines[{seen[name]}])")
                    continue
                seen[name] = i
                if name in SKYLINES:
                    self.check_builtin_params(("skylines", i, name), name, _d(settings))
                split = _s(_d(settings).get("split"))
                path = ("skylines", i, name)
                if name in SKYLINES and split is None:
                    self.error(path, f"skyline '{name}' needs 'split:', the split it trains on (role: skyline)")
                elif split is not None and split not in self.splits():
                    self.error(path + ("split",), f"unknown split '{split}'{suggest(split, self.splits())}")
                elif split is not None and _d(self.splits()[split]).get("role") == "evaluation":
                    self.error(path + ("split",), f"'{split}' is the evaluation split; even a skyline may not train on it")
            elif isinstance(entry, str) and entry in SKYLINES:
                self.error(("skylines", i), f"skyline '{entry}' needs a training split: write '- {entry}: {{split: NAME}}'")

    def check_builtin_params(self, path, name, settings):
        """params: and search: of a built-in against its declarations (baselines/parameters.py)."""
        from ..baselines.parameters import declared, type_error

        params = declared(name)
        settable = [k for k, p in params.items() if p.set_by == "spec"]
        for section in ("params", "search"):
            for key, value in _d(settings.get(section)).items():
                at = path + (section, key)
                param = params.get(key)
                if param is None:
                    hint = suggest(key, settable) or f" ({name} takes {', '.join(settable) or 'no parameters'})"
                    self.error(at, f"{name} has no parameter '{key}'{hint}", key=True)
                elif param.set_by != "spec":
                    self.error(at, f"{name}'s '{key}' is chosen by the plan from the rules ({param.default}); "
                                   "it cannot be set in the spec", key=True)
                elif section == "params":
                    why = type_error(param, value)
                    if why:
                        self.error(at, f"{name}: {why}")
                    elif key == "max_new_tokens":
                        self.check_answer_length(at, name, value)
                    elif param.search and key not in _d(settings.get("search")) and self.tunes(path, settings):
                        self.warn(at, f"{name}'s '{key}' is tuned over {list(param.search)} (rules.selection is set): "
                                      f"the trials' choice replaces this value; to fix it, also write "
                                      f"search: {{{key}: [{value}]}}")
                else:
                    for j, candidate in enumerate(_l(value)):
                        why = type_error(param, candidate)
                        if why:
                            self.error(at + (j,), f"{name}: search candidate {why}")

    def tunes(self, path, settings) -> bool:
        """Whether the rules tune this built-in: more than one trial, and a selection split it trains
        on (a baseline: one the rules grant; a skyline: its own split; orchestration/tuning.py)."""
        rules = _d(self.data.get("rules"))
        trials, selection = _d(rules.get("budget")).get("trials"), rules.get("selection")
        if not (selection and isinstance(trials, int) and trials > 1):
            return False
        if path[0] == "skylines":
            return settings.get("split") == selection
        return selection in _d(rules.get("data"))

    def check_answer_length(self, path, name, value):
        """rules.budget.max_new_tokens caps every generate call: a contender written to ask for more
        would be refused at its first answer."""
        cap = _d(_d(self.rules()).get("budget")).get("max_new_tokens")
        if isinstance(cap, int) and isinstance(value, int) and not isinstance(value, bool) and value > cap:
            self.error(path, f"{name} asks for {value} new tokens per prompt, and rules.budget.max_new_tokens "
                             f"allows {cap}")

    def check_word_knowledge(self, path, item, params):
        """A baseline that reads words from a knowledge item needs a word list or a built-in concept."""
        from ..knowledge import CONCEPT_WORDS

        name = params.get(item.knowledge_param) if item.knowledge_param else None
        name = name if isinstance(name, str) else (item.knowledge[0] if item.knowledge else None)
        granted = _d(self.rules().get("knowledge"))
        if name is None or name not in granted:
            return
        value, where = granted[name], ("rules", "knowledge", name)
        if item.knowledge_form == "sae":
            if not isinstance(value, dict):
                self.error(path, f"{item.name} reads an SAE from knowledge '{name}', which is not an artifact; "
                                 "grant the SAE's folder as {artifact: FOLDER}")
            return
        if isinstance(value, dict):
            self.error(path, f"{item.name} reads words from knowledge '{name}', which is an artifact (a method gets "
                             "its text); grant the words as a list, or a built-in concept name "
                             f"({', '.join(sorted(CONCEPT_WORDS))})")
        elif isinstance(value, str) and value not in CONCEPT_WORDS:
            self.error(where, f"{item.name} reads words from knowledge '{name}', but '{value}' has no built-in word "
                              f"list{suggest(value, CONCEPT_WORDS)} (built-in: {', '.join(sorted(CONCEPT_WORDS))}); "
                              "grant the words themselves as a list")

    @staticmethod
    def cannot_run(item, ops, labeled, attributes, knowledge, target, rule_data, params=None, kind=None) -> str:
        if kind is not None and item.task != kind:
            return f"it is a baseline of {item.task} tasks, and this one is evaluate.kind: {kind}"
        if not any(set(alt) <= ops for alt in item.model_any):
            need = " or ".join(" and ".join(alt) for alt in item.model_any)
            noun = "operations" if any(len(alt) > 1 for alt in item.model_any) else "operation"
            return f"it needs model {noun} {need}, which rules.model does not grant"
        if item.labeled and not labeled:
            what = f"the target column '{target}'" if target else "examples"
            return f"it needs a granted split with {what} (rules.data)"
        needed = list(item.knowledge)
        if item.knowledge_param and isinstance((params or {}).get(item.knowledge_param), str):
            needed = [params[item.knowledge_param]]  # e.g. token_deletion's params.concept
        missing = [k for k in needed if k not in knowledge]
        if missing:
            return f"it needs knowledge '{missing[0]}' (rules.knowledge)"
        if item.attribute and not any(set(attributes) & cols for cols in rule_data.values()):
            return (f"it needs labels of a group attribute ({', '.join(attributes) or 'evaluate.groups'}) "
                    "granted in rules.data")
        return ""

    def arm_names(self):
        methods = set(_d(self.data.get("methods")))
        baselines = {e if isinstance(e, str) else next(iter(e)) for e in _l(self.data.get("baselines"))
                     if isinstance(e, str) or (isinstance(e, dict) and len(e) == 1)}
        skylines = {e if isinstance(e, str) else next(iter(e)) for e in _l(self.data.get("skylines"))
                    if isinstance(e, str) or (isinstance(e, dict) and len(e) == 1)}
        return methods, baselines, skylines

    def check_claims(self):
        methods, baselines, skylines = self.arm_names()
        controls = {c for c in _l(self.data.get("controls")) if c in CONTROLS}
        ev = self.data.get("evaluate")
        metrics = [m for m in _l(_d(ev).get("metrics")) if isinstance(m, str)] or ["accuracy"]
        known = sorted(methods | baselines | skylines)
        for i, text in enumerate(_l(self.data.get("claims"))):
            if not isinstance(text, str):
                continue
            path = ("claims", i)
            try:
                claim = parse_claim(text)
            except ExpressionError as exc:
                self.expr_error(path, exc, "invalid claim")
                continue
            for arm in (claim.subject, claim.against):
                if arm is None:
                    continue
                if arm.control is not None:
                    if arm.control not in controls:
                        hint = suggest(arm.control, controls) or "; list it under controls: to run it"
                        self.claim_error(path, arm.index, len(arm.control), f"'{arm.control}' is not a control of this spec{hint}")
                    elif arm.name not in methods:
                        at = arm.index + len(arm.control) + 1
                        self.claim_error(path, at, len(arm.name), f"controls apply to methods; '{arm.name}' is not a method"
                                                                  f"{suggest(arm.name, methods)}")
                elif arm.name not in known:
                    self.claim_error(path, arm.index, len(arm.name), f"unknown contender '{arm.name}'{suggest(arm.name, known)}"
                                                                     f" (contenders: {', '.join(known) or 'none'})")
            subject, against = claim.subject, claim.against
            if against is not None and (against.name, against.control) == (subject.name, subject.control):
                label = subject.name if subject.control is None else f"{subject.control}({subject.name})"
                self.claim_error(path, against.index, len(label), f"compares '{label}' with itself (the same "
                                                                  "runs on both sides); name another contender")
            if claim.metric == "group_accuracy":
                self.claim_error(path, claim.metric_index, len(claim.metric),
                                 "group_accuracy has one value per group; a claim needs one number "
                                 "(use worst_group_accuracy)")
            elif isinstance(ev, dict) and claim.metric not in metrics:
                self.claim_error(path, claim.metric_index, len(claim.metric),
                                 f"metric '{claim.metric}' is not in evaluate.metrics{suggest(claim.metric, metrics)}")
            if claim.against is None and not baselines:
                self.error(path, "claims 'beats all baselines' but the spec lists no baselines")
            if claim.relation == "matches" and claim.amount <= 0:
                self.error(path, "'within' needs a tolerance greater than 0")
            if claim.members is not None:
                self.check_member_range(path, claim.members, text)

    def check_member_range(self, path, members, text):
        """'in some member ...' needs a family, and its condition may name only the family's axes."""
        family = self.data.get("family")
        if not isinstance(family, dict):
            self.claim_error(path, members.index, len(text) - members.index, "this claim ranges over the members "
                             "of a family, but the spec has no `family:` block (see docs/families.md)")
            return
        axes = sorted(_d(family.get("axes")))
        for column in (members.where.columns() if members.where is not None else ()):
            if column.name not in axes:
                self.claim_error(path, members.where_index + column.index, len(column.name),
                                 f"'{column.name}' is not an axis of the family{suggest(column.name, axes)} "
                                 f"(axes: {', '.join(axes) or 'none'})")

    def claim_error(self, path, index, length, message):
        self.expr_error(path, ExpressionError(message, index, index + max(1, length)), "invalid claim")

    def lint(self):
        ops = self.rule_ops()
        _, baselines, _ = self.arm_names()
        exercised = {op for b in baselines if b in BASELINES for alt in BASELINES[b].model_any for op in alt}
        for op in sorted((ops & set(MODEL_OPS)) - exercised):
            if op in ("activations", "intervene", "gradients", "weights"):
                continue  # white-box access is what methods use; baselines need not
            kind = _s(_d(self.data.get("evaluate")).get("kind")) or "classification"
            fix = [b.name for b in BASELINES.values() if any(op in alt for alt in b.model_any) and b.task == kind]
            self.warn(("rules", "model"), f"the rules grant '{op}' but no baseline uses it"
                                          + (f"; consider adding {' or '.join(fix)}" if fix else ""))
        if self.tier == "in-the-wild" and _l(self.data.get("claims")):
            self.warn(("claims",), "an in-the-wild report computes no verdicts: claims are shown, not judged", key=True)
        if _l(self.data.get("controls")) and not _d(self.data.get("methods")):
            self.warn(("controls",), "controls rerun methods, and this spec has none", key=True)

