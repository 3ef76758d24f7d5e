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


def amount_in(value: float, unit: str, target: str, *, mg_per_iu: float | None) -> float | None:
    """``value unit`` in ``target``, crossing mass and international units with the
    ingredient's own factor (``mg_per_iu``: milligrams in one IU; data, per ingredient), or None
    when the dimensions differ and no factor is known."""
    direct = convert(value, unit, target)
    if direct is not None or mg_per_iu is None or mg_per_iu <= 0:
        return direct
    source = canonical_amount(value, unit)
    goal = canonical_amount(1.0, target)
    if source is None or goal is None:
        return None
    if source[1] == "IU":  # IU -> mg -> target mass unit
        return source[0] * mg_per_iu / goal[0]
    return source[0] / mg_per_iu / goal[0]  # mg -> IU (goal is IU: goal[0] == 1)
