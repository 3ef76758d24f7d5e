"""How much of each ingredient a medication order or statement gives per day, when it can be told.

Dose-dependent safety rules (B6 above 5 mg/day with levodopa, omega-3 above 1 g/day, zinc above
40 mg/day...) need the ordered dose. It is read from ``dosageInstruction`` (R4 ``doseAndRate``;
DSTU2/STU3 ``doseQuantity``; MedicationStatement ``dosage``), times the frequency from
``timing``; a dose counted in tablets or capsules is multiplied by the product's strength (a
contained Medication's ``ingredient.strength``, the curated product table, or the strength
printed in an RxNorm-style name such as "Pyridoxine 50 MG Oral Tablet"). What cannot be told
is returned as unknown, and the safety gate then assumes the rule may apply (conservative).
Unit arithmetic only: no clinical thresholds live here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.units import canonical_amount
from cds_service.snapshot.values import MAPPING, as_list, finite_number

_VOLUME_ML = {"ml": 1.0, "l": 1000.0}
# HL7 GTS timing abbreviations -> administrations per day.
_TIMING_CODES = {
    "QD": 1.0,
    "BID": 2.0,
    "TID": 3.0,
    "QID": 4.0,
    "AM": 1.0,
    "PM": 1.0,
    "QOD": 0.5,
    "Q4H": 6.0,
    "Q6H": 4.0,
    "Q8H": 3.0,
    "Q12H": 2.0,
    "WK": 1 / 7,
}
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0}
_PERIOD_DAYS["a"] = 365.0
_STRENGTH_IN_TEXT = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(MG|MCG|UG|G|IU|UNT|UNITS?)\b(\s*/\s*ML\b)?", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class DoseEstimate:
    """The amount of one ingredient: per day, or a single dose when the frequency is unknown."""

    amount: float
    unit: str  # "mg" or "IU"
    per_day: bool  # False: frequency unknown; ``amount`` is one dose, a lower bound on the day
    text: str  # how the amount was derived, for the card

    def describe(self) -> str:
        amount = f"{self.amount:g} {self.unit}"
        return f"{amount}/day" if self.per_day else f"{amount} per dose (frequency unknown)"


@dataclass(frozen=True, slots=True)
class _Quantity:
    value: float
    unit: str


def _quantity(value: Any) -> _Quantity | None:
    if value is None or not isinstance(value, MAPPING):
        return None
    number = finite_number(value.get("value"))
    unit = value.get("code") or value.get("unit")
    if number is None or number <= 0:
        return None
    return _Quantity(number, unit.strip() if isinstance(unit, str) and unit.strip() else "1")


def _range_high(value: Any) -> _Quantity | None:
    if value is None or not isinstance(value, MAPPING):
        return None
    return _quantity(value.get("high"))


def _per_dose(dosage: Mapping[str, Any]) -> _Quantity | None:
    """One administration's quantity; for a range the upper end (conservative)."""
    for rate in as_list(dosage.get("doseAndRate")):
        if isinstance(rate, MAPPING):
            found = _quantity(rate.get("doseQuantity")) or _range_high(rate.get("doseRange"))
            if found:
                return found
    return (
        _quantity(dosage.get("doseQuantity"))
        or _range_high(dosage.get("doseRange"))
        or _quantity(dosage.get("quantityQuantity"))  # DSTU2 MedicationStatement
    )


def _per_day(dosage: Mapping[str, Any]) -> float | None:
    """Administrations per day from ``timing``; None when the timing does not say."""
    timing = dosage.get("timing")
    if not isinstance(timing, MAPPING):
        return None
    repeat = timing.get("repeat")
    if isinstance(repeat, MAPPING):
        # A zero or negative frequency is a data error: it must not shrink the dose to nothing.
        frequency = _positive(repeat.get("frequencyMax")) or _positive(repeat.get("frequency"))
        period = finite_number(repeat.get("period"))
        unit = repeat.get("periodUnit")
        if period and period > 0 and isinstance(unit, str) and unit in _PERIOD_DAYS:
            days = period * _PERIOD_DAYS[unit]
            rate = (frequency or 1.0) / days if days > 0 else math.inf  # a tiny period underflows
            return rate if math.isfinite(rate) else None
        when = as_list(repeat.get("when")) + as_list(repeat.get("timeOfDay"))
        if frequency and not when:
            return None  # a frequency without a period is not a rate
        if when and not frequency:
            return float(len(when))
    code = timing.get("code")
    for coding in as_list(code.get("coding") if isinstance(code, MAPPING) else None):
        if isinstance(coding, MAPPING) and isinstance(coding.get("code"), str):
            per_code = _TIMING_CODES.get(coding["code"].upper())
            if per_code is not None:
                return per_code
    return None


def _positive(value: Any) -> float | None:
    number = finite_number(value)
    return number if number is not None and number > 0 else None


def _strengths_from_text(texts: Iterable[str]) -> tuple[float, str, bool] | None:
    """A single strength printed in a drug name: (value, unit, per_ml); None if absent or ambiguous."""
    found: set[tuple[float, str, bool]] = set()
    for text in texts:
        for match in _STRENGTH_IN_TEXT.finditer(text):
            value = float(match.group(1).replace(",", "."))
            found.add((value, match.group(2).lower(), bool(match.group(3))))
    return found.pop() if len(found) == 1 else None


def _medication_strengths(medication: Mapping[str, Any] | None) -> list[tuple[float, str, str]]:
    """(value, unit, denominator unit) for each ingredient strength of a Medication resource."""
    result = []
    for ingredient in as_list((medication or {}).get("ingredient")):
        if not isinstance(ingredient, MAPPING):
            continue
        ratio = ingredient.get("strength")
        if not isinstance(ratio, MAPPING):
            continue
        numerator = _quantity(ratio.get("numerator"))
        denominator = _quantity(ratio.get("denominator"))
        if numerator is not None:
            result.append(
                (
                    numerator.value / (denominator.value if denominator else 1.0),
                    numerator.unit,
                    denominator.unit if denominator else "1",
                )
            )
    return result


def ordered_doses(
    kb: KnowledgeBase,
    resource: Mapping[str, Any],
    ingredients: tuple[str, ...],
    *,
    product_codes: Iterable[str],
    names: Iterable[str],
    medication: Mapping[str, Any] | None,
) -> dict[str, DoseEstimate]:
    """Daily amount per ingredient of an order or statement; ingredients not told are absent."""
    if not ingredients:
        return {}
    dosages = [
        d
        for d in as_list(resource.get("dosageInstruction")) + as_list(resource.get("dosage"))
        if isinstance(d, MAPPING)
    ]
    best: dict[str, DoseEstimate] = {}
    for dosage in dosages:
        quantity = _per_dose(dosage)
        if quantity is None:
            continue
        rate = _per_day(dosage)
        for ingredient_id, amount, unit, how in _amounts(
            kb, quantity, ingredients, product_codes, names, medication
        ):
            daily = amount * rate if rate is not None else amount
            if not math.isfinite(daily) or daily <= 0:
                # Absurd quantities overflow or underflow (a dose of 5e-324 ug is 0 mg): the
                # dose stays unknown, as a zero dose does (conservative).
                continue
            estimate = DoseEstimate(daily, unit, rate is not None, how)
            current = best.get(ingredient_id)
            if current is None or (estimate.per_day, estimate.amount) > (
                current.per_day,
                current.amount,
            ):
                best[ingredient_id] = estimate
    return best


def _amounts(
    kb: KnowledgeBase,
    quantity: _Quantity,
    ingredients: tuple[str, ...],
    product_codes: Iterable[str],
    names: Iterable[str],
    medication: Mapping[str, Any] | None,
) -> list[tuple[str, float, str, str]]:
    """(ingredient, amount, canonical unit, derivation) for one administration."""
    direct = canonical_amount(quantity.value, quantity.unit)
    if direct is not None:
        # A dose in mg or IU names one ingredient only when the product has one.
        if len(ingredients) == 1:
            return [(ingredients[0], direct[0], direct[1], f"{quantity.value:g} {quantity.unit}")]
        return []
    dose_volume = _VOLUME_ML.get(quantity.unit.lower())
    # Counted units (tablet, capsule, {pill}) or a volume: multiply by the product's strength.
    for code in product_codes:
        product = kb.products.get(code)
        if product is not None and product.strengths:
            out = []
            for strength in product.strengths:
                amount = canonical_amount(strength.value * quantity.value, strength.unit)
                if amount is not None and strength.ingredient in ingredients:
                    out.append(
                        (
                            strength.ingredient,
                            amount[0],
                            amount[1],
                            f"{quantity.value:g} x {strength.value:g} {strength.unit} ({product.display})",
                        )
                    )
            if out:
                return out
    if len(ingredients) != 1:
        return []
    strengths = _medication_strengths(medication)
    if len(strengths) == 1:
        value, unit, per = strengths[0]
        per_ml = per.lower() in _VOLUME_ML
        if per_ml != (dose_volume is not None):
            return []
        factor = quantity.value * (dose_volume if dose_volume is not None else 1.0)
        amount = canonical_amount(value * factor, unit)
        if amount is not None:
            how = f"{quantity.value:g} {quantity.unit} x {value:g} {unit}"
            return [(ingredients[0], amount[0], amount[1], how)]
    printed = _strengths_from_text(names)
    if printed is not None:
        value, unit, per_ml = printed
        if per_ml != (dose_volume is not None):
            return []
        factor = quantity.value * (dose_volume if dose_volume is not None else 1.0)
        amount = canonical_amount(value * factor, unit)
        if amount is not None:
            how = f"{quantity.value:g} {quantity.unit} x {value:g} {unit}{'/mL' if per_ml else ''}"
            return [(ingredients[0], amount[0], amount[1], how)]
    return []
