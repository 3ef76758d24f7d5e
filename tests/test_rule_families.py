"""One test per rule family: which rules fire just below, at and just above each threshold,
in conventional and SI units, and what data each rule requires before it suggests anything."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.knowledge import KnowledgeBase
from tests.factories import coded_observation, medication_request, observation, patient
from tests.helpers import fired_rules

Obs = dict[str, Any]


def crp(value: float) -> Obs:
    return observation("30522-7", value, "mg/L")


def egfr(value: float) -> Obs:
    return observation("98979-8", value, "mL/min/{1.73_m2}")


def phq9(score: int) -> Obs:
    return observation("44261-6", score, "{score}")


def check(
    kb: KnowledgeBase,
    resources: list[Obs],
    present: set[str],
    absent: set[str],
    *,
    gender: str = "male",
    age: int | None = 45,
) -> None:
    fired = fired_rules(kb, *resources, patient_resource=patient(age=age, gender=gender))
    assert present <= fired, f"missing {present - fired}; fired {sorted(fired)}"
    assert not (absent & fired), f"unexpected {absent & fired}"


# -- Iron ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ferritin", "unit", "crp_value", "gender", "present", "absent"),
    [
        (44.9, "ng/mL", 2, "male", {"iron-deficiency"}, set()),
        (45, "ng/mL", 2, "male", set(), {"iron-deficiency"}),
        (45, "ng/mL", 3.1, "male", {"iron-deficiency"}, set()),  # WHO < 70 with inflammation
        (69.9, "ng/mL", 10, "male", {"iron-deficiency"}, set()),
        (70, "ng/mL", 5, "male", set(), {"iron-deficiency"}),
        (12, "ng/mL", 10.1, "male", {"iron-withheld-acute-inflammation"}, {"iron-deficiency"}),
        (100.9, "pmol/L", 2, "male", {"iron-deficiency"}, set()),  # 44.9 ng/mL
        (101.115, "pmol/L", 2, "male", set(), {"iron-deficiency"}),  # 45.0 ng/mL
        (150.1, "ng/mL", 1, "female", {"iron-overload"}, {"iron-deficiency"}),
        (150.1, "ng/mL", 1, "male", set(), {"iron-overload"}),
        (200.1, "ng/mL", 1, "male", {"iron-overload"}, set()),
    ],
)
def test_iron_family(
    kb: KnowledgeBase,
    ferritin: float,
    unit: str,
    crp_value: float,
    gender: str,
    present: set[str],
    absent: set[str],
) -> None:
    check(
        kb, [observation("2276-4", ferritin, unit), crp(crp_value)], present, absent, gender=gender
    )


def test_ferritin_without_crp_asks_for_crp_not_iron(kb: KnowledgeBase) -> None:
    check(
        kb, [observation("2276-4", 12, "ng/mL")], {"iron-ferritin-needs-crp"}, {"iron-deficiency"}
    )
    # A standard CRP counts as a CRP; a bound "< 5" is below 10 mg/L, so ferritin is read.
    check(
        kb,
        [observation("2276-4", 12, "ng/mL"), observation("1988-5", 5, "mg/L", comparator="<")],
        {"iron-deficiency"},
        {"iron-ferritin-needs-crp"},
    )


@pytest.mark.parametrize(
    ("tsat", "present", "absent"),
    [
        (19.9, {"iron-tsat-low-ferritin-missing"}, set()),
        (20, set(), {"iron-tsat-low-ferritin-missing", "iron-overload"}),
        (44.9, set(), {"iron-overload"}),
        (45, {"iron-overload"}, set()),
    ],
)
def test_transferrin_saturation(
    kb: KnowledgeBase, tsat: float, present: set[str], absent: set[str]
) -> None:
    check(kb, [observation("2502-3", tsat, "%")], present, absent)


# -- Methylation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folate", "unit", "b12", "present", "absent"),
    [
        (3.9, "ng/mL", 450, {"folate-deficient"}, {"folate-low-b12-unknown"}),
        (4.0, "ng/mL", 450, set(), {"folate-deficient"}),
        (9.06, "nmol/L", 450, {"folate-deficient"}, set()),  # 3.998 ng/mL
        (9.064, "nmol/L", 450, set(), {"folate-deficient"}),  # 4.0 ng/mL
        (2.0, "ng/mL", None, {"folate-low-b12-unknown"}, {"folate-deficient"}),
        (2.0, "ng/mL", 150, {"folate-low-b12-not-replete", "b12-deficient"}, {"folate-deficient"}),
        (
            2.0,
            "ng/mL",
            250,
            {"folate-low-b12-not-replete", "b12-indeterminate"},
            {"folate-deficient"},
        ),
    ],
)
def test_folate_family(
    kb: KnowledgeBase,
    folate: float,
    unit: str,
    b12: float | None,
    present: set[str],
    absent: set[str],
) -> None:
    resources = [observation("2284-8", folate, unit)]
    if b12 is not None:
        resources.append(observation("2132-9", b12, "pg/mL"))
    check(kb, resources, present, absent)


def test_folate_with_indeterminate_b12_and_normal_mma_is_treatable(kb: KnowledgeBase) -> None:
    check(
        kb,
        [
            observation("2284-8", 2.0, "ng/mL"),
            observation("2132-9", 250, "pg/mL"),
            observation("13964-2", 0.30, "umol/L"),
        ],
        {"folate-deficient"},
        {"folate-low-b12-not-replete"},
    )


@pytest.mark.parametrize(("value", "fires"), [(15, False), (15.1, True), (120, True)])
def test_homocysteine(kb: KnowledgeBase, value: float, fires: bool) -> None:
    rule = {"homocysteine-raised"}
    resources = [observation("13965-9", value, "umol/L")]
    check(kb, resources, rule if fires else set(), set() if fires else rule)


# -- Serotonergic: B6, vitamin D ----------------------------------------------------------


@pytest.mark.parametrize(
    ("plp", "unit", "present", "absent"),
    [
        (19.9, "nmol/L", {"b6-deficient"}, {"b6-marginal"}),
        (20, "nmol/L", {"b6-marginal"}, {"b6-deficient"}),
        (29.9, "nmol/L", {"b6-marginal"}, set()),
        (30, "nmol/L", set(), {"b6-marginal", "b6-deficient", "b6-high"}),
        (125, "nmol/L", set(), {"b6-high"}),
        (125.1, "nmol/L", {"b6-high"}, set()),
        (4.9, "ug/L", {"b6-deficient"}, set()),  # 19.8 nmol/L
        (4.95, "ug/L", {"b6-marginal"}, set()),  # 20.03 nmol/L
    ],
)
def test_b6_family(
    kb: KnowledgeBase, plp: float, unit: str, present: set[str], absent: set[str]
) -> None:
    check(kb, [observation("62236-5", plp, unit), crp(1)], present, absent)


def test_b6_deficiency_needs_crp(kb: KnowledgeBase) -> None:
    check(kb, [observation("62236-5", 15, "nmol/L")], {"b6-low-needs-crp"}, {"b6-deficient"})
    check(kb, [observation("62236-5", 15, "nmol/L"), crp(25)], set(), {"b6-deficient"})


@pytest.mark.parametrize(
    ("value", "unit", "present", "absent"),
    [
        (11.9, "ng/mL", {"vitamin-d-deficient"}, {"vitamin-d-inadequate"}),
        (12, "ng/mL", {"vitamin-d-inadequate"}, {"vitamin-d-deficient"}),
        (19.9, "ng/mL", {"vitamin-d-inadequate"}, set()),
        (20, "ng/mL", set(), {"vitamin-d-inadequate", "vitamin-d-high"}),
        (49.9, "ng/mL", set(), {"vitamin-d-high"}),
        (50, "ng/mL", {"vitamin-d-high"}, set()),
        (29.9, "nmol/L", {"vitamin-d-deficient"}, set()),
        (29.952, "nmol/L", {"vitamin-d-inadequate"}, {"vitamin-d-deficient"}),
        (124.8, "nmol/L", {"vitamin-d-high"}, set()),
    ],
)
def test_vitamin_d_family(
    kb: KnowledgeBase, value: float, unit: str, present: set[str], absent: set[str]
) -> None:
    code = "62292-8" if unit == "ng/mL" else "14635-7"
    check(kb, [observation(code, value, unit)], present, absent)


# -- GABA/glutamate: magnesium, zinc ------------------------------------------------------


@pytest.mark.parametrize(
    ("mg", "unit", "gfr", "present", "absent"),
    [
        (0.69, "mmol/L", 30, {"magnesium-low"}, {"magnesium-low-egfr-below-30"}),
        (0.69, "mmol/L", 29.9, {"magnesium-low-egfr-below-30"}, {"magnesium-low"}),
        (0.69, "mmol/L", None, {"magnesium-low-needs-egfr"}, {"magnesium-low"}),
        (0.70, "mmol/L", 90, {"magnesium-low-normal"}, {"magnesium-low"}),
        (0.84, "mmol/L", 90, {"magnesium-low-normal"}, set()),
        (0.85, "mmol/L", 90, set(), {"magnesium-low-normal", "magnesium-low"}),
        (1.70, "mg/dL", 90, {"magnesium-low"}, set()),  # 0.6994 mmol/L
        (1.71, "mg/dL", 90, {"magnesium-low-normal"}, {"magnesium-low"}),
        (1.39, "mEq/L", 60, {"magnesium-low"}, set()),
    ],
)
def test_magnesium_family(
    kb: KnowledgeBase,
    mg: float,
    unit: str,
    gfr: float | None,
    present: set[str],
    absent: set[str],
) -> None:
    code = "2601-3" if unit == "mmol/L" else "19123-9"
    resources = [observation(code, mg, unit)]
    if gfr is not None:
        resources.append(egfr(gfr))
    check(kb, resources, present, absent)


@pytest.mark.parametrize(
    ("zinc", "unit", "gender", "present", "absent"),
    [
        (58.9, "ug/dL", "female", {"zinc-deficient"}, {"zinc-borderline"}),
        (59, "ug/dL", "female", {"zinc-borderline"}, {"zinc-deficient"}),
        (70, "ug/dL", "female", set(), {"zinc-borderline"}),
        (60.9, "ug/dL", "male", {"zinc-deficient"}, set()),
        (61, "ug/dL", "male", {"zinc-borderline"}, {"zinc-deficient"}),
        (73.9, "ug/dL", "male", {"zinc-borderline"}, set()),
        (74, "ug/dL", "male", set(), {"zinc-borderline"}),
        (9.02, "umol/L", "female", {"zinc-deficient"}, set()),
        (9.333, "umol/L", "male", {"zinc-borderline"}, {"zinc-deficient"}),  # 61 ug/dL
    ],
)
def test_zinc_family(
    kb: KnowledgeBase, zinc: float, unit: str, gender: str, present: set[str], absent: set[str]
) -> None:
    code = "5763-8" if unit == "ug/dL" else "14955-9"
    check(kb, [observation(code, zinc, unit), crp(1)], present, absent, gender=gender)


def test_zinc_is_read_with_crp(kb: KnowledgeBase) -> None:
    check(kb, [observation("5763-8", 50, "ug/dL")], {"zinc-needs-crp"}, {"zinc-deficient"})
    check(
        kb,
        [observation("5763-8", 50, "ug/dL"), crp(10.1)],
        {"zinc-withheld-acute-inflammation"},
        {"zinc-deficient"},
    )


# -- Catecholaminergic: copper, thyroid -----------------------------------------------------


@pytest.mark.parametrize(
    ("copper", "gender", "fires"),
    [(69.9, "male", True), (70, "male", False), (79.9, "female", True), (80, "female", False)],
)
def test_copper(kb: KnowledgeBase, copper: float, gender: str, fires: bool) -> None:
    rule = {"copper-low"}
    resources = [observation("5631-7", copper, "ug/dL")]
    check(kb, resources, rule if fires else set(), set() if fires else rule, gender=gender)


@pytest.mark.parametrize(
    ("tsh", "present", "absent"),
    [
        (0.39, {"thyroid-tsh-low"}, set()),
        (0.4, set(), {"thyroid-tsh-low", "thyroid-tsh-high"}),
        (4.0, set(), {"thyroid-tsh-high"}),
        (4.01, {"thyroid-tsh-high"}, set()),
    ],
)
def test_thyroid(kb: KnowledgeBase, tsh: float, present: set[str], absent: set[str]) -> None:
    check(kb, [observation("3016-3", tsh, "mIU/L")], present, absent)


# -- Inflammation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "code", "present", "absent"),
    [
        (3, "mg/L", "30522-7", set(), {"inflammation-low-grade", "inflammation-acute"}),
        (3.1, "mg/L", "30522-7", {"inflammation-low-grade", "kynurenine-context"}, set()),
        (10, "mg/L", "30522-7", {"inflammation-low-grade"}, {"inflammation-acute"}),
        (10.1, "mg/L", "30522-7", {"inflammation-acute"}, {"inflammation-low-grade"}),
        (1.01, "mg/dL", "30522-7", {"inflammation-acute"}, set()),
        (0.5, "mg/dL", "1988-5", {"inflammation-low-grade"}, set()),
    ],
)
def test_inflammation(
    kb: KnowledgeBase, value: float, unit: str, code: str, present: set[str], absent: set[str]
) -> None:
    check(kb, [observation(code, value, unit)], present, absent)


# -- Symptom-led options and the data they need first --------------------------------------

OPTIONS = {
    "serotonin-precursor-option",
    "methylfolate-adjunct-option",
    "same-adjunct-option",
    "omega3-adjunct-option",
}


@pytest.mark.parametrize(
    ("resource", "fires"),
    [
        (phq9(9), False),
        (phq9(10), True),
        (observation("71965-8", 59.9, "{score}"), False),
        (observation("71965-8", 60, "{score}"), True),
    ],
)
def test_depressive_symptom_options(kb: KnowledgeBase, resource: Obs, fires: bool) -> None:
    # L-methylfolate is an adjunct to an antidepressant (issue 17): one is taken here.
    sertraline = medication_request("36437", "sertraline 50 MG")
    resources = [resource, observation("2132-9", 450, "pg/mL"), sertraline]
    check(kb, resources, OPTIONS if fires else set(), set() if fires else OPTIONS)


def test_options_need_b12_and_pregnancy_status_first(kb: KnowledgeBase) -> None:
    check(kb, [phq9(12)], {"methylfolate-needs-b12"}, {"methylfolate-adjunct-option"})
    check(
        kb,
        [phq9(12), observation("2132-9", 450, "pg/mL")],
        {"amino-acid-pregnancy-test"},
        {"serotonin-precursor-option", "same-adjunct-option"},
        gender="female",
        age=30,
    )
    for hcg, allowed in [(4.9, True), (5, False), (30, False)]:
        resources = [phq9(12), observation("19080-1", hcg, "mIU/mL")]
        rule = {"serotonin-precursor-option"}
        check(
            kb,
            resources,
            rule if allowed else set(),
            (set() if allowed else rule) | {"amino-acid-pregnancy-test"},
            gender="female",
            age=30,
        )
    # Age 56 is outside 12-55: no pregnancy test is asked for.
    check(
        kb,
        [phq9(12)],
        {"serotonin-precursor-option"},
        {"amino-acid-pregnancy-test"},
        gender="female",
        age=56,
    )
    check(
        kb,
        [phq9(12), coded_observation("2106-3", "260385009", "http://snomed.info/sct")],
        {"serotonin-precursor-option"},
        set(),
        gender="female",
        age=55,
    )


@pytest.mark.parametrize(
    ("fatigue", "tsh", "fires"),
    [(59.9, 2.0, False), (60, 2.0, True), (65, 0.3, False), (65, None, True)],
)
def test_tyrosine_option(kb: KnowledgeBase, fatigue: float, tsh: float | None, fires: bool) -> None:
    resources = [phq9(14), observation("71963-3", fatigue, "{score}")]
    if tsh is not None:
        resources.append(observation("3016-3", tsh, "mIU/L"))
    rule = {"catecholamine-precursor-option"}
    check(kb, resources, rule if fires else set(), set() if fires else rule)


@pytest.mark.parametrize(
    ("resource", "fires"),
    [
        (observation("72172-0", 25, "{score}"), True),
        (observation("72172-0", 26, "{score}"), False),
        (observation("72106-8", 23, "{score}"), True),
        (observation("72106-8", 24, "{score}"), False),
    ],
)
def test_cognition_family(kb: KnowledgeBase, resource: Obs, fires: bool) -> None:
    rules = {"cholinergic-cognition-option", "cognition-b12-unknown", "cognition-tsh-unknown"}
    check(kb, [resource], rules if fires else set(), set() if fires else rules)


def test_cognition_option_withheld_while_b12_deficient(kb: KnowledgeBase) -> None:
    check(
        kb,
        [observation("72172-0", 20, "{score}"), observation("2132-9", 150, "pg/mL")],
        {"b12-deficient"},
        {"cholinergic-cognition-option"},
    )


def test_research_only_markers_never_fire_a_rule(kb: KnowledgeBase) -> None:
    resources = [
        observation("omega-3-index-rbc", 2, "%", system="urn:neurotransmitter-cds:lab"),
        observation("26746-8", 1.0, "mg/dL"),  # RBC magnesium, far below any lab range
        observation("20659-9", 5, "umol/L"),  # tryptophan, informational
    ]
    assert fired_rules(kb, *resources) == set()


def test_unknown_sex_counts_as_possibly_pregnant(kb: KnowledgeBase) -> None:
    check(
        kb,
        [phq9(12)],
        {"amino-acid-pregnancy-test"},
        {"serotonin-precursor-option"},
        gender="unknown",
        age=30,
    )
