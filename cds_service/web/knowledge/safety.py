"""Page models of the rules that check: safety rules, monitoring prompts, dose limits and
duplication. Each says what it does (block, warn, info), to what, when, with the message the
card shows and the override reasons it offers.
"""

from __future__ import annotations

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import DoseLimit, DuplicationRule, SafetyPrompt, SafetyRule
from cds_service.web.knowledge.catalog import DOSE_LIMIT, DUPLICATION, PROMPT, SAFETY, page_path
from cds_service.web.knowledge.describe import condition, dose_threshold, names
from cds_service.web.knowledge.entries import (
    ConditionBlock,
    EntryView,
    entry_model,
    interventions_line,
    lab_order_line,
    override_fact,
)
from cds_service.web.knowledge.parts import Line, Text, fact, facts, words

# What each action does (README, "Safety checks"): labels, not knowledge.
ACTIONS = {
    "block": "block: never suggested; at order time a card offering to remove the draft",
    "warn": "warn: shown with a warning and override reasons",
    "info": "info: spacing or monitoring text",
}
_SCOPES = {"suggestions": "the service's own suggestions", "orders": "clinicians' draft orders"}


def safety_view(kb: KnowledgeBase, rule: SafetyRule) -> EntryView:
    target = rule.applies_to
    applies: list[Line] = []
    if target.all_supplements:
        applies.append(words("every supplement the service suggests"))
    if target.interventions:
        applies.append(interventions_line(kb, target.interventions))
    for tag in target.tags:
        tagged = [i.id for i in kb.interventions.values() if tag in i.tags]
        applies.append((Text(f"tag {tag}: "), *interventions_line(kb, tagged)))
    if target.medications:
        applies.append((Text("drugs: "), *names(kb, target.medications)))
    action = ACTIONS[rule.action] + (
        "; hard: never overridden"
        if rule.hard
        else "; critical at order time"
        if rule.critical
        else ""
    )
    rows = facts(
        fact("Action", action),
        fact("Applies to", *applies),
        fact("Except", names(kb, target.except_medications) if target.except_medications else None),
        fact(
            "By mouth only",
            "yes: injected or infused products are left out" if target.oral_only else None,
        ),
        fact("Above a daily dose", dose_threshold(rule.dose) if rule.dose else None),
        fact("Checked on", " and ".join(_SCOPES[s] for s in rule.scope)),
        fact("Instead", _replacement(kb, rule)),
        fact("Alert", "a critical card of its own" if rule.alert else None),
        fact("Silent", "no card at all at patient-view" if rule.silent else None),
        fact("Advice", rule.advice),
        fact(
            "Shares its finding with",
            (Text(rule.pair, page_path(SAFETY, rule.pair)),) if rule.pair else None,
        ),
        fact("Safer alternative", rule.alternative),
        # A hard block is never overridden; info cards ask for no reason.
        override_fact(kb, rule.override_reasons)
        if rule.action != "info" and not rule.hard
        else None,
    )
    return entry_model(
        kb,
        SAFETY,
        rule.id,
        rule.title,
        version=rule.version,
        grade=rule.grade,
        statement=rule.statement,
        message=rule.message,
        rows=rows,
        blocks=[ConditionBlock("Trigger", condition(rule.trigger, kb))],
        predicates=[rule.trigger],
        citations=rule.citations,
    )


def _replacement(kb: KnowledgeBase, rule: SafetyRule) -> Line | None:
    if rule.replacement is None:
        return None
    return (
        Text("offers the test instead of the supplement: "),
        *lab_order_line(kb, rule.replacement.lab_order)[1:],
    )


def prompt_view(kb: KnowledgeBase, prompt: SafetyPrompt) -> EntryView:
    suggests = (lab_order_line(kb, prompt.lab_order),) if prompt.lab_order else ()
    return entry_model(
        kb,
        PROMPT,
        prompt.id,
        prompt.title,
        version=prompt.version,
        grade=prompt.grade,
        statement=prompt.statement,
        message=prompt.message,
        blocks=[ConditionBlock("Trigger", condition(prompt.trigger, kb))],
        predicates=[prompt.trigger],
        suggests=suggests,
        citations=prompt.citations,
    )


def dose_limit_view(kb: KnowledgeBase, limit: DoseLimit) -> EntryView:
    counted: list[Line] = []
    if limit.interventions:
        counted.append(interventions_line(kb, limit.interventions))
    if limit.ingredients:
        counted.append(names(kb, limit.ingredients))
    rows = facts(
        fact("Counts", *counted),
        fact("Warning above", dose_threshold(limit.warn_above)),
        fact("Note above", dose_threshold(limit.info_above) if limit.info_above else None),
        fact("Limit from", limit.limit_source),
        fact(
            "Higher limit",
            *(
                f"warning above {dose_threshold(e.warn_above)}: {e.reason}"
                for e in limit.exceptions
            ),
        ),
        override_fact(kb, limit.override_reasons),
    )
    # The first exception that holds replaces the limit (engine/dose_limits.py).
    blocks = [
        ConditionBlock(
            f"The higher limit above {dose_threshold(e.warn_above)} applies when",
            condition(e.when, kb),
        )
        for e in limit.exceptions
    ]
    return entry_model(
        kb,
        DOSE_LIMIT,
        limit.id,
        limit.title,
        version=limit.version,
        grade=limit.grade,
        statement=limit.statement,
        message=limit.message,
        rows=rows,
        blocks=blocks,
        predicates=[e.when for e in limit.exceptions],
        citations=limit.citations,
    )


def duplication_view(kb: KnowledgeBase, rule: DuplicationRule) -> EntryView:
    covered = (
        interventions_line(kb, rule.interventions)
        if rule.interventions
        else words("every intervention of the knowledge base")
    )
    return entry_model(
        kb,
        DUPLICATION,
        rule.id,
        rule.title,
        version=rule.version,
        grade=rule.grade,
        statement=rule.statement,
        message=rule.message,
        rows=facts(fact("Covers", covered), override_fact(kb, rule.override_reasons)),
        citations=rule.citations,
    )
