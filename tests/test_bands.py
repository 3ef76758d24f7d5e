"""Every threshold of every banded analyte and score: just below, at and just above, in both
unit systems, for each sex where the thresholds are sex-specific, and per assay method."""

from __future__ import annotations

import pytest

from cds_service.knowledge import KnowledgeBase
from tests.factories import observation, patient
from tests.helpers import snapshot_of

M, F, U = "male", "female", None  # U: sex not recorded

# (measure id, LOINC or local code, unit, value, sex, expected band)
CASES: list[tuple[str, str, str, float, str | None, str | None]] = [
    # Ferritin: WHO 15, AGA 45, WHO-with-inflammation 70; overload > 150 (women/unknown), > 200 (men)
    ("ferritin", "2276-4", "ng/mL", 14.9, F, "deficient"),
    ("ferritin", "2276-4", "ng/mL", 15, F, "low"),
    ("ferritin", "2276-4", "ng/mL", 44.9, F, "low"),
    ("ferritin", "2276-4", "ng/mL", 45, F, "low-if-inflamed"),
    ("ferritin", "2276-4", "ng/mL", 69.9, F, "low-if-inflamed"),
    ("ferritin", "2276-4", "ng/mL", 70, F, "adequate"),
    ("ferritin", "2276-4", "ng/mL", 150, F, "adequate"),
    ("ferritin", "2276-4", "ng/mL", 150.1, F, "overload"),
    ("ferritin", "2276-4", "ng/mL", 150.1, U, "overload"),
    ("ferritin", "2276-4", "ng/mL", 150.1, M, "adequate"),
    ("ferritin", "2276-4", "ng/mL", 200, M, "adequate"),
    ("ferritin", "2276-4", "ng/mL", 200.1, M, "overload"),
    ("ferritin", "2276-4", "pmol/L", 33.7, F, "deficient"),  # 14.998 ng/mL
    ("ferritin", "2276-4", "pmol/L", 33.705, F, "low"),  # 15 ng/mL
    ("ferritin", "2276-4", "ug/L", 45, F, "low-if-inflamed"),
    ("ferritin", "2276-4", "pmol/L", 337.05, F, "adequate"),  # 150 ng/mL
    ("ferritin", "2276-4", "pmol/L", 337.3, F, "overload"),
    # Transferrin saturation 20 / 45 %, also as a molar fraction
    ("transferrin-saturation", "2502-3", "%", 19.9, U, "low"),
    ("transferrin-saturation", "2502-3", "%", 20, U, "normal"),
    ("transferrin-saturation", "2502-3", "%", 44.9, U, "normal"),
    ("transferrin-saturation", "2502-3", "%", 45, U, "high"),
    ("transferrin-saturation", "14801-5", "1", 0.199, U, "low"),
    ("transferrin-saturation", "14801-5", "1", 0.45, U, "high"),
    # Folate, serum 3 / 4 ng/mL; 1 ng/mL = 2.266 nmol/L
    ("folate-serum", "2284-8", "ng/mL", 2.9, U, "deficient"),
    ("folate-serum", "2284-8", "ng/mL", 3, U, "low"),
    ("folate-serum", "2284-8", "ng/mL", 3.9, U, "low"),
    ("folate-serum", "2284-8", "ng/mL", 4, U, "adequate"),
    ("folate-serum", "14732-2", "nmol/L", 6.79, U, "deficient"),
    ("folate-serum", "14732-2", "nmol/L", 6.798, U, "low"),  # 3 ng/mL
    ("folate-serum", "14732-2", "nmol/L", 9.06, U, "low"),
    ("folate-serum", "14732-2", "nmol/L", 9.064, U, "adequate"),  # 4 ng/mL
    # Folate, RBC 151 ng/mL
    ("folate-rbc", "2283-0", "ng/mL", 150.9, U, "deficient"),
    ("folate-rbc", "2282-2", "ng/mL", 151, U, "adequate"),
    ("folate-rbc", "14731-4", "nmol/L", 342.1, U, "deficient"),
    ("folate-rbc", "14731-4", "nmol/L", 342.166, U, "adequate"),
    # Homocysteine 15 / 30 / 100 umol/L
    ("homocysteine", "13965-9", "umol/L", 15, U, "normal"),
    ("homocysteine", "13965-9", "umol/L", 15.1, U, "moderate"),
    ("homocysteine", "13965-9", "umol/L", 30, U, "moderate"),
    ("homocysteine", "13965-9", "umol/L", 30.1, U, "intermediate"),
    ("homocysteine", "13965-9", "umol/L", 100.1, U, "severe"),
    ("homocysteine", "13965-9", "mmol/L", 0.0151, U, "moderate"),
    # Methylmalonic acid 0.40 umol/L (= 400 nmol/L)
    ("methylmalonic-acid", "13964-2", "umol/L", 0.40, U, "normal"),
    ("methylmalonic-acid", "13964-2", "umol/L", 0.41, U, "raised"),
    ("methylmalonic-acid", "13964-2", "nmol/L", 400, U, "normal"),
    ("methylmalonic-acid", "13964-2", "nmol/L", 401, U, "raised"),
    # PLP 20 / 30 / 125 nmol/L; ug/L x 4.046 = nmol/L
    ("plp", "62236-5", "nmol/L", 19.9, U, "deficient"),
    ("plp", "62236-5", "nmol/L", 20, U, "marginal"),
    ("plp", "62236-5", "nmol/L", 29.9, U, "marginal"),
    ("plp", "62236-5", "nmol/L", 30, U, "adequate"),
    ("plp", "62236-5", "nmol/L", 125, U, "adequate"),
    ("plp", "62236-5", "nmol/L", 125.1, U, "high"),
    ("plp", "62236-5", "ug/L", 4.94, U, "deficient"),  # 19.98 nmol/L
    ("plp", "62236-5", "ug/L", 4.944, U, "marginal"),  # 20 nmol/L
    # Magnesium, serum 0.70 / 0.85 / 1.0 mmol/L; mg/dL x 0.4114; mEq/L x 0.5
    # Severe below 0.5 mmol/L (1.2 mg/dL), clinical-reference §7.4 (issues 16, 17)
    ("magnesium-serum", "2601-3", "mmol/L", 0.49, U, "severe-low"),
    ("magnesium-serum", "2601-3", "mmol/L", 0.5, U, "low"),
    ("magnesium-serum", "19123-9", "mg/dL", 1.2, U, "severe-low"),  # 0.4937 mmol/L
    ("magnesium-serum", "19123-9", "mg/dL", 1.2154, U, "low"),  # 0.50 mmol/L
    ("magnesium-serum", "2601-3", "mmol/L", 0.69, U, "low"),
    ("magnesium-serum", "2601-3", "mmol/L", 0.70, U, "low-normal"),
    ("magnesium-serum", "2601-3", "mmol/L", 0.84, U, "low-normal"),
    ("magnesium-serum", "2601-3", "mmol/L", 0.85, U, "normal"),
    ("magnesium-serum", "2601-3", "mmol/L", 1.0, U, "normal"),
    ("magnesium-serum", "2601-3", "mmol/L", 1.01, U, "high"),
    ("magnesium-serum", "19123-9", "mg/dL", 1.70, U, "low"),  # 0.6994 mmol/L
    ("magnesium-serum", "19123-9", "mg/dL", 1.7015, U, "low-normal"),  # 0.70 mmol/L
    ("magnesium-serum", "19123-9", "mEq/L", 1.39, U, "low"),
    ("magnesium-serum", "19123-9", "mEq/L", 1.4, U, "low-normal"),
    # Zinc: Hotz cut-offs by sex (women 59/70, men 61/74, unknown 59/74 ug/dL); x 0.153 umol/L
    ("zinc", "5763-8", "ug/dL", 58.9, F, "deficient"),
    ("zinc", "5763-8", "ug/dL", 59, F, "borderline"),
    ("zinc", "5763-8", "ug/dL", 69.9, F, "borderline"),
    ("zinc", "5763-8", "ug/dL", 70, F, "adequate"),
    ("zinc", "5763-8", "ug/dL", 60.9, M, "deficient"),
    ("zinc", "5763-8", "ug/dL", 61, M, "borderline"),
    ("zinc", "5763-8", "ug/dL", 73.9, M, "borderline"),
    ("zinc", "5763-8", "ug/dL", 74, M, "adequate"),
    ("zinc", "5763-8", "ug/dL", 60, U, "borderline"),
    ("zinc", "5763-8", "ug/dL", 72, U, "borderline"),
    ("zinc", "5763-8", "ug/dL", 74, U, "adequate"),
    ("zinc", "14955-9", "umol/L", 9.02, F, "deficient"),  # 58.95 ug/dL
    ("zinc", "14955-9", "umol/L", 9.027, F, "borderline"),  # 59 ug/dL
    ("zinc", "14955-9", "umol/L", 11.322, M, "adequate"),  # 74 ug/dL
    # Copper: low < 70 (men) / < 80 (women, unknown); high > 140 / > 155 ug/dL; x 0.157 umol/L
    ("copper", "5631-7", "ug/dL", 69.9, M, "low"),
    ("copper", "5631-7", "ug/dL", 70, M, "normal"),
    ("copper", "5631-7", "ug/dL", 140.1, M, "high"),
    ("copper", "5631-7", "ug/dL", 79.9, F, "low"),
    ("copper", "5631-7", "ug/dL", 80, F, "normal"),
    ("copper", "5631-7", "ug/dL", 75, U, "low"),
    ("copper", "5631-7", "ug/dL", 155.1, F, "high"),
    ("copper", "14665-4", "umol/L", 10.99, M, "normal"),  # 70 ug/dL
    ("copper", "14665-4", "umol/L", 10.98, M, "low"),
    # 25-OH vitamin D 12 / 20 / 50 / 80 ng/mL; x 2.496 nmol/L
    ("vitamin-d-25oh", "62292-8", "ng/mL", 11.9, U, "deficient"),
    ("vitamin-d-25oh", "62292-8", "ng/mL", 12, U, "inadequate"),
    ("vitamin-d-25oh", "62292-8", "ng/mL", 19.9, U, "inadequate"),
    ("vitamin-d-25oh", "62292-8", "ng/mL", 20, U, "adequate"),
    ("vitamin-d-25oh", "1989-3", "ng/mL", 49.9, U, "adequate"),
    ("vitamin-d-25oh", "1989-3", "ng/mL", 50, U, "high"),
    ("vitamin-d-25oh", "1989-3", "ng/mL", 80, U, "high"),
    ("vitamin-d-25oh", "1989-3", "ng/mL", 80.1, U, "toxic"),
    ("vitamin-d-25oh", "14635-7", "nmol/L", 29.9, U, "deficient"),
    ("vitamin-d-25oh", "14635-7", "nmol/L", 29.952, U, "inadequate"),  # 12 ng/mL
    ("vitamin-d-25oh", "14635-7", "nmol/L", 49.92, U, "adequate"),  # 20 ng/mL
    ("vitamin-d-25oh", "14635-7", "nmol/L", 124.8, U, "high"),  # 50 ng/mL
    ("vitamin-d-25oh", "14635-7", "nmol/L", 199.7, U, "toxic"),
    # hs-CRP and CRP 1 / 3 / 10 mg/L; mg/dL x 10
    ("hs-crp", "30522-7", "mg/L", 0.9, U, "low"),
    ("hs-crp", "30522-7", "mg/L", 1, U, "average"),
    ("hs-crp", "30522-7", "mg/L", 3, U, "average"),
    ("hs-crp", "30522-7", "mg/L", 3.1, U, "low-grade"),
    ("hs-crp", "30522-7", "mg/L", 10, U, "low-grade"),
    ("hs-crp", "30522-7", "mg/L", 10.1, U, "acute"),
    ("hs-crp", "30522-7", "mg/dL", 0.3, U, "average"),
    ("hs-crp", "30522-7", "mg/dL", 0.31, U, "low-grade"),
    ("hs-crp", "30522-7", "mg/dL", 1.01, U, "acute"),
    ("crp", "1988-5", "mg/L", 10, U, "low-grade"),
    ("crp", "1988-5", "mg/L", 10.1, U, "acute"),
    ("crp", "1988-5", "mg/dL", 1.0, U, "low-grade"),
    # TSH 0.4 / 4.0 mIU/L (3 codes, 5 unit spellings)
    # Suppressed below 0.1 mIU/L, clinical-reference §7.4 (issues 16, 17: C12 from a result)
    ("tsh", "3016-3", "mIU/L", 0.099, U, "suppressed"),
    ("tsh", "11579-0", "m[IU]/L", 0.1, U, "low"),
    ("tsh", "3016-3", "mIU/L", 0.39, U, "low"),
    ("tsh", "3016-3", "m[IU]/L", 0.4, U, "normal"),
    ("tsh", "11579-0", "uIU/mL", 4.0, U, "normal"),
    ("tsh", "11580-8", "u[IU]/mL", 4.01, U, "high"),
    # Calcium, ionised: 1.32 mmol/L [K]; whole blood and serum/plasma codes (issue 16)
    ("calcium-ionised", "1995-0", "mmol/L", 1.32, U, "not-high"),
    ("calcium-ionised", "1994-3", "mmol/L", 1.33, U, "high"),
    ("calcium-ionised", "1995-0", "mg/dL", 5.29, U, "not-high"),  # 1.3199 mmol/L
    ("calcium-ionised", "1995-0", "mg/dL", 5.4, U, "high"),  # 1.347 mmol/L
    # Free T4 0.8 / 1.8 ng/dL; x 12.87 pmol/L
    ("free-t4", "3024-7", "ng/dL", 0.79, U, "low"),
    ("free-t4", "3024-7", "ng/dL", 0.8, U, "normal"),
    ("free-t4", "3024-7", "ng/dL", 1.81, U, "high"),
    ("free-t4", "14920-3", "pmol/L", 10.296, U, "normal"),  # 0.8 ng/dL
    ("free-t4", "14920-3", "pmol/L", 10.29, U, "low"),
    # eGFR (KDIGO) 15 / 30 / 45 / 60, any equation code and unit spelling
    ("egfr", "98979-8", "mL/min/{1.73_m2}", 14.9, U, "g5"),
    ("egfr", "98979-8", "mL/min/{1.73_m2}", 15, U, "g4"),
    ("egfr", "62238-1", "mL/min/1.73m2", 29.9, U, "g4"),
    ("egfr", "33914-3", "mL/min/{1.73_m2}", 30, U, "g3b"),
    ("egfr", "48642-3", "mL/min/{1.73_m2}", 44.9, U, "g3b"),
    ("egfr", "48643-1", "mL/min/{1.73_m2}", 45, U, "g3a"),
    ("egfr", "98979-8", "mL/min/{1.73_m2}", 59.9, U, "g3a"),
    ("egfr", "98979-8", "mL/min/{1.73_m2}", 60, U, "g1-g2"),
    # ALT / AST typical ULN 40 U/L; > 3x = 120 U/L; 1 ukat/L = 60 U/L
    ("alt", "1742-6", "U/L", 40, U, "normal"),
    ("alt", "1742-6", "U/L", 40.1, U, "raised"),
    ("alt", "1742-6", "U/L", 120, U, "raised"),
    ("alt", "1742-6", "U/L", 120.1, U, "above-3x-uln"),
    ("alt", "1742-6", "ukat/L", 2.0, U, "raised"),  # 120 U/L
    ("ast", "1920-8", "ukat/L", 2.01, U, "above-3x-uln"),
    # Platelets 50 / 150 / 450 x10^9/L
    ("platelets", "777-3", "10*3/uL", 49.9, U, "low"),
    ("platelets", "777-3", "10*3/uL", 50, U, "reduced"),
    ("platelets", "26515-7", "10*9/L", 150, U, "normal"),
    ("platelets", "777-3", "K/uL", 450.1, U, "high"),
    # hCG quantitative 5 / 25 mIU/mL
    # Calcium, total: 10.5 mg/dL = 2.62 mmol/L (issue 17: C15 from a result)
    ("calcium-serum", "17861-6", "mg/dL", 10.5, U, "not-high"),
    ("calcium-serum", "17861-6", "mg/dL", 10.51, U, "high"),
    ("calcium-serum", "2000-8", "mmol/L", 2.6197, U, "not-high"),  # 10.4998 mg/dL
    ("calcium-serum", "2000-8", "mmol/L", 2.62, U, "high"),  # 10.501 mg/dL
    # Haemoglobin: WHO 12 g/dL (women), 13 g/dL (men, and unknown sex)
    ("haemoglobin", "718-7", "g/dL", 11.9, F, "low"),
    ("haemoglobin", "718-7", "g/dL", 12, F, "normal"),
    ("haemoglobin", "718-7", "g/dL", 12.9, M, "low"),
    ("haemoglobin", "718-7", "g/dL", 13, M, "normal"),
    ("haemoglobin", "718-7", "g/dL", 12.5, U, "low"),
    ("haemoglobin", "718-7", "g/L", 130, U, "normal"),
    ("haemoglobin", "718-7", "mmol/L", 7.44, F, "low"),  # 11.99 g/dL
    ("haemoglobin", "718-7", "mmol/L", 7.45, F, "normal"),  # 12.004 g/dL
    ("hcg-serum-quant", "19080-1", "m[IU]/mL", 4.9, F, "negative"),
    ("hcg-serum-quant", "19080-1", "mIU/mL", 5, F, "equivocal"),
    ("hcg-serum-quant", "21198-7", "IU/L", 24.9, F, "equivocal"),
    ("hcg-serum-quant", "21198-7", "[IU]/L", 25, F, "positive"),
    # Omega-3 index: bands depend on the method the code records
    ("omega-3-index", "omega-3-index-rbc", "%", 3.9, U, "undesirable"),
    ("omega-3-index", "omega-3-index-rbc", "%", 4, U, "intermediate"),
    ("omega-3-index", "omega-3-index-rbc", "%", 8.1, U, "desirable"),
    ("omega-3-index", "omega-3-index-plasma", "%", 2.1, U, "undesirable"),
    ("omega-3-index", "omega-3-index-plasma", "%", 3.2, U, "intermediate"),
    ("omega-3-index", "omega-3-index-plasma", "%", 3.3, U, "desirable"),
    ("omega-3-index", "omega-3-index-plasma", "%", 5, U, "desirable"),  # RBC would say intermediate
    # Vitamin B12 200 / 300 pg/mL (also tests/test_b12_rules.py)
    ("vitamin-b12", "2132-9", "pg/mL", 199.9, U, "deficient"),
    ("vitamin-b12", "14685-2", "pmol/L", 147.6, U, "indeterminate"),
    ("vitamin-b12", "2132-9", "ng/L", 300.1, U, "adequate"),
    ("crp", "1988-5", "mg/L", 0.5, U, "low"),
    ("crp", "1988-5", "mg/L", 2, U, "average"),
    ("ast", "1920-8", "U/L", 40, U, "normal"),
    ("ast", "1920-8", "IU/L", 41, U, "raised"),
    # Questionnaires
    ("phq9", "44261-6", "{score}", 4, U, "minimal"),
    ("phq9", "44261-6", "{score}", 5, U, "mild"),
    ("phq9", "44261-6", "{score}", 9, U, "mild"),
    ("phq9", "44261-6", "{score}", 10, U, "moderate"),
    ("phq9", "44261-6", "{score}", 15, U, "moderately-severe"),
    ("phq9", "44261-6", "{score}", 20, U, "severe"),
    ("phq9-item9", "44260-8", "{score}", 0, U, "none"),
    ("phq9-item9", "44260-8", "{score}", 1, U, "any"),
    # C-SSRS screener items (issue 17): 0 = no, 1 = yes
    ("cssrs-wish-dead", "93246-7", "{score}", 0, U, "no"),
    ("cssrs-wish-dead", "93246-7", "{score}", 1, U, "yes"),
    ("cssrs-suicidal-thoughts", "93247-5", "{score}", 0, U, "no"),
    ("cssrs-suicidal-thoughts", "93247-5", "{score}", 1, U, "yes"),
    ("cssrs-behaviour", "93267-3", "{score}", 0, U, "no"),
    ("cssrs-behaviour", "93267-3", "{score}", 1, U, "yes"),
    ("cssrs-behaviour-3-months", "93269-9", "{score}", 0, U, "no"),
    ("cssrs-behaviour-3-months", "93269-9", "{score}", 1, U, "yes"),
    ("phq2", "55758-7", "{score}", 2, U, "negative"),
    ("phq2", "55758-7", "{score}", 3, U, "positive"),
    ("gad7", "70274-6", "{score}", 4, U, "minimal"),
    ("gad7", "70274-6", "{score}", 9, U, "mild"),
    ("gad7", "70274-6", "{score}", 10, U, "moderate"),
    ("gad7", "70274-6", "{score}", 15, U, "severe"),
    ("moca", "72172-0", "{score}", 25, U, "below-normal"),
    ("moca", "72172-0", "{score}", 26, U, "normal"),
    ("mmse", "72106-8", "{score}", 17, U, "severe"),
    ("mmse", "72106-8", "{score}", 18, U, "mild"),
    ("mmse", "72106-8", "{score}", 23, U, "mild"),
    ("mmse", "72106-8", "{score}", 24, U, "normal"),
    ("promis-depression", "71965-8", "{score}", 54.9, U, "within-normal"),
    ("promis-depression", "71965-8", "{score}", 55, U, "mild"),
    ("promis-depression", "71965-8", "{score}", 59.9, U, "mild"),
    ("promis-depression", "71965-8", "{score}", 60, U, "moderate"),
    ("promis-depression", "71965-8", "{score}", 70, U, "severe"),
    ("promis-fatigue", "71963-3", "{score}", 54.9, U, "within-normal"),
    ("promis-fatigue", "71963-3", "{score}", 55, U, "mild"),
    ("promis-fatigue", "71963-3", "{score}", 60, U, "moderate"),
    ("promis-fatigue", "71963-3", "{score}", 70, U, "severe"),
    ("promis-sleep", "71955-9", "{score}", 54.9, U, "within-normal"),
    ("promis-sleep", "71955-9", "{score}", 55, U, "mild"),
    ("promis-sleep", "71955-9", "{score}", 69.9, U, "moderate"),
    ("promis-sleep", "71955-9", "{score}", 70, U, "severe"),
    ("promis-anxiety", "71967-4", "{score}", 54.9, U, "within-normal"),
    ("promis-anxiety", "71967-4", "{score}", 59.9, U, "mild"),
    ("promis-anxiety", "71967-4", "{score}", 60, U, "moderate"),
    ("promis-anxiety", "71967-4", "{score}", 70, U, "severe"),
]


@pytest.mark.parametrize(("measure", "code", "unit", "value", "sex", "band"), CASES)
def test_band_boundaries(
    kb: KnowledgeBase,
    measure: str,
    code: str,
    unit: str,
    value: float,
    sex: str | None,
    band: str | None,
) -> None:
    system = "urn:neurotransmitter-cds:lab" if code.startswith("omega") else "http://loinc.org"
    resource = observation(code, value, unit, system=system)
    gender = sex or "unknown"
    snapshot = snapshot_of(kb, resource, patient_resource=patient(gender=gender))
    assert snapshot.labs[measure].band == band


def test_every_banded_measure_is_covered(kb: KnowledgeBase) -> None:
    """A band added to mappings/ without a boundary case here fails this test."""
    covered = {(m, b) for m, _, _, _, _, b in CASES}
    missing = [
        (m.id, b.id)
        for m in kb.measures.values()
        for b in m.bands
        if (b.lower or b.upper) and (m.id, b.id) not in covered and b.id != "below-acute"
    ]
    assert missing == []


def test_every_unit_converts_by_its_factor(kb: KnowledgeBase) -> None:
    """Each listed unit converts to the canonical value its factor says."""
    from cds_service.knowledge.schema import Questionnaire

    for measure in kb.measures.values():
        target = 1.0
        if isinstance(measure, Questionnaire):
            target = float(round((measure.min_score + measure.max_score) / 2))
        code = measure.codes[0]
        for conversion in measure.units:
            value = target * conversion.per_canonical
            resource = observation(code.code, value, conversion.unit, system=kb.uri(code.system))
            fact = snapshot_of(kb, resource).labs.get(measure.id)
            assert fact is not None, (measure.id, conversion.unit)
            assert fact.value == pytest.approx(target), (measure.id, conversion.unit)


@pytest.mark.parametrize(
    ("comparator", "value", "band"),
    [("<", 5, "below-acute"), ("<", 1, "low"), (">", 10, "acute"), (">", 5, None)],
)
def test_crp_bounds_are_bands_not_numbers(
    kb: KnowledgeBase, comparator: str, value: float, band: str | None
) -> None:
    snapshot = snapshot_of(kb, observation("1988-5", value, "mg/L", comparator=comparator))
    assert snapshot.labs["crp"].band == band


def test_qualitative_pregnancy_tests(kb: KnowledgeBase) -> None:
    from tests.factories import coded_observation

    snapshot = snapshot_of(
        kb,
        coded_observation("2106-3", "10828004", "http://snomed.info/sct"),
        coded_observation("2118-8", "LA6577-6"),
        patient_resource=patient(gender="female"),
    )
    assert snapshot.labs["hcg-urine-qual"].band == "positive"
    assert snapshot.labs["hcg-serum-qual"].band == "negative"


def test_phq9_item9_coded_answer(kb: KnowledgeBase) -> None:
    from tests.factories import coded_observation

    none = snapshot_of(kb, coded_observation("44260-8", "LA6568-5"))
    some = snapshot_of(kb, coded_observation("44260-8", "LA6569-3"))
    assert none.labs["phq9-item9"].band == "none"
    assert some.labs["phq9-item9"].band == "any"


def test_score_outside_its_range_is_ignored(kb: KnowledgeBase) -> None:
    snapshot = snapshot_of(kb, observation("44261-6", 28, "{score}"))
    assert "phq9" not in snapshot.labs
    assert any("outside" in i.reason for i in snapshot.ignored)


def test_hcg_is_stale_after_30_days_and_egfr_after_90(kb: KnowledgeBase) -> None:
    snapshot = snapshot_of(
        kb,
        observation("19080-1", 2, "mIU/mL", days=31),
        observation("98979-8", 70, "mL/min/{1.73_m2}", days=91),
        observation("2276-4", 50, "ng/mL", days=300),
    )
    assert "hcg-serum-quant" in snapshot.stale_labs and "egfr" in snapshot.stale_labs
    assert snapshot.labs["ferritin"].value == 50
