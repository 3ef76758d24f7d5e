"""Page models of every id a card can name: recommendation and safety rules, monitoring
prompts, follow-ups, dose limits, duplication rules and order guidance.

Each becomes an ``EntryView``: the rule's header (id, version, grade, statement), its facts,
its conditions as plain-words trees, the thresholds it reads in every unit system (with band
bars, the bands read drawn out), what it suggests, its sources and its version history. One
shape for every kind, so a rule page and the why page show a rule the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    DoseLimit,
    DuplicationRule,
    FollowUp,
    LabOrderSuggestion,
    LabPredicate,
    MedicationGuidance,
    MedicationSuggestion,
    Predicate,
    Rule,
    SafetyPrompt,
    SafetyRule,
    SuggestionRef,
)
from cds_service.web.knowledge.bandbar import band_bar
from cds_service.web.knowledge.catalog import (
    DOSE_LIMIT,
    DUPLICATION,
    FOLLOW_UP,
    GUIDANCE,
    INTERVENTION,
    LAB_ORDERS_PAGE,
    PATHWAY,
    PROMPT,
    RULE,
    SAFETY,
    Catalog,
    Kind,
    page_path,
)
from cds_service.web.knowledge.describe import (
    Condition,
    Threshold,
    bands_read,
    condition,
    dose_threshold,
    measure_link,
    names,
    thresholds,
)
from cds_service.web.knowledge.parts import (
    Change,
    CitationView,
    Fact,
    Line,
    Text,
    citation_views,
    fact,
    facts,
    history,
    joined,
    override_reasons,
    words,
)

ACTIONS = {
    "block": "block: never suggested; at order time a card that removes the draft",
    "warn": "warn: shown with a warning and override reasons",
    "info": "info: spacing or monitoring text",
}
SEVERITIES = {
    "urgent": "urgent: needs prompt action; the card is a warning",
    "limitation": "limitation: a co-factor deficit or precursor shortfall",
    "uncertain": "uncertain: data missing or equivocal",
    "option": "option: a symptom-led option for discussion",
    "caution": "caution: to know before any option",
    "context": "context: shown on the cards of other findings only",
}


@dataclass(frozen=True, slots=True)
class ConditionBlock:
    heading: str
    tree: Condition


@dataclass(frozen=True, slots=True)
class BandBar:
    measure: Text
    svg: Markup


@dataclass(frozen=True, slots=True)
class EntryView:
    kind: Kind
    id: str
    title: str
    version: int | None
    grade: str | None
    statement: str | None
    message: str | None  # what the card says, for the rules that say it in their own words
    facts: tuple[Fact, ...]
    conditions: tuple[ConditionBlock, ...]
    causes: tuple[ConditionBlock, ...]  # likely causes named beside the finding, and when
    thresholds: tuple[Threshold, ...]
    bars: tuple[BandBar, ...]
    suggests: tuple[Line, ...]
    citations: tuple[CitationView, ...]
    history: tuple[Change, ...]

    @property
    def path(self) -> str:
        return page_path(self.kind, self.id)


def entry_view(catalog: Catalog, kb: KnowledgeBase, kind: Kind, entry_id: str) -> EntryView:
    """The page model of one rule-like entry (``kind`` one of ``catalog.CARD_KINDS``)."""
    builders = {
        RULE.key: lambda: _rule(kb, next(r for r in kb.rules if r.id == entry_id)),
        SAFETY.key: lambda: _safety(kb, next(r for r in kb.safety_rules if r.id == entry_id)),
        PROMPT.key: lambda: _prompt(kb, next(p for p in kb.safety_prompts if p.id == entry_id)),
        FOLLOW_UP.key: lambda: _follow_up(
            kb, next(f for fs in kb.follow_ups.values() for f in fs if f.id == entry_id)
        ),
        DOSE_LIMIT.key: lambda: _dose_limit(
            kb, next(d for d in kb.dose_limits if d.id == entry_id)
        ),
        DUPLICATION.key: lambda: _duplication(
            kb, next(d for d in kb.duplication if d.id == entry_id)
        ),
        GUIDANCE.key: lambda: _guidance(
            kb, next(g for g in kb.medication_guidance if g.id == entry_id)
        ),
    }
    return builders[kind.key]()


# -- per kind -------------------------------------------------------------------------------


def _rule(kb: KnowledgeBase, rule: Rule) -> EntryView:
    pathway = kb.pathways.get(rule.pathway)
    rows = facts(
        fact(
            "Pathway",
            (Text(pathway.name if pathway else rule.pathway, page_path(PATHWAY, rule.pathway)),),
        ),
        fact("Finding", rule.finding),
        fact("Severity", SEVERITIES.get(rule.severity, rule.severity)),
        fact(
            "Card",
            f"{rule.group} card" + (", indicator warning" if rule.indicator == "warning" else ""),
        ),
        fact("Advice", rule.advice),
        fact("Card note", rule.card_note),
        fact("Leads with", (measure_link(kb, rule.lead),) if rule.lead else None),
    )
    causes = [ConditionBlock(cause.label, condition(cause.when, kb)) for cause in rule.causes]
    return _view(
        kb,
        RULE,
        rule.id,
        rule.title,
        version=rule.version,
        grade=rule.grade,
        statement=rule.statement,
        rows=rows,
        blocks=[ConditionBlock("When", condition(rule.when, kb))],
        causes=causes,
        predicates=[rule.when],
        suggests=tuple(_suggestion(kb, s) for s in rule.suggest),
        citations=rule.citations,
    )


def _safety(kb: KnowledgeBase, rule: SafetyRule) -> EntryView:
    target = rule.applies_to
    applies: list[Line] = []
    if target.all_supplements:
        applies.append(words("every supplement the service suggests"))
    if target.interventions:
        applies.append(_interventions(kb, target.interventions))
    for tag in target.tags:
        tagged = [i.id for i in kb.interventions.values() if tag in i.tags]
        applies.append((Text(f"tag {tag}: "), *_interventions(kb, tagged)))
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
        _override_fact(kb, rule.override_reasons)
        if rule.action != "info" and not rule.hard
        else None,
    )
    return _view(
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


_SCOPES = {"suggestions": "the service's own suggestions", "orders": "clinicians' draft orders"}


def _prompt(kb: KnowledgeBase, prompt: SafetyPrompt) -> EntryView:
    suggests = (_lab_order(kb, prompt.lab_order),) if prompt.lab_order else ()
    return _view(
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


def _follow_up(kb: KnowledgeBase, follow: FollowUp) -> EntryView:
    source = {
        "cited": "cited: a checked source gives the interval",
        "service-default": "service default: no checked source gives it (the card says so)",
    }[follow.interval_source]
    band_predicates = [
        _band_predicate(follow.measure, follow.target_bands),
        *(
            [_band_predicate(follow.measure, follow.baseline_bands)]
            if follow.baseline_bands
            else []
        ),
    ]
    rows = facts(
        fact("Supplement", _interventions(kb, [follow.intervention])),
        fact("Measure", (measure_link(kb, follow.measure),)),
        fact(
            "Recheck after", f"{follow.interval} ({follow.recheck_after_days} days after the start)"
        ),
        fact("Interval", source),
        fact("Target reached in", _band_labels(kb, follow.measure, follow.target_bands)),
        fact(
            "Only after treated",
            _band_labels(kb, follow.measure, follow.baseline_bands)
            if follow.baseline_bands
            else None,
        ),
    )
    return _view(
        kb,
        FOLLOW_UP,
        follow.id,
        follow.title,
        version=follow.version,
        grade=follow.grade,
        statement=follow.statement,
        rows=rows,
        predicates=band_predicates,
        suggests=(_lab_order(kb, follow.lab_order),),
        citations=follow.citations,
    )


def _dose_limit(kb: KnowledgeBase, limit: DoseLimit) -> EntryView:
    counted: list[Line] = []
    if limit.interventions:
        counted.append(_interventions(kb, limit.interventions))
    if limit.ingredients:
        counted.append(names(kb, limit.ingredients))
    rows = facts(
        fact("Counts", *counted),
        fact("Warning above", dose_threshold(limit.warn_above)),
        fact("Note above", dose_threshold(limit.info_above) if limit.info_above else None),
        fact("Limit from", limit.limit_source),
        *(
            fact(f"Exception: {e.reason}", f"warning above {dose_threshold(e.warn_above)}")
            for e in limit.exceptions
        ),
        _override_fact(kb, limit.override_reasons),
    )
    blocks = [
        ConditionBlock(f"Exception applies when ({e.reason})", condition(e.when, kb))
        for e in limit.exceptions
    ]
    return _view(
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


def _duplication(kb: KnowledgeBase, rule: DuplicationRule) -> EntryView:
    covered = (
        _interventions(kb, rule.interventions)
        if rule.interventions
        else words("every intervention of the knowledge base")
    )
    return _view(
        kb,
        DUPLICATION,
        rule.id,
        rule.title,
        version=rule.version,
        grade=rule.grade,
        statement=rule.statement,
        message=rule.message,
        rows=facts(fact("Covers", covered), _override_fact(kb, rule.override_reasons)),
        citations=rule.citations,
    )


def _guidance(kb: KnowledgeBase, guidance: MedicationGuidance) -> EntryView:
    pathway = kb.pathways.get(guidance.pathway)
    rows = facts(
        fact("Drugs being ordered", names(kb, guidance.classes)),
        fact(
            "Pathway",
            (
                Text(
                    pathway.name if pathway else guidance.pathway,
                    page_path(PATHWAY, guidance.pathway),
                ),
            ),
        ),
        fact("Measures shown", joined(measure_link(kb, m) for m in guidance.measures)),
        fact(
            "Answers the finding of",
            joined(Text(r, page_path(RULE, r)) for r in guidance.addresses)
            if guidance.addresses
            else None,
        ),
    )
    return _view(
        kb,
        GUIDANCE,
        guidance.id,
        guidance.title,
        statement=guidance.statement,
        rows=rows,
        suggests=tuple(_lab_order(kb, o) for o in guidance.lab_orders),
        citations=guidance.citations,
    )


# -- shared -----------------------------------------------------------------------------------


def _view(
    kb: KnowledgeBase,
    kind: Kind,
    entry_id: str,
    title: str,
    *,
    version: int | None = None,
    grade: str | None = None,
    statement: str | None = None,
    message: str | None = None,
    rows: tuple[Fact, ...] = (),
    blocks: Sequence[ConditionBlock] = (),
    causes: Sequence[ConditionBlock] = (),
    predicates: Sequence[Predicate] = (),
    suggests: tuple[Line, ...] = (),
    citations: Iterable[str] = (),
) -> EntryView:
    read = bands_read(predicates)
    bars = []
    for measure_id, band_ids in read.items():
        measure = kb.measures.get(measure_id)
        if measure is None:
            continue
        svg = band_bar(
            measure, dom_id=f"bar-{entry_id}-{measure_id}", highlight=frozenset(band_ids)
        )
        if svg:
            bars.append(BandBar(measure_link(kb, measure_id), svg))
    return EntryView(
        kind=kind,
        id=entry_id,
        title=title,
        version=version,
        grade=grade,
        statement=statement,
        message=message,
        facts=rows,
        conditions=tuple(blocks),
        causes=tuple(causes),
        thresholds=thresholds(predicates, kb),
        bars=tuple(bars),
        suggests=suggests,
        citations=citation_views(kb, citations),
        history=history(kb, entry_id),
    )


def _suggestion(kb: KnowledgeBase, suggestion: SuggestionRef) -> Line:
    if isinstance(suggestion, MedicationSuggestion):
        intervention = kb.interventions.get(suggestion.medication)
        if intervention is None:
            return words(suggestion.medication)
        return (
            Text(intervention.name, page_path(INTERVENTION, intervention.id)),
            Text(f": {intervention.dose_text} (grade {intervention.grade})"),
        )
    assert isinstance(suggestion, LabOrderSuggestion)
    line = _lab_order(kb, suggestion.lab_order)
    if suggestion.repeat:
        line += (Text(" (repeated even when a current result exists)"),)
    if suggestion.prerequisite_for:
        line += (Text(" before "), *_interventions(kb, suggestion.prerequisite_for))
    return line


def _lab_order(kb: KnowledgeBase, order_id: str) -> Line:
    order = kb.lab_orders.get(order_id)
    if order is None:
        return words(f"test {order_id}")
    return (
        Text("Test: "),
        Text(order.name, f"{LAB_ORDERS_PAGE}#{order.id}"),
        Text(f" (LOINC {order.code.code}): {order.reason}"),
    )


def _replacement(kb: KnowledgeBase, rule: SafetyRule) -> Line | None:
    if rule.replacement is None:
        return None
    return (
        Text("offers the test instead of the supplement: "),
        *_lab_order(kb, rule.replacement.lab_order)[1:],
    )


def _interventions(kb: KnowledgeBase, ids: Iterable[str]) -> Line:
    return joined(
        Text(kb.interventions[i].name, page_path(INTERVENTION, i))
        if i in kb.interventions
        else Text(i)
        for i in ids
    )


def _override_fact(kb: KnowledgeBase, codes: Iterable[str]) -> Fact | None:
    return fact("Override reasons", "; ".join(override_reasons(kb, codes)))


def _band_labels(kb: KnowledgeBase, measure_id: str, band_ids: Iterable[str]) -> str:
    measure = kb.measures.get(measure_id)
    labels = {b.id: b.label for b in measure.bands} if measure else {}
    return ", ".join(dict.fromkeys(labels.get(b, b) for b in band_ids))


def _band_predicate(measure_id: str, band_ids: list[str]) -> Predicate:
    """The bands a follow-up names, as the predicate that reads them (for the thresholds)."""
    return LabPredicate(lab=measure_id, band=band_ids)
