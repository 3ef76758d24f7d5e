"""QuestionnaireResponse -> questionnaire scores, for when no total-score Observation exists.

A response is matched to the questionnaires of the knowledge base by its ``questionnaire``
canonical (prefix, version ignored) or by the linkIds of its items; its score is the total
item when the form carries one, else the sum of the scored items when every one is answered
(a partly answered form gives no score, and the card says so). Answers score from
``valueInteger``/``valueDecimal``, an ordinal-value extension on the coding, or the coded answer
list in ``questionnaires.yaml``. Pure: no I/O, never raises on content.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Questionnaire
from cds_service.snapshot.facts import FUTURE_TOLERANCE, Ignored, LabFact
from cds_service.snapshot.measures import band_for
from cds_service.snapshot.values import (
    MAPPING,
    as_list,
    finite_number,
    parse_datetime,
    reference_id,
    resource_ref,
)

USABLE_RESPONSE_STATUSES = frozenset({"completed", "amended"})
# FHIR extensions that carry the numeric weight of a coded answer (R4, R5, STU3).
ORDINAL_EXTENSIONS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/ordinalValue",
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
    }
)

Facts = dict[str, LabFact]


def questionnaire_facts(
    kb: KnowledgeBase,
    responses: Iterable[Mapping[str, Any]],
    *,
    patient_id: str,
    now: datetime,
) -> tuple[Facts, Facts, list[Ignored]]:
    """(current scores, stale scores, ignored) from the responses, latest per questionnaire."""
    current: Facts = {}
    stale: Facts = {}
    ignored: list[Ignored] = []
    for response in responses:
        ref = resource_ref(response)
        status = response.get("status")
        if not isinstance(status, str) or status not in USABLE_RESPONSE_STATUSES:
            shown = repr(status)[:60] if isinstance(status, str) else f"<{type(status).__name__}>"
            ignored.append(Ignored(ref, f"status {shown} is not completed"))
            continue
        subject = response.get("subject") or response.get("source")
        if reference_id(subject) not in (None, patient_id):
            ignored.append(Ignored(ref, "a different patient"))
            continue
        authored = parse_datetime(response.get("authored"))
        if authored is None:
            ignored.append(Ignored(ref, "no date"))
            continue
        if authored > now + FUTURE_TOLERANCE:
            ignored.append(Ignored(ref, "dated in the future"))
            continue
        answers = _answers(response)
        for questionnaire in _matching(kb, response, answers):
            fact, problem = _score(questionnaire, answers, ref, authored)
            if fact is None:
                if problem:
                    ignored.append(Ignored(ref, problem))
                continue
            is_stale = now - authored > timedelta(days=questionnaire.stale_after_days)
            target = stale if is_stale else current
            previous = target.get(questionnaire.id)
            if previous is None or fact.effective > previous.effective:
                target[questionnaire.id] = fact
    return current, stale, ignored


def _matching(
    kb: KnowledgeBase, response: Mapping[str, Any], answers: Mapping[str, Any]
) -> list[Questionnaire]:
    ids: dict[str, None] = {}
    canonical = _canonical(response.get("questionnaire"))
    if canonical:
        for prefix, measure_id in kb.questionnaire_urls:
            if canonical == prefix or canonical.startswith(prefix + "/"):
                ids[measure_id] = None
    for key in answers:
        ids.update(dict.fromkeys(kb.questionnaire_items.get(key, ())))
    return [m for m in (kb.measures[i] for i in ids) if isinstance(m, Questionnaire)]


def _canonical(value: Any) -> str | None:
    """R4 canonical string, or an STU3 Reference; the version suffix ("|2.0") is dropped."""
    if isinstance(value, MAPPING):
        value = value.get("reference")
    if not isinstance(value, str) or not value:
        return None
    return value.split("|", 1)[0].rstrip("/")


def _answers(response: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """linkId key -> the item's answers (empty when unanswered)."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for item in _walk(as_list(response.get("item"))):
        link_id = item.get("linkId")
        if not isinstance(link_id, str) or not link_id:
            continue
        # "/44249-1/44250-9" and "/44250-9" both name item 44250-9.
        key = link_id.rstrip("/").rsplit("/", 1)[-1]
        answers = [a for a in as_list(item.get("answer")) if isinstance(a, MAPPING)]
        if not found.get(key):
            found[key] = answers
    return found


def _item_score(answers: list[Mapping[str, Any]], coded: Mapping[str, float]) -> float | None:
    for answer in answers:
        score = _answer_score(answer, coded)
        if score is not None:
            return score
    return None


def _walk(items: list[Any]) -> Iterator[Mapping[str, Any]]:
    """Every item, depth first in document order; iterative, so no nesting depth can overflow
    the interpreter's stack."""
    stack: list[Iterator[Any]] = [iter(items)]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            continue
        if not isinstance(item, MAPPING):
            continue
        yield item
        nested = [
            child
            for answer in as_list(item.get("answer"))
            if isinstance(answer, MAPPING)
            for child in as_list(answer.get("item"))
        ]
        stack.append(iter([*as_list(item.get("item")), *nested]))


_END = object()


def _answer_score(answer: Mapping[str, Any], coded: Mapping[str, float]) -> float | None:
    boolean = answer.get("valueBoolean")
    if isinstance(boolean, bool):  # yes/no items (C-SSRS): yes scores 1
        return 1.0 if boolean else 0.0
    for key in ("valueInteger", "valueDecimal"):
        number = finite_number(answer.get(key))
        if number is not None:
            return number
    quantity = answer.get("valueQuantity")
    if isinstance(quantity, MAPPING):
        number = finite_number(quantity.get("value"))
        if number is not None:
            return number
    coding = answer.get("valueCoding")
    if isinstance(coding, MAPPING):
        for extension in as_list(coding.get("extension")):
            url = extension.get("url") if isinstance(extension, MAPPING) else None
            if isinstance(url, str) and url in ORDINAL_EXTENSIONS:
                number = finite_number(extension.get("valueDecimal", extension.get("valueInteger")))
                if number is not None:
                    return number
        return coded.get(str(coding.get("code")))
    return None


def _score(
    questionnaire: Questionnaire,
    answers: Mapping[str, Any],
    ref: str,
    authored: datetime,
) -> tuple[LabFact | None, str | None]:
    coded = questionnaire.answer_scores
    total: float | None = None
    how = ""
    for link_id in questionnaire.total_link_ids:
        value = _item_score(answers.get(link_id.lstrip("/"), []), coded)
        if value is not None:
            total, how = value, "total item"
            break
    if total is None and questionnaire.items + questionnaire.item_link_ids:
        keys = [*questionnaire.items, *questionnaire.item_link_ids]
        present = [k for k in keys if k in answers]
        if not present:
            return None, None
        scores = [_item_score(answers[k], coded) for k in present]
        if len(present) < len(questionnaire.items) or any(s is None for s in scores):
            answered = sum(s is not None for s in scores)
            return None, (
                f"{questionnaire.name} incomplete ({answered} of {len(questionnaire.items)} items "
                "scored); no total"
            )
        total = float(sum(s for s in scores if s is not None))
        how = f"sum of {len(present)} item{'s' if len(present) > 1 else ''}"
    if total is None:
        return None, None
    if not (questionnaire.min_score <= total <= questionnaire.max_score):
        return None, f"{questionnaire.name} score {total:g} outside its range"
    code = questionnaire.codes[0].code
    return (
        LabFact(
            measure_id=questionnaire.id,
            value=total,
            comparator=None,
            unit=questionnaire.canonical_unit or "",
            reported=f"{total:g} (QuestionnaireResponse, {how})",
            code=code,
            effective=authored,
            resource_id=ref,
            band=band_for(questionnaire, total, None),
        ),
        None,
    )
