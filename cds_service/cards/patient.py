"""Patient-view cards, grouped by what the clinician does: at most three, each read in seconds.

Every finding of the engine becomes an *item*: its inputs (value, date, band), its action (the
options the safety gate let through, the test to order first, or the rule's advice) and its
rule. Items go to cards by the rule's ``card`` group: ``labs`` (deficits, results that need
action, tests), ``medications`` (a medication review), ``adjuncts`` (mood and cognition
options and what they need first). Cards come critical, then warning, then info; the summary
names the most severe item's finding and action; the detail is the patient-specific core of
the basis (inputs, the rule with its grade, up to three sources). Everything else (every band,
every safety rule checked, limitations) is on the knowledge page the card links to.

A rule marked ``alert`` that holds (suicide risk) gives its critical card alone; a rule marked
``silent`` that holds (under 18) leaves patient-view without any card.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cds_service.cards.detail import citation_line, record_names
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import (
    SOURCE_LABEL,
    medication_request,
    order_test_suggestion,
    override_reasons,
)
from cds_service.cards.safety import answers
from cds_service.cards.text import (
    ALLERGIES_NOT_CHECKED,
    DETAIL_BUDGET,
    band_label,
    band_word,
    day,
    fit,
    joined,
    value_text,
)
from cds_service.engine.focus import CurrentSupplement, Recheck
from cds_service.engine.predicates import holds
from cds_service.engine.safety import replacements
from cds_service.engine.types import (
    Candidate,
    Decision,
    Finding,
    PathwayAssessment,
    SafetyHit,
    Trace,
)
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Pathway, Rule, SafetyPrompt
from cds_service.protocol.messages import Action, Card, Coding, Source, Suggestion
from cds_service.snapshot.facts import LabFact, MedicationFact, PatientSnapshot

GROUPS = ("labs", "medications", "adjuncts")
GROUP_TITLES = {
    "labs": "labs and tests",
    "medications": "medication review",
    "adjuncts": "mood and cognition",
}
INDICATOR_RANK = {"critical": 0, "warning": 1, "info": 2}
NO_RESULT = ": no current result"
GRADE_RANK = {"A": 0, "A/B": 1, "B": 2, "B/C": 3, "C": 4}
MAX_SOURCES = 3


@dataclass(slots=True)
class Item:
    """One finding as a card shows it: a lead, an action, a line of detail, its options."""

    rule_ids: list[str]
    pathway: Pathway | None
    group: str
    indicator: str
    lead: str  # "B12 185 pg/mL, deficient"
    action: str  # "consider oral B12 1,000 µg/day"
    line: str  # the finding, its action and its rule, as a line of the detail
    name: str = ""  # what the item is about, for "+2 more: vitamin D, magnesium"
    finding: str = ""  # the rule's finding in words
    # Input lines (full, compact: the band without its threshold), shared inputs once a card.
    inputs: list[tuple[str, str]] = field(default_factory=list)
    offers: list[tuple[Decision, Candidate]] = field(default_factory=list)
    # Per offer ("lab_order:tsh"), the rules of this item's findings that ask for it: the
    # rules its suggestion is recorded with (not the safety rules that only caution it).
    offered_by: dict[str, list[str]] = field(default_factory=dict)
    citations: list[str] = field(default_factory=list)
    note: str | None = None
    # The card's topic when the item is not a pathway's: ("monitoring", "Monitoring")...
    topic: tuple[str, str] | None = None
    rank: int = 0  # within a card: lower first
    # Something to do or to know for safety: a card needs at least one such item.
    actionable: bool = True


def patient_view_cards(
    assessments: Sequence[PathwayAssessment],
    decisions: Sequence[Decision],
    alerts: Sequence[SafetyHit],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
    current: Sequence[CurrentSupplement] = (),
) -> list[RenderedCard]:
    """The cards for patient-view: an alert alone, nothing when a silent rule holds, else at
    most one card per group (three at most). ``current``: supplements already taken, whose
    follow-up (recheck due, change since the start) goes on the labs card."""
    if alerts:
        return [alert_card(alerts, kb)]
    if _silenced(snapshot, kb):
        return []
    items = [
        *_finding_items(assessments, decisions, snapshot, kb),
        *_prompt_items(snapshot, kb),
        *_follow_up_items(current, snapshot, kb),
    ]
    groups = {g: [i for i in items if i.group == g] for g in GROUPS}
    cards = [(g, members) for g, members in groups.items() if any(i.actionable for i in members)]
    # A group with nothing to do (every option withheld, results only to note) is no card of
    # its own: its lines go on the last card, or, when they are safety news and no other card
    # exists, make one card (e.g. mood options withheld in pregnancy).
    leftover = [i for g, members in groups.items() for i in members if g not in dict(cards)]
    withheld = [i for i in leftover if i.action.startswith("not offered")]
    if not cards and withheld:
        cards = [(withheld[0].group, withheld)]
        leftover = [i for i in leftover if i not in withheld]
    if not cards:
        return []
    cards.sort(key=lambda c: (min(INDICATOR_RANK[i.indicator] for i in c[1]), GROUPS.index(c[0])))
    context = _context(assessments, kb)
    # Context (inflammation) bears on mood: it goes on the mood card, else on the last card.
    home = next((g for g, _ in cards if g == "adjuncts"), cards[-1][0])
    rendered = []
    for index, (group, members) in enumerate(cards):
        extra = [*leftover] if index == len(cards) - 1 else []
        here = context if group == home else None
        rendered.append(_render(group, _merged(members), extra, here, snapshot, kb))
    return rendered


def _merged(items: list[Item]) -> list[Item]:
    """Items that ask for nothing another item of the card does not already offer (two rules
    asking for TSH) become a mention on that item's line: one line per action."""
    kept: list[Item] = []
    for item in sorted(
        items, key=lambda i: (INDICATOR_RANK[i.indicator], not i.actionable, i.rank)
    ):
        targets = {(c.kind, c.target) for _, c in item.offers}
        host = next(
            (
                k
                for k in kept
                if targets
                and not any(c.kind == "medication" for _, c in item.offers)
                and targets <= {(c.kind, c.target) for _, c in k.offers}
            ),
            None,
        )
        if host is None:
            kept.append(item)
            continue
        host.rule_ids += [r for r in item.rule_ids if r not in host.rule_ids]
        for key, asking in item.offered_by.items():
            mine = host.offered_by.setdefault(key, [])
            mine += [r for r in asking if r not in mine]
        host.inputs += [pair for pair in item.inputs if pair not in host.inputs]
        host.line = host.line.rstrip(".") + f"; also `{item.rule_ids[0]}`: {item.finding}."
    return kept


@dataclass(frozen=True, slots=True)
class _Context:
    """Context findings (low-grade inflammation): one line, never a card of their own."""

    inputs: list[tuple[str, str]]
    line: str
    rule_ids: list[str]


# ---------------------------------------------------------------------------------------------
# Items


def _finding_items(
    assessments: Sequence[PathwayAssessment],
    decisions: Sequence[Decision],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> list[Item]:
    moot = {
        d.candidate.target
        for d in decisions
        if d.candidate.kind == "lab_order" and d.verdict == "block"
    }
    # A test is a candidate of the first rule that asks for it (recommend.py); every rule
    # asking for it still says so.
    tests = {
        d.candidate.target: d for d in decisions if d.candidate.kind == "lab_order" and d.shown
    }
    items = []
    for order, assessment in enumerate(assessments):
        for finding in assessment.findings:
            rule = finding.rule
            if rule.severity == "context":
                continue
            labs_asked = [getattr(s, "lab_order", None) for s in rule.suggest]
            if rule.suggest and all(t in moot for t in labs_asked):
                continue  # it only asks for a test the gate found unneeded
            mine = [d for d in decisions if rule.id in d.candidate.rule_ids]
            offers = [(d, d.candidate) for d in mine if d.shown]
            offers += [(Decision(r, "allow", ()), r) for d in mine for r in replacements(d)]
            offers = list({(c.kind, c.target): (d, c) for d, c in reversed(offers)}.values())[::-1]
            offered = {c.target for _, c in offers}
            offers += [
                (tests[t], tests[t].candidate)
                for t in labs_asked
                if t in tests and t not in offered
            ]
            items.append(_item(finding, assessment.pathway, mine, offers, order, snapshot, kb))
    return items


def _item(
    finding: Finding,
    pathway: Pathway,
    decisions: list[Decision],
    offers: list[tuple[Decision, Candidate]],
    order: int,
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> Item:
    rule, trace = finding.rule, finding.trace
    facts = list(trace.labs.values())
    # The result the finding is about: a marker of the rule's pathway (ferritin, not the CRP
    # read beside it), else the first result the rule read (a symptom score).
    lead_fact = next((f for f in facts if f.measure_id == rule.lead), None)
    lead_fact = lead_fact or next((f for f in facts if f.measure_id in pathway.markers), None)
    lead_fact = lead_fact or (facts[0] if facts else None)
    drugs = [m.name for m in trace.medications.values()]
    if lead_fact is not None:
        lead = f"{kb.measures[lead_fact.measure_id].label} {value_text(lead_fact)}"
        lead += f", {band_word(lead_fact, kb.measures[lead_fact.measure_id])}"
    else:
        lead = rule.finding.split(";")[0]
    if drugs and rule.severity != "option":
        lead = f"{joined(drugs)}; {lead}"
    medications = [(d, c) for d, c in offers if c.kind == "medication"]
    tests = [(d, c) for d, c in offers if c.kind == "lab_order"]
    blocked = [d for d in decisions if d.candidate.kind == "medication" and not d.shown]
    warn = [h for d, _ in medications for h in d.hits if h.rule.action == "warn"]
    info = [h for d, _ in medications for h in d.hits if h.rule.action == "info"]
    action = _action(rule, medications, tests, blocked, warn, kb)
    urgent = rule.severity == "urgent" or rule.indicator == "warning"
    indicator = "warning" if warn or urgent else "info"
    rank = {"urgent": 0, "limitation": 1, "caution": 2, "uncertain": 3, "option": 4}.get(
        rule.severity, 5
    )
    # Options with the strongest evidence first (grade A before C), then in pathway order.
    rank = rank * 1000 + (GRADE_RANK.get(rule.grade, 9) * 100 if rule.severity == "option" else 0)
    if medications:
        name = kb.interventions[medications[0][1].target].short or medications[0][1].target
    elif tests:
        name = kb.lab_orders[tests[0][1].target].label
    elif rule.lead is not None or (lead_fact is not None and rule.severity != "caution"):
        name = kb.measures[lead_fact.measure_id].label if lead_fact else rule.finding
    else:
        name = re.split(r"[:;(]", rule.finding)[0].strip()
    inputs = _inputs(trace, snapshot, kb)
    for cause in finding.causes:
        cause_line = f"Likely cause on record: {cause.label}: {record_names(cause.trace)}"
        inputs.append((cause_line, cause_line))
    if finding.causes:
        drugs_or_conditions = [
            *(m.name for c in finding.causes for m in c.trace.medications.values()),
            *(x.name for c in finding.causes for x in c.trace.conditions.values()),
        ]
        action += f" (likely cause: {joined(list(dict.fromkeys(drugs_or_conditions)))})"
    for hit in [*warn, *(h for d in blocked for h in d.hits if h.rule.action == "block")]:
        inputs += [line for line in _inputs(hit.trace, snapshot, kb) if line not in inputs]
    return Item(
        name=name,
        finding=rule.finding,
        inputs=inputs,
        rule_ids=[rule.id, *dict.fromkeys(h.rule.id for h in warn)],
        pathway=pathway,
        group=rule.group,
        indicator=indicator,
        lead=lead,
        action=action,
        line=_finding_line(finding, pathway, action, info, blocked, kb),
        offers=offers,
        offered_by={_key(c): [rule.id] for _, c in offers},
        citations=list(rule.citations),
        note=rule.card_note if medications else None,
        rank=rank + order,
        # Something to do: an option or test, a caution, or a deficit the rule advises on (a
        # medication review); an equivocal result with nothing to offer is only a line.
        actionable=bool(offers)
        or rule.severity in ("caution", "urgent")
        or indicator != "info"
        or (rule.severity == "limitation" and bool(rule.advice)),
    )


def _action(
    rule: Rule,
    medications: list[tuple[Decision, Candidate]],
    tests: list[tuple[Decision, Candidate]],
    blocked: list[Decision],
    warn: list[SafetyHit],
    kb: KnowledgeBase,
) -> str:
    """What the finding asks of the clinician, in a few words: the options offered (a caution
    first when a safety rule warns), the tests to order, or the rule's own advice."""
    parts = []
    if medications:
        options = _choices([c.target for _, c in medications], kb)
        if warn:
            parts.append(f"{options} only with caution ({_hit_reason(warn[0])})")
        else:
            parts.append(f"consider {options}")
    if tests:
        if rule.advice and not medications:
            parts.append(rule.advice)
        else:
            first = " first" if any(c.prerequisite_for for _, c in tests) or blocked else ""
            parts.append(
                "order " + joined([kb.lab_orders[c.target].label for _, c in tests]) + first
            )
    if not parts and blocked:
        names = [kb.interventions[d.candidate.target] for d in blocked]
        listed = joined([i.short or i.name for i in names])
        parts.append(f"not offered: {listed} ({_block_reason(blocked[0], kb)})")
    if not parts and rule.advice and not rule.suggest:
        parts.append(rule.advice)
    return "; ".join(parts) or rule.finding


def _choices(targets: list[str], kb: KnowledgeBase) -> str:
    """Options named for a summary: alternatives of one choice as "A (or B)", others "A or B"."""
    by_choice: dict[str, list[str]] = {}
    for target in targets:
        intervention = kb.interventions[target]
        by_choice.setdefault(intervention.choice or target, []).append(target)
    names = []
    for members in by_choice.values():
        first = kb.interventions[members[0]].label
        others = [kb.interventions[m].short or kb.interventions[m].name for m in members[1:]]
        names.append(f"{first} (or {joined(others, 'or')})" if others else first)
    return joined(names, "or")


def _block_reason(decision: Decision, kb: KnowledgeBase) -> str:
    """Why an option is withheld: what on record triggered which rule ("sertraline:
    Serotonergic drug with tryptophan or 5-HTP, S3")."""
    blocks = [h for h in decision.hits if h.rule.action == "block"]
    if blocks:
        return _hit_reason(blocks[0])
    return decision.reason or "withheld"


def _hit_reason(hit: SafetyHit) -> str:
    on_record = [m.name for m in hit.trace.medications.values()]
    on_record += [c.name for c in hit.trace.conditions.values()]
    prefix = f"{joined(on_record)}: " if on_record else ""
    return f"{prefix}{hit.rule.title}, {hit.rule.id}"


def _finding_line(
    finding: Finding,
    pathway: Pathway,
    action: str,
    info: list[SafetyHit],
    blocked: list[Decision],
    kb: KnowledgeBase,
) -> str:
    """ "- *Serotonergic* · **Vitamin B6 (PLP) deficient** → consider vitamin B6 10 mg/day
    (`b6-deficient`, grade A)": the finding, its action, the rule and its grade."""
    rule = finding.rule
    label = pathway.short or pathway.name
    if rule.severity == "option":
        # The symptom score is among the inputs: the option is the finding.
        text = f"- *{label}* · {action[:1].upper()}{action[1:]}"
    else:
        text = f"- *{label}* · **{rule.finding}** → {action}"
    text += f" (`{rule.id}`, grade {rule.grade})."
    for hit in info:
        text += f" Note, `{hit.rule.id}`: {hit.rule.advice or hit.rule.title}."
    if blocked and not action.startswith("not offered"):
        names = joined(
            [kb.interventions[d.candidate.target].short or d.candidate.target for d in blocked]
        )
        text += f" Not offered: {names} ({_block_reason(blocked[0], kb)})."
    return text


def _inputs(trace: Trace, snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[tuple[str, str]]:
    """The inputs a rule read, one line each (full, compact): results with date and band,
    drugs, conditions, age, and what was missing."""
    lines = [
        (_input(fact, kb, snapshot.sex), _input(fact, kb, snapshot.sex, compact=True))
        for fact in trace.labs.values()
    ]
    others = [_medication(m, kb) for m in trace.medications.values()]
    others += [f"{c.name} ({c.ref})" for c in trace.conditions.values()]
    if trace.age_used and snapshot.age is not None:
        others.append(f"Age {snapshot.age}")
    listed: set[str] = set()
    for measure_id in trace.missing:
        measure = kb.measures[measure_id]
        if any(s in trace.labs or s in listed for s in measure.substitutes):
            continue  # e.g. CRP missing but hs-CRP read, or hs-CRP already named
        listed.add(measure_id)
        stale = trace.stale.get(measure_id)
        if stale is not None:
            others.append(f"{measure.label}: {value_text(stale)} on {day(stale)}, too old to use")
        else:
            note = trace.notes.get(measure_id)
            others.append(
                f"{measure.label} ({note}){NO_RESULT}" if note else measure.label + NO_RESULT
            )
    return lines + [(line, line) for line in others]


def _medication(medication: MedicationFact, kb: KnowledgeBase) -> str:
    """A drug a rule read, with its source; where a class holds only above a dose (doxepin
    above 6 mg/day), the dose that decided it, or that it was unknown and counted."""
    notes = [medication.ref]
    for ingredient_id in medication.ingredients:
        conditional = kb.ingredients[ingredient_id].class_doses
        if any(class_id in medication.classes for class_id in conditional):
            dose = medication.doses.get(ingredient_id)
            notes.append(f"dose {dose.describe()}" if dose else "dose unknown: counted")
    return f"{medication.name} ({'; '.join(notes)})"


def _input(
    fact: LabFact, kb: KnowledgeBase, sex: str | None = None, *, compact: bool = False
) -> str:
    """ "B12 **185 pg/mL** on 2026-11-01: deficient (< 200 pg/mL); previous 240 pg/mL
    (2026-05-02)" (compact: the band word without its threshold)."""
    measure = kb.measures[fact.measure_id]
    band = band_word(fact, measure) if compact else band_label(fact, measure, sex)
    text = f"{measure.label} **{value_text(fact)}** on {day(fact)}: {band}"
    if fact.derivation is not None:
        sources = joined(
            [
                f"{kb.measures[i.measure_id].label.lower()} {value_text(i)}"
                for i in fact.derivation.inputs
            ]
        )
        derivation = fact.derivation
        text += (
            f" (derived from {sources}, {derivation.label}; age {derivation.age}, {derivation.sex})"
        )
    previous = getattr(fact, "previous", None)
    if previous is not None:
        text += f"; previous {value_text(previous)} ({day(previous)})"
    return text


def _prompt_items(snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[Item]:
    """Monitoring prompts (metformin -> B12, PPI -> magnesium ...) as items on the labs card."""
    items = []
    for prompt, trace in fired_prompts(snapshot, kb):
        drugs = [m.name for m in trace.medications.values()]
        action = f"order {kb.lab_orders[prompt.lab_order].label}" if prompt.lab_order else ""
        refs = "; ".join(f"**{m.name}** ({m.ref})" for m in trace.medications.values())
        grade = f", grade {prompt.grade}" if prompt.grade else ""
        offers = (
            [(_lab_decision(prompt), Candidate("lab_order", prompt.lab_order, "", (prompt.id,)))]
            if prompt.lab_order
            else []
        )
        items.append(
            Item(
                rule_ids=[prompt.id],
                pathway=None,
                group="labs",
                indicator="info",
                lead=f"{joined(drugs)}: {prompt.title.lower()}" if drugs else prompt.title,
                action=action or prompt.message,
                line=f"- *Monitoring*: {refs} → {prompt.message.strip()} Rule `{prompt.id}`{grade}.",
                offers=offers,
                offered_by=_offered_by(offers),
                citations=list(prompt.citations),
                rank=2500,
                actionable=bool(prompt.lab_order),
            )
        )
    return items


def _follow_up_items(
    current: Sequence[CurrentSupplement], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[Item]:
    """Supplements already taken, not suggested again: since when, and each recheck (due,
    or the change since the start and whether the target was reached)."""
    items = []
    for supplement in current:
        if not supplement.worth_saying:
            continue
        intervention = supplement.intervention
        name = intervention.short or intervention.name
        since = f" since {supplement.since.date().isoformat()}" if supplement.since else ""
        offers = []
        texts = []
        actions = []
        for recheck in supplement.rechecks:
            text = _recheck_text(recheck, kb)
            if text:
                texts.append(text)
            order = kb.lab_orders[recheck.rule.lab_order]
            label = kb.measures[recheck.rule.measure].label
            if recheck.suggests_test:
                candidate = Candidate("lab_order", order.id, "", (recheck.rule.id,))
                offers.append((Decision(candidate, "allow", ()), candidate))
                actions.append(f"{label} recheck due (after {recheck.rule.interval}): order it")
            elif recheck.actionable and recheck.latest is not None:
                change = _change(recheck)
                actions.append(f"{label} {change}: not in the target range; review")
        refs = ", ".join(m.ref for m in supplement.medications)
        not_again = " Not suggested again." if supplement.wanted_by else ""
        rules = [r.rule for r in supplement.rechecks if r.status != "not-indicated"]
        grades = "; ".join(
            f"`{r.id}`, grade {r.grade}, interval {r.interval}"
            + ("" if r.interval_source == "cited" else " (service default: no checked source)")
            for r in rules
        )
        line = f"- *Follow-up* · **Taking {name}{since}** ({refs}):"
        line += f" {' '.join(texts) or 'no recheck to do.'}{not_again}"
        line += f" ({grades})." if grades else ""
        items.append(
            Item(
                rule_ids=[r.id for r in rules] + list(supplement.wanted_by),
                pathway=None,
                topic=("follow-up", "Follow-up of supplements already taken"),
                group="labs",
                indicator="info",
                lead=f"Taking {name}{since}",
                action="; ".join(actions) or "no recheck due",
                line=line,
                name=name,
                offers=offers,
                offered_by=_offered_by(offers),
                citations=[c for r in rules for c in r.citations[:1]],
                rank=3000,
                actionable=supplement.actionable,
            )
        )
    return items


def _key(candidate: Candidate) -> str:
    return f"{candidate.kind}:{candidate.target}"


def _offered_by(offers: Iterable[tuple[Decision, Candidate]]) -> dict[str, list[str]]:
    """Each offer with the rules of its candidates (a monitoring prompt, a recheck rule)."""
    asking: dict[str, list[str]] = {}
    for _, candidate in offers:
        mine = asking.setdefault(_key(candidate), [])
        mine += [r for r in candidate.rule_ids if r not in mine]
    return asking


def _recheck_text(recheck: Recheck, kb: KnowledgeBase) -> str:
    measure = kb.measures[recheck.rule.measure].label
    before = (
        f"; before the start: {value_text(recheck.baseline)}, {band_word(recheck.baseline)} "
        f"({day(recheck.baseline)})"
        if recheck.baseline
        else ""
    )
    if recheck.status == "due":
        return f"{measure} recheck due since {recheck.due}, no result since the start{before}."
    if recheck.status == "not-due":
        return f"{measure} recheck due from {recheck.due}{before}."
    if recheck.latest is None:
        return f"{measure}: no current result." if recheck.status == "start-unknown" else ""
    reached = "target reached" if recheck.reached else "not in the target range"
    return f"{measure} {_change(recheck)}: {reached}."


def _change(recheck: Recheck) -> str:
    """ "185 pg/mL (2026-07-29) → 190 pg/mL (2026-12-01)", or the latest result alone."""
    latest = recheck.latest
    assert latest is not None
    after = f"{value_text(latest)} ({day(latest)})"
    if recheck.baseline is None:
        return after
    return f"{value_text(recheck.baseline)} ({day(recheck.baseline)}) → {after}"


def _lab_decision(prompt: SafetyPrompt) -> Decision:
    candidate = Candidate("lab_order", prompt.lab_order or "", "", (prompt.id,))
    return Decision(candidate, "allow", ())


def fired_prompts(snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[tuple[SafetyPrompt, Trace]]:
    fired = []
    for prompt in kb.safety_prompts:
        trace = Trace()
        if holds(prompt.trigger, snapshot, trace):
            fired.append((prompt, trace))
    return fired


def _context(assessments: Sequence[PathwayAssessment], kb: KnowledgeBase) -> _Context | None:
    findings: dict[str, Finding] = {}
    for assessment in assessments:
        for finding in assessment.findings:
            if finding.rule.severity == "context":
                findings.setdefault(finding.rule.id, finding)
    if not findings:
        return None
    first = next(iter(findings.values()))
    inputs = list(
        dict.fromkeys(
            (_input(f, kb), _input(f, kb, compact=True))
            for x in findings.values()
            for f in x.trace.labs.values()
        )
    )
    ids = ", ".join(f"`{rule_id}`" for rule_id in findings)
    line = f"- *Context* · {first.rule.finding} ({ids}): shown, not acted on."
    return _Context(inputs, line, list(findings))


def _silenced(snapshot: PatientSnapshot, kb: KnowledgeBase) -> bool:
    return any(rule.silent and holds(rule.trigger, snapshot, Trace()) for rule in kb.safety_rules)


# ---------------------------------------------------------------------------------------------
# Rendering


def _render(
    group: str,
    items: list[Item],
    extra: list[Item],
    context: _Context | None,
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> RenderedCard:
    """One card: inputs once, a line per finding, notes, checks, sources, footer."""
    items = sorted(items, key=lambda i: (INDICATOR_RANK[i.indicator], not i.actionable, i.rank))
    lead = items[0]
    indicator = lead.indicator
    suggestions, audits = _suggestions(group, items, snapshot, kb)
    everything = [*items, *extra]
    rule_ids = list(dict.fromkeys(r for i in everything for r in i.rule_ids))
    rule_ids += context.rule_ids if context else []
    citations = _sources(items)
    inputs = list(dict.fromkeys(pair for i in everything for pair in i.inputs))
    inputs += [pair for pair in (context.inputs if context else []) if pair not in inputs]
    missing = [full.removesuffix(NO_RESULT) for full, _ in inputs if full.endswith(NO_RESULT)]
    inputs = [pair for pair in inputs if not pair[0].endswith(NO_RESULT)]
    if missing:
        line = f"No current result: {', '.join(missing)}"
        inputs.append((line, line))
    notes = list(dict.fromkeys(i.note for i in items if i.note))
    checked = _checked_line(items, snapshot, kb)
    lines = [i.line for i in everything] + ([context.line] if context else [])
    detail = ""
    for level in range(8):
        detail = _detail(inputs, lines, notes, checked, citations, kb, level)
        if len(detail) <= DETAIL_BUDGET:
            break
    others = [i for i in items[1:] if i.actionable]
    names = list(dict.fromkeys(i.name for i in others if i.name and i.name != lead.name))
    head = f"{lead.lead}: {lead.action}"
    summary = fit(
        [
            head + (f"; +{len(others)} more: {joined(names)}" if others and names else ""),
            head
            + (f"; +{len(others)} more, incl. {joined(names[:2])}" if others and names else ""),
            head + (f"; +{len(others)} more" if others else ""),
            head,
            f"{lead.lead.split(',')[0]}: {lead.action}",
            lead.action,
        ]
    )
    pathway = lead.pathway or (
        None if lead.topic else next((i.pathway for i in items if i.pathway), None)
    )
    topic_code, topic_display = (
        (pathway.id, pathway.name) if pathway else lead.topic or ("monitoring", "Monitoring")
    )
    card = Card(
        summary=summary,
        detail=detail,
        indicator=indicator,
        source=Source(
            label=f"{SOURCE_LABEL}: {GROUP_TITLES[group]}",
            url=kb.citations[citations[0]].link if citations else None,
            topic=Coding(system=kb.manifest.topic_system, code=topic_code, display=topic_display),
        ),
        suggestions=suggestions or None,
        selectionBehavior=("at-most-one" if group == "adjuncts" else "any")
        if suggestions
        else None,
        overrideReasons=override_reasons(kb) if indicator != "info" else None,
    )
    audit = CardAudit(card.uuid, indicator, topic_code, tuple(rule_ids), tuple(audits))
    return RenderedCard(card, audit)


def _detail(
    inputs: list[tuple[str, str]],
    lines: list[str],
    notes: list[str],
    checked: str,
    citations: list[str],
    kb: KnowledgeBase,
    level: int,
) -> str:
    """The card's markdown at a level of compactness (0: thresholds with each band; 1: band
    words only; 2: two sources; 3: without the line of checks; 4: without pathway labels;
    5: one source; 6: without the rules' notes, which their pages hold; 7: findings without
    their asides): the first to fit is used. Every finding keeps its line and its inputs."""
    shown_inputs = [compact if level >= 1 else full for full, compact in inputs]
    if level >= 4:
        lines = [_without_pathway(line) for line in lines]
    if level >= 6:
        notes = []
    if level >= 7:
        lines = [_without_asides(line) for line in lines]
    shown = citations[: MAX_SOURCES if level < 2 else 2 if level < 5 else 1]
    sections = [
        "\n".join(["**Inputs**", *(f"- {line}" for line in shown_inputs)]) if inputs else "",
        "\n".join(["**Findings**", *lines]),
        "\n".join(f"*{note}*" for note in notes),
        checked if level < 3 else "",
        "Sources: "
        + " · ".join(f"[{n}] {citation_line(kb.citations[c])}" for n, c in enumerate(shown, 1))
        if shown
        else "",
        f"*Knowledge base {kb.version} · options for discussion, not orders*",
    ]
    return "\n\n".join(section for section in sections if section)


def _without_asides(line: str) -> str:
    """ "**Folate low, but B12 unconfirmed (folate withheld until ...)**" -> "**Folate low, but
    B12 unconfirmed**": the finding's parenthetical aside, which the action repeats."""
    return _BOLD.sub(lambda m: "**" + _ASIDE.sub("", m.group(1)) + "**", line, count=1)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ASIDE = re.compile(r" \([^()]*\)")


def _without_pathway(line: str) -> str:
    """ "- *Methylation* · **B12 deficient** ..." -> "- **B12 deficient** ..."."""
    label, sep, rest = line.partition("* · ")
    return f"- {rest}" if sep and label.startswith("- *") else line


def _sources(items: Sequence[Item]) -> list[str]:
    """Up to three sources: each item's first citation before anyone's second."""
    chosen: dict[str, None] = {}
    depth = max((len(i.citations) for i in items), default=0)
    for level in range(depth):
        for item in items:
            if level < len(item.citations) and len(chosen) < MAX_SOURCES:
                chosen.setdefault(item.citations[level], None)
    return list(chosen)


def _suggestions(
    group: str, items: list[Item], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> tuple[list[Suggestion], list[SuggestionAudit]]:
    """One suggestion per real choice: each target once, alternatives of one choice merged
    into one suggestion naming the alternative (its draft is the first one's). Each is
    recorded with the rules of the card's findings that ask for its target or choice."""
    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    seen: set[str] = set()
    choices: set[str] = set()

    def choice(key: str) -> str:
        kind, _, target = key.partition(":")
        return key if kind != "medication" else f"choice:{kb.interventions[target].choice or key}"

    asking: dict[str, dict[str, None]] = {}
    for item in items:
        for key, rules in item.offered_by.items():
            asking.setdefault(choice(key), {}).update(dict.fromkeys(rules))
    for item in items:
        medications = [c.target for _, c in item.offers if c.kind == "medication"]
        for _, candidate in item.offers:
            key = f"{candidate.kind}:{candidate.target}"
            if key in seen:
                continue
            seen.add(key)
            if candidate.kind == "lab_order":
                order = kb.lab_orders[candidate.target]
                suggestion, audit = order_test_suggestion(
                    kb, order, snapshot.patient_id, f"Order {order.label}", asking[choice(key)]
                )
                suggestions.append(suggestion)
                audits.append(audit)
                continue
            intervention = kb.interventions[candidate.target]
            if intervention.choice in choices:
                continue
            alternatives = [
                kb.interventions[t]
                for t in medications
                if t != intervention.id
                and intervention.choice is not None
                and kb.interventions[t].choice == intervention.choice
            ]
            if intervention.choice:
                choices.add(intervention.choice)
            label = f"Consider {intervention.label}"
            if alternatives:
                label += " (or " + joined([a.label for a in alternatives], "or") + ")"
            resource = medication_request(kb, intervention, snapshot.patient_id, item.lead)
            suggestion = Suggestion(
                label=label,
                actions=[
                    Action(
                        type="create",
                        description=f"Create a draft order for {intervention.name} for clinician review",
                        resource=resource,
                    )
                ],
            )
            suggestions.append(suggestion)
            audits.append(
                SuggestionAudit(
                    suggestion.uuid, "create:MedicationRequest", tuple(asking[choice(key)])
                )
            )
    return suggestions, audits


def _checked_line(items: Iterable[Item], snapshot: PatientSnapshot, kb: KnowledgeBase) -> str:
    """Which contraindication checks ran for the options on this card, in one line."""
    targets = {c.target for i in items for _, c in i.offers if c.kind == "medication"}
    rules = {r.id for t in targets for r in kb.safety_rules_by_intervention.get(t, ())}
    unknown = sorted({m.name for m in snapshot.unclassified_medications})
    text = ""
    if rules:
        medications, conditions = len(snapshot.medications), len(snapshot.conditions)
        text = (
            f"Options checked against {len(rules)} safety rules, {medications} "
            f"medication{'s' * (medications != 1)}, {conditions} condition{'s' * (conditions != 1)}"
        )
        text += f"; not recognised: {', '.join(unknown)}." if unknown else "."
        if not snapshot.allergies_read:
            text += " " + ALLERGIES_NOT_CHECKED
    elif unknown:
        text = f"Not recognised, not checked: {', '.join(unknown)}."
    return text


# ---------------------------------------------------------------------------------------------
# The alert card


def alert_card(hits: Sequence[SafetyHit], kb: KnowledgeBase) -> RenderedCard:
    """The critical card of an alert rule (suicide risk): the answer that fired it, what to do
    now, the sources; the only card while it applies."""
    hit = hits[0]
    rule = hit.rule
    fired = hit.reason or hit.trace
    said = answers(fired, rule, kb) or [rule.title]
    advice = rule.advice or rule.message.split(".")[0]
    # The answer that fired first, then what to do now.
    summary = fit([f"{said[0]}: {advice}", f"{rule.title}: {advice}", rule.title])
    inputs = [_input(f, kb) for f in fired.labs.values()]
    inputs += [f"Condition: {c.name} ({c.ref})" for c in fired.conditions.values()]
    others = [h.rule.title for h in hits[1:]]
    grade = f", grade {rule.grade}" if rule.grade else ""
    detail = ""
    for sources in (3, 2, 1):
        lines = [
            f"**Answer**: {'; '.join(said)}",
            rule.message.strip(),
            "**Inputs**\n" + "\n".join(f"- {line}" for line in inputs) if inputs else "",
            f"Rule `{rule.id}`{grade}: {rule.title}."
            + (f" Also: {joined(others)}." if others else ""),
            "Sources: "
            + " · ".join(
                f"[{n}] {citation_line(kb.citations[c])}"
                for n, c in enumerate(rule.citations[:sources], 1)
            ),
            f"*Knowledge base {kb.version} · the full rule: the Why link.*",
        ]
        detail = "\n\n".join(line for line in lines if line)
        if len(detail) <= DETAIL_BUDGET:
            break
    card = Card(
        summary=summary,
        detail=detail,
        indicator="critical",
        source=Source(
            label=f"{SOURCE_LABEL}: safety",
            url=kb.citations[rule.citations[0]].link,
            topic=Coding(system=kb.manifest.topic_system, code=rule.id, display=rule.title),
        ),
    )
    rule_ids = tuple(h.rule.id for h in hits)
    return RenderedCard(card, CardAudit(card.uuid, "critical", rule.id, rule_ids, ()))
