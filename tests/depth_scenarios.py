"""The patients of issue 17 (clinical depth), each where a new rule fires and its near miss.

One place for them, so the clinical tests (tests/test_depth_*.py) and the card-budget test
(tests/test_depth_budget.py) read the same patients. Each scenario is a CDS Hooks request
built from the factories, with dates relative to today.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.factories import (
    ICD10CM,
    SNOMED,
    condition,
    days_ago,
    hook_request,
    medication_request,
    medication_statement,
    observation,
    patient,
    prefetch_for,
)

Request = dict[str, Any]
SCENARIOS: dict[str, Callable[[], Request]] = {}


def scenario(function: Callable[[], Request]) -> Callable[[], Request]:
    SCENARIOS[function.__name__] = function
    return function


def view(*resources: dict[str, Any], age: int | None = 45, gender: str = "female") -> Request:
    """A patient-view request whose prefetch holds these resources."""
    return hook_request(
        prefetch=prefetch_for(*resources, patient_resource=patient(age=age, gender=gender))
    )


EGFR_OK = observation("98979-8", 80, "mL/min/{1.73_m2}")
CRP_LOW = observation("30522-7", 0.8, "mg/L")
B12_OK = observation("2132-9", 520, "pg/mL")
TSH_OK = observation("3016-3", 1.8, "mIU/L")


def omeprazole_for_years() -> dict[str, Any]:
    return medication_statement("Omeprazole 20 MG Oral Capsule", "7646", days=3 * 365)


# -- Severity (clinical-reference §7.4) --------------------------------------------------------


@scenario
def severe_hypomagnesaemia_on_omeprazole() -> Request:
    """Magnesium 0.9 mg/dL (0.37 mmol/L) after 3 years of omeprazole (the issue's example)."""
    return view(
        observation("19123-9", 0.9, "mg/dL"), omeprazole_for_years(), EGFR_OK, age=68, gender="male"
    )


@scenario
def magnesium_055_near_miss() -> Request:
    """Magnesium 0.55 mmol/L: low, not severe; oral magnesium stays an option."""
    return view(observation("2601-3", 0.55, "mmol/L"), omeprazole_for_years(), EGFR_OK)


@scenario
def severe_hypomagnesaemia_on_furosemide_with_alcohol_use_disorder() -> Request:
    return view(
        observation("2601-3", 0.42, "mmol/L"),
        medication_request("4603", "Furosemide 40 MG Oral Tablet"),
        condition("7200002", "Alcoholism"),
        age=55,
        gender="male",
    )


@scenario
def vitamin_d_deficient_with_high_calcium() -> Request:
    """Vitamin D 9 ng/mL with calcium 11.8 mg/dL (the issue's example): no vitamin D."""
    return view(observation("62292-8", 9, "ng/mL"), observation("17861-6", 11.8, "mg/dL"))


@scenario
def vitamin_d_deficient_calcium_103_near_miss() -> Request:
    return view(observation("62292-8", 9, "ng/mL"), observation("17861-6", 10.3, "mg/dL"))


@scenario
def tsh_suppressed() -> Request:
    """TSH 0.05 mIU/L: possible hyperthyroidism; free T4 suggested."""
    return view(observation("3016-3", 0.05, "mIU/L"))


@scenario
def tsh_03_near_miss() -> Request:
    return view(observation("3016-3", 0.3, "mIU/L"))


@scenario
def man_68_with_low_ferritin() -> Request:
    """Ferritin 20 in a 68-year-old man (the issue's example): blood count and GI evaluation."""
    return view(observation("2276-4", 20, "ng/mL"), CRP_LOW, age=68, gender="male")


@scenario
def man_68_with_iron_deficiency_anaemia() -> Request:
    return view(
        observation("2276-4", 20, "ng/mL"),
        observation("718-7", 11.2, "g/dL"),
        CRP_LOW,
        age=68,
        gender="male",
    )


@scenario
def woman_35_with_low_ferritin_near_miss() -> Request:
    """A woman of 35 with low ferritin: a blood count, but no GI prompt."""
    return view(
        observation("2276-4", 20, "ng/mL"), observation("718-7", 11.2, "g/dL"), CRP_LOW, age=35
    )


@scenario
def b12_deficient_on_metformin_with_pernicious_anaemia() -> Request:
    return view(
        observation("2132-9", 150, "pg/mL"),
        medication_request("6809", "Metformin 500 MG Oral Tablet"),
        condition("D51.0", "Pernicious anemia", system=ICD10CM),
        age=60,
    )


@scenario
def b12_deficient_no_cause_on_record() -> Request:
    return view(observation("2132-9", 150, "pg/mL"), age=60)


@scenario
def equivocal_hcg() -> Request:
    return view(observation("19080-1", 12, "m[IU]/mL", days=2), age=30)


@scenario
def negative_hcg_near_miss() -> Request:
    return view(observation("19080-1", 2, "m[IU]/mL", days=2), age=30)


# -- First-line care before adjuncts (clinical-reference §7.5) ---------------------------------

SERTRALINE = "36437"


def sertraline(days: float = 180) -> dict[str, Any]:
    return medication_request(SERTRALINE, "Sertraline 50 MG Oral Tablet", days=days)


def hcg_negative() -> dict[str, Any]:
    return observation("19080-1", 2, "m[IU]/mL", days=5)


@scenario
def phq2_positive_without_phq9() -> Request:
    return view(observation("55758-7", 4, "{score}"), B12_OK, age=40)


@scenario
def phq2_negative_near_miss() -> Request:
    return view(observation("55758-7", 2, "{score}"), B12_OK, age=40)


@scenario
def phq2_positive_with_a_phq9_near_miss() -> Request:
    return view(
        observation("55758-7", 4, "{score}"), observation("44261-6", 8, "{score}"), B12_OK, age=40
    )


@scenario
def woman_40_phq9_21_untreated() -> Request:
    """The issue's example: PHQ-9 21, no treatment, and results that used to give five cards."""
    return view(
        observation("44261-6", 21, "{score}"),
        observation("71963-3", 66, "{score}"),
        B12_OK,
        TSH_OK,
        observation("30522-7", 5.2, "mg/L"),
        observation("2276-4", 60, "ng/mL"),
        observation("718-7", 13.1, "g/dL"),
        observation("62292-8", 15, "ng/mL"),
        hcg_negative(),
        age=40,
    )


@scenario
def promis_depression_72_untreated() -> Request:
    return view(observation("71965-8", 72, "{score}"), B12_OK, age=50, gender="male")


@scenario
def phq9_16_on_sertraline_near_miss() -> Request:
    """Adjuncts allowed as before: on an antidepressant, the options stand."""
    return view(
        observation("44261-6", 16, "{score}"), sertraline(), B12_OK, TSH_OK, age=50, gender="male"
    )


@scenario
def phq9_14_untreated_near_miss() -> Request:
    return view(observation("44261-6", 14, "{score}"), B12_OK, TSH_OK, age=50, gender="male")


@scenario
def phq9_12_without_antidepressant() -> Request:
    """Moderate symptoms, no antidepressant: L-methylfolate is no option (an adjunct to one)."""
    return view(observation("44261-6", 12, "{score}"), B12_OK, age=50, gender="male")


@scenario
def pregnant_on_sertraline_phq9_16() -> Request:
    return view(
        observation("44261-6", 16, "{score}"),
        sertraline(),
        B12_OK,
        condition("72892002", "Normal pregnancy"),
        age=31,
    )


@scenario
def bipolar_on_sertraline_phq9_16() -> Request:
    return view(
        observation("44261-6", 16, "{score}"),
        sertraline(),
        B12_OK,
        condition("13746004", "Bipolar disorder"),
        age=50,
        gender="male",
    )


@scenario
def isoniazid() -> Request:
    return view(medication_request("6038", "Isoniazid 300 MG Oral Tablet"), age=50, gender="male")


@scenario
def hydralazine_near_miss() -> Request:
    return view(medication_request("5470", "Hydralazine 25 MG Oral Tablet"), age=50, gender="male")


@scenario
def isoniazid_already_on_pyridoxine() -> Request:
    return view(
        medication_request("6038", "Isoniazid 300 MG Oral Tablet"),
        medication_statement("Vitamin B6 25 MG", "9002", days=60),
        age=50,
        gender="male",
    )


# -- Follow-up of a supplement already taken ---------------------------------------------------


def b12_statement(days: float) -> dict[str, Any]:
    return medication_statement("Vitamin B12 1000 MCG Oral Tablet", "11248", days=days)


@scenario
def on_b12_for_4_months_no_result_since() -> Request:
    """The issue's example: B12 for four months, no result since the start: recheck due."""
    return view(observation("2132-9", 185, "pg/mL", days=130), b12_statement(120), age=50)


@scenario
def on_b12_for_6_weeks_recheck_not_yet_due() -> Request:
    return view(observation("2132-9", 185, "pg/mL", days=50), b12_statement(42), age=50)


@scenario
def on_b12_result_since_reached() -> Request:
    return view(
        observation("2132-9", 185, "pg/mL", days=130),
        observation("2132-9", 420, "pg/mL", days=5),
        b12_statement(120),
        age=50,
    )


@scenario
def on_b12_result_since_not_reached() -> Request:
    return view(
        observation("2132-9", 185, "pg/mL", days=130),
        observation("2132-9", 190, "pg/mL", days=5),
        b12_statement(120),
        age=50,
    )


@scenario
def on_otc_b12_with_normal_results() -> Request:
    """Over-the-counter B12 with a normal result before the start: no recheck (no deficiency)."""
    return view(observation("2132-9", 450, "pg/mL", days=130), b12_statement(120), age=50)


@scenario
def on_vitamin_d_for_4_months_after_deficiency() -> Request:
    return view(
        observation("62292-8", 9, "ng/mL", days=130),
        medication_statement("Vitamin D3 2000 UNT Oral Capsule", "2418", days=120),
        age=50,
    )


@scenario
def on_iron_for_6_weeks_anaemic() -> Request:
    """Iron for 6 weeks after iron-deficiency anaemia: the Hb recheck (4 weeks) is due, the
    ferritin recheck (12 weeks) is not yet."""
    return view(
        observation("2276-4", 12, "ng/mL", days=50),
        observation("718-7", 10.9, "g/dL", days=50),
        observation("30522-7", 0.8, "mg/L", days=50),
        medication_request("24947", "Ferrous sulfate 325 MG Oral Tablet", days=42),
        age=35,
    )


# -- Suicide risk ------------------------------------------------------------------------------

YES, NO = "LA33-6", "LA32-8"  # LOINC answers Yes / No


def cssrs_response(answers: dict[str, str], days: float = 3) -> dict[str, Any]:
    """A C-SSRS screener QuestionnaireResponse (items by LOINC linkId, coded Yes/No)."""
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-cssrs-{len(answers)}-{days}",
        "status": "completed",
        "questionnaire": "http://loinc.org/q/93373-9",
        "subject": {"reference": "Patient/pat-1"},
        "authored": days_ago(days),
        "item": [
            {
                "linkId": f"/{code}",
                "answer": [{"valueCoding": {"system": "http://loinc.org", "code": answer}}],
            }
            for code, answer in answers.items()
        ],
    }


@scenario
def phq9_item9_positive() -> Request:
    return view(observation("44260-8", 2, "{score}"), observation("2132-9", 150, "pg/mL"))


@scenario
def prior_attempt_with_depressive_symptoms() -> Request:
    return view(
        condition("Z91.51", "Personal history of suicidal behavior", system=ICD10CM),
        observation("44261-6", 12, "{score}"),
        observation("44260-8", 0, "{score}"),  # item 9 at 0 does not exclude risk
    )


@scenario
def prior_attempt_without_mood_data_near_miss() -> Request:
    """A remote attempt on record and a B12 deficiency: no critical card at every visit."""
    return view(
        condition("Z91.51", "Personal history of suicidal behavior", system=ICD10CM),
        observation("2132-9", 150, "pg/mL"),
    )


@scenario
def current_suicide_attempt() -> Request:
    return view(condition("T14.91XA", "Suicide attempt, initial encounter", system=ICD10CM))


@scenario
def resolved_attempt_with_depression_on_record() -> Request:
    return view(
        condition("T14.91XS", "Suicide attempt, sequela", system=ICD10CM, clinical="resolved"),
        condition("35489007", "Depressive disorder"),
    )


@scenario
def cssrs_suicidal_thoughts_yes() -> Request:
    return view(cssrs_response({"93246-7": YES, "93247-5": YES, "93267-3": NO}))


@scenario
def cssrs_all_no_near_miss() -> Request:
    return view(
        cssrs_response({"93246-7": NO, "93247-5": NO, "93267-3": NO}),
        observation("2132-9", 150, "pg/mL"),
    )


@scenario
def cssrs_recent_behaviour_yes() -> Request:
    return view(cssrs_response({"93246-7": NO, "93247-5": NO, "93267-3": YES, "93269-9": YES}))


@scenario
def cssrs_lifetime_behaviour_with_phq2_positive() -> Request:
    return view(
        cssrs_response({"93246-7": NO, "93247-5": NO, "93267-3": YES, "93269-9": NO}),
        observation("55758-7", 4, "{score}"),
    )


@scenario
def cssrs_lifetime_behaviour_alone_near_miss() -> Request:
    return view(
        cssrs_response({"93246-7": NO, "93247-5": NO, "93267-3": YES, "93269-9": NO}),
        observation("2132-9", 150, "pg/mL"),
    )


__all__ = [
    "B12_OK",
    "CRP_LOW",
    "EGFR_OK",
    "ICD10CM",
    "SCENARIOS",
    "SNOMED",
    "TSH_OK",
    "days_ago",
    "view",
]
