"""Units, in one place: UCUM spellings folded to one key, and amounts of mass or IU compared.

The loader checks the knowledge base's units with these functions and the snapshot reads
results and doses with the same ones, so a unit the loader accepts is a unit the reader knows.
Unit arithmetic only: no clinical thresholds live here.
"""

from __future__ import annotations

# Mass units to milligrams; international units are their own dimension.
MASS_MG = {"g": 1000.0, "mg": 1.0, "ug": 0.001, "mcg": 0.001, "µg": 0.001, "μg": 0.001}
INTERNATIONAL_UNITS = frozenset({"iu", "[iu]", "unt", "unit", "units", "[u]"})


def normalise_unit(unit: str) -> str:
    """Fold the spellings EHRs use for one UCUM unit (µg, mcg, ug; case) to one key."""
    folded = unit.strip().replace("µ", "u").replace("μ", "u").lower()
    return folded.replace("mcg", "ug").replace(" ", "")


def canonical_amount(value: float, unit: str) -> tuple[float, str] | None:
    """(value, "mg") for mass units, (value, "IU") for international units, else None."""
    folded = unit.strip().lower()
    if folded in MASS_MG:
        return value * MASS_MG[folded], "mg"
    if folded in INTERNATIONAL_UNITS:
        return value, "IU"
    return None


def convert(value: float, unit: str, target: str) -> float | None:
    """``value unit`` expressed in ``target`` (mass to mass, IU to IU), or None."""
    source = canonical_amount(value, unit)
    goal = canonical_amount(1.0, target)
    if source is None or goal is None or source[1] != goal[1]:
        return None
    return source[0] / goal[0]
