"""How much of each ingredient a medication order or statement gives per day, when it can be told.

Dose-dependent safety rules (B6 above 5 mg/day with levodopa, omega-3 above 1 g/day...) and the
dose limits (vitamin D above 4,000 IU/day, cumulative over every product) need the ordered dose.
It is read from ``dosageInstruction`` (R4 ``doseAndRate``; DSTU2/STU3 ``doseQuantity``;
MedicationStatement ``dosage``), times the administrations per day from ``timing`` (frequency per
period, weekly and monthly regimens included, ``dayOfWeek``, or a timing code such as BID); a
dose counted in tablets or capsules is multiplied by the product's strength (a contained
Medication's ``ingredient.strength``, the curated product table, or the strength printed in an
RxNorm-style name such as "Pyridoxine 50 MG Oral Tablet").

When no dose quantity is sent, ``maxDosePerPeriod`` per day is the daily amount (the service's
own suggestions carry it), else the product's strength counts as one unit per administration:
a lower bound, flagged ``units_assumed``, that can show a dose is too high but never that it is
safe. What cannot be told is returned as unknown, and the checks then say "dose not checked" or
assume the rule may apply (conservative). Unit arithmetic only: no clinical thresholds live here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.units import canonical_amount
from cds_service.snapshot.memo import memoised
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
    "MO": 1 / 30.4375,
}
# UCUM: mo is the mean Julian month (30.4375 d), a the Julian year (365.25 d).
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0}
_PERIOD_DAYS.update({"mo": 30.4375, "a": 365.25})
_WEEKDAYS = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
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
    # No dose quantity was sent: one unit of the product per administration is assumed, so the
    # amount is a lower bound (a tablet more per dose would be more).
    units_assumed: bool = False

    @property
    def exact(self) -> bool:
        """The daily amount as ordered, not a lower bound."""
        return self.per_day and not self.units_assumed

    def describe(self) -> str:
        amount = f"{self.amount:,.6g} {self.unit}"
        if not self.per_day:
            return f"{amount} per dose (frequency unknown)"
        if self.units_assumed:
            return f"at least {amount}/day (dose quantity not stated: one unit per dose assumed)"
        return f"{amount}/day"


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
        weekdays = {d for d in as_list(repeat.get("dayOfWeek")) if isinstance(d, str)} & _WEEKDAYS
        if weekdays:
            # e.g. every Monday: once (or `frequency` times) on each named day of the week.
            return (frequency or float(len(when) or 1)) * len(weekdays) / 7
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
    product_codes = list(product_codes)
    names = list(names)
    for dosage in dosages:
        quantity = _per_dose(dosage)
        assumed = quantity is None
        if quantity is None:
            ceiling = _daily_ceiling(dosage, ingredients)
            if ceiling is not None:
                _keep(best, *ceiling)
                continue
            # No dose quantity: the product's strength, one unit per administration.
            quantity = _Quantity(1.0, "1")
        rate = _per_day(dosage)
        for ingredient_id, amount, unit, how in _amounts(
            kb, quantity, ingredients, product_codes, names, medication
        ):
            daily = amount * rate if rate is not None else amount
            if not math.isfinite(daily) or daily <= 0:
                # Absurd quantities overflow or underflow (a dose of 5e-324 ug is 0 mg): the
                # dose stays unknown, as a zero dose does (conservative).
                continue
            if assumed:
                how = f"{how}, one unit per dose assumed"
            _keep(best, ingredient_id, DoseEstimate(daily, unit, rate is not None, how, assumed))
    if not dosages:
        # No dosage at all: a strength printed in the name or coded on the product is still a
        # lower bound for one administration (frequency unknown).
        for ingredient_id, amount, unit, how in _amounts(
            kb, _Quantity(1.0, "1"), ingredients, product_codes, names, medication
        ):
            if math.isfinite(amount) and amount > 0:
                estimate = DoseEstimate(
                    amount, unit, False, f"{how}, one unit per dose assumed", True
                )
                _keep(best, ingredient_id, estimate)
    return best


def _keep(best: dict[str, DoseEstimate], ingredient_id: str, estimate: DoseEstimate) -> None:
    """Keep the most informative estimate per ingredient: exact over a lower bound, then the
    larger amount (conservative)."""
    current = best.get(ingredient_id)
    rank = (estimate.per_day, not estimate.units_assumed, estimate.amount)
    if current is None or rank > (current.per_day, not current.units_assumed, current.amount):
        best[ingredient_id] = estimate


def _daily_ceiling(
    dosage: Mapping[str, Any], ingredients: tuple[str, ...]
) -> tuple[str, DoseEstimate] | None:
    """``maxDosePerPeriod`` of a single-ingredient product as a daily amount (mass or IU per
    day or days): the service's own suggestions state their dose this way."""
    if len(ingredients) != 1:
        return None
    for ratio in as_list(dosage.get("maxDosePerPeriod")):
        if not isinstance(ratio, MAPPING):
            continue
        numerator = _quantity(ratio.get("numerator"))
        denominator = _quantity(ratio.get("denominator"))
        if numerator is None or denominator is None:
            continue
        days = _PERIOD_DAYS.get(denominator.unit)
        amount = canonical_amount(numerator.value, numerator.unit)
        if days is None or amount is None:
            continue
        daily = amount[0] / (denominator.value * days)
        if math.isfinite(daily) and daily > 0:
            how = f"at most {numerator.value:g} {numerator.unit} per {denominator.value:g} {denominator.unit}"
            return ingredients[0], DoseEstimate(daily, amount[1], True, how)
    return None


def _amounts(
    kb: KnowledgeBase,
    quantity: _Quantity,
    ingredients: tuple[str, ...],
    product_codes: Iterable[str],
    names: list[str],
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
                            f"{_counted(quantity)} x {strength.value:g} {strength.unit} ({product.display})",
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
            how = f"{_counted(quantity)} x {value:g} {unit}"
            return [(ingredients[0], amount[0], amount[1], how)]
    printed = memoised(kb, "printed-strength", names, lambda: _strengths_from_text(names))
    if printed is not None:
        value, unit, per_ml = printed
        if per_ml != (dose_volume is not None):
            return []
        factor = quantity.value * (dose_volume if dose_volume is not None else 1.0)
        amount = canonical_amount(value * factor, unit)
        if amount is not None:
            how = f"{_counted(quantity)} x {value:g} {unit}{'/mL' if per_ml else ''}"
            return [(ingredients[0], amount[0], amount[1], how)]
    return []


def _counted(quantity: _Quantity) -> str:
    """A counted dose as the card shows it: "2 {pill}", "1" (a unit nobody named)."""
    return f"{quantity.value:g}" if quantity.unit == "1" else f"{quantity.value:g} {quantity.unit}"
