"""Issue 17, severity and causes (clinical-reference §7.4): each new rule where it fires and its
near miss; pure stages (engine, safety) and the whole pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cds_service.engine.assess import assess
from cds_service.engine.safety import check_intervention
from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.reader import build_snapshot
from tests.depth_scenarios import SCENARIOS
from tests.factories import observation, patient, prefetch_for
from tests.helpers import card_with_rule, cards_by_topic, run_hook, suggested_resources


def respond(kb: KnowledgeBase, name: str) -> dict[str, Any]:
    return run_hook(kb, SCENARIOS[name]()).response


def codes_suggested(response: dict[str, Any]) -> set[str]:
    found = set()
    for card in response["cards"]:
        for resource in suggested_resources(card):
            concept = resource.get("medicationCodeableConcept") or resource["code"]
            found.add(concept["coding"][0]["code"])
    return found


def fired(kb: KnowledgeBase, *resources: dict[str, Any], **who: Any) -> set[str]:
    """Rule ids that fire for a patient (pure: snapshot and assess only)."""
    prefetch = prefetch_for(*resources, patient_resource=patient(**who))
    snapshot = build_snapshot(
        kb, patient_id="pat-1", now=datetime.now(UTC), prefetch_values=prefetch.values()
    )
    return {f.rule.id for a in assess(snapshot, kb) for f in a.findings}


def snapshot_with(kb: KnowledgeBase, *resources: dict[str, Any], **who: Any):
    prefetch = prefetch_for(*resources, patient_resource=patient(**who))
    return build_snapshot(
        kb, patient_id="pat-1", now=datetime.now(UTC), prefetch_values=prefetch.values()
    )


# -- Severe hypomagnesaemia ------------------------------------------------------------------


def test_severe_hypomagnesaemia_is_a_warning_without_magnesium(kb: KnowledgeBase) -> None:
    response = respond(kb, "severe_hypomagnesaemia_on_omeprazole")
    card = card_with_rule(response, "magnesium-severe-low")
    assert card["indicator"] == "warning" and card.get("overrideReasons")
    assert response["cards"][0] is card  # the most severe finding leads
    detail = card["detail"]
    assert "`magnesium-severe-low`" in detail
    assert "potassium and calcium" in detail and "ECG" in detail and "IV magnesium" in detail
    assert card["summary"].startswith("Magnesium 0.9 mg/dL, severe low: check K and Ca now")
    # The likely cause on record is named, with the resource that shows it.
    assert "Likely cause on record: proton-pump inhibitor" in detail
    assert "Omeprazole 20 MG Oral Capsule (MedicationStatement/" in detail
    assert "Omeprazole" in card["summary"]
    suggested = codes_suggested(response)
    assert kb.interventions["magnesium"].ingredient.code not in suggested
    assert {kb.lab_orders["potassium"].code.code, kb.lab_orders["calcium"].code.code} <= suggested


def test_magnesium_055_is_low_not_severe_and_oral_magnesium_stays(kb: KnowledgeBase) -> None:
    response = respond(kb, "magnesium_055_near_miss")
    card = cards_by_topic(response)["gaba-glutamate"]
    assert card["indicator"] == "info"
    assert "magnesium-severe-low" not in card["detail"]
    assert kb.interventions["magnesium"].ingredient.code in codes_suggested(response)
    # The cause is named at any level of hypomagnesaemia.
    assert "Likely cause on record: proton-pump inhibitor" in card["detail"]


def test_the_severe_band_starts_below_05_mmol_per_l(kb: KnowledgeBase) -> None:
    egfr = observation("98979-8", 80, "mL/min/{1.73_m2}")
    assert "magnesium-severe-low" in fired(kb, observation("2601-3", 0.49, "mmol/L"), egfr)
    assert "magnesium-severe-low" in fired(kb, observation("19123-9", 1.1, "mg/dL"), egfr)
    at_line = fired(kb, observation("2601-3", 0.5, "mmol/L"), egfr)
    assert "magnesium-severe-low" not in at_line and "magnesium-low" in at_line


def test_diuretic_and_alcohol_are_named_as_causes(kb: KnowledgeBase) -> None:
    response = respond(kb, "severe_hypomagnesaemia_on_furosemide_with_alcohol_use_disorder")
    detail = cards_by_topic(response)["gaba-glutamate"]["detail"]
    assert "loop or thiazide diuretic (renal magnesium loss): Furosemide 40 MG" in detail
    assert "alcohol use disorder: Alcoholism (Condition/" in detail
    assert "proton-pump inhibitor" not in detail.split("**Rule**")[0]  # none on record


def test_a_stopped_diuretic_is_not_named(kb: KnowledgeBase) -> None:
    from tests.factories import medication_request

    stopped = medication_request("4603", "Furosemide 40 MG", status="stopped", days=200)
    snapshot = snapshot_with(kb, observation("2601-3", 0.42, "mmol/L"), stopped)
    [finding] = [
        f for a in assess(snapshot, kb) for f in a.findings if f.rule.id == "magnesium-severe-low"
    ]
    assert finding.causes == ()


# -- Calcium (C15 from a result) -------------------------------------------------------------


def test_high_calcium_withholds_vitamin_d_and_says_so(kb: KnowledgeBase) -> None:
    response = respond(kb, "vitamin_d_deficient_with_high_calcium")
    assert kb.interventions["vitamin-d3"].ingredient.code not in codes_suggested(response)
    detail = card_with_rule(response, "vitamin-d-deficient")["detail"]
    assert "not offered: vitamin D3" in detail and "C15" in detail
    assert "Calcium **11.8 mg/dL** on " in detail  # the result that decided


def test_calcium_103_does_not_withhold_vitamin_d(kb: KnowledgeBase) -> None:
    response = respond(kb, "vitamin_d_deficient_calcium_103_near_miss")
    assert kb.interventions["vitamin-d3"].ingredient.code in codes_suggested(response)
    assert "C15" not in cards_by_topic(response)["serotonergic"]["detail"].split("**Safety")[0]


def test_c15_reads_si_units_and_the_lab_s_own_upper_limit(kb: KnowledgeBase) -> None:
    vitamin_d = kb.interventions["vitamin-d3"]

    def c15(*resources: dict[str, Any]) -> bool:
        hits = check_intervention(vitamin_d, snapshot_with(kb, *resources), kb)
        return any(h.rule.id == "C15" for h in hits)

    assert c15(observation("2000-8", 2.8, "mmol/L"))  # 11.2 mg/dL
    assert not c15(observation("2000-8", 2.55, "mmol/L"))  # 10.2 mg/dL
    ranged = {"referenceRange": [{"low": {"value": 8.6}, "high": {"value": 10.2, "unit": "mg/dL"}}]}
    assert c15(observation("17861-6", 10.3, "mg/dL", **ranged))  # above this lab's limit
    ionised = {"referenceRange": [{"high": {"value": 1.32, "unit": "mmol/L"}}]}
    assert c15(observation("1995-0", 1.45, "mmol/L", **ionised))
    assert not c15(observation("1995-0", 1.25, "mmol/L", **ionised))
    # Without a lab range, the default upper limit (1.32 mmol/L [K]) errs towards withholding.
    assert c15(observation("1994-3", 1.45, "mmol/L"))
    assert not c15(observation("1994-3", 1.30, "mmol/L"))


# -- TSH (C12 from a result) -----------------------------------------------------------------


def test_suppressed_tsh_withholds_tyrosine_and_suggests_free_t4(kb: KnowledgeBase) -> None:
    tyrosine = kb.interventions["tyrosine"]
    snapshot = snapshot_with(kb, observation("3016-3", 0.05, "mIU/L"), gender="male")
    hits = check_intervention(tyrosine, snapshot, kb)
    assert [h.rule.id for h in hits if h.rule.action == "block"] == ["C12"]
    [c12] = [h for h in hits if h.rule.id == "C12"]
    assert c12.trace.labs["tsh"].value == 0.05  # the result, not a diagnosis, decided
    response = respond(kb, "tsh_suppressed")
    card = cards_by_topic(response)["catecholaminergic"]
    assert "thyroid-tsh-suppressed" in card["detail"]
    assert codes_suggested(response) == {kb.lab_orders["free-t4"].code.code}


def test_tsh_03_neither_blocks_tyrosine_by_c12_nor_asks_for_free_t4(kb: KnowledgeBase) -> None:
    tyrosine = kb.interventions["tyrosine"]
    snapshot = snapshot_with(kb, observation("3016-3", 0.3, "mIU/L"), gender="male")
    assert not check_intervention(tyrosine, snapshot, kb)
    response = respond(kb, "tsh_03_near_miss")
    assert kb.lab_orders["free-t4"].code.code not in codes_suggested(response)
    assert "thyroid-tsh-low" in cards_by_topic(response)["catecholaminergic"]["detail"]


def test_a_current_free_t4_is_not_asked_for_again(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(
        observation("3016-3", 0.05, "mIU/L"),
        observation("3024-7", 2.4, "ng/dL"),
        patient_resource=patient(),
    )
    from tests.factories import hook_request

    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert kb.lab_orders["free-t4"].code.code not in codes_suggested(response)


# -- Iron deficiency: blood count and the cause ----------------------------------------------


def test_man_68_with_low_ferritin_gets_a_blood_count_and_the_gi_question(
    kb: KnowledgeBase,
) -> None:
    response = respond(kb, "man_68_with_low_ferritin")
    card = cards_by_topic(response)["catecholaminergic"]
    assert kb.lab_orders["cbc"].code.code in codes_suggested(response)
    assert kb.interventions["iron"].ingredient.code in codes_suggested(response)
    assert "iron-deficiency-cause-needs-blood-count" in card["detail"]
    assert "GI evaluation" in card["detail"]


def test_iron_deficiency_anaemia_in_a_man_names_the_gi_evaluation(kb: KnowledgeBase) -> None:
    response = respond(kb, "man_68_with_iron_deficiency_anaemia")
    detail = card_with_rule(response, "iron-deficiency-anaemia-gi-evaluation")["detail"]
    assert "bidirectional endoscopy" in detail
    assert "Haemoglobin **11.2 g/dL** on " in detail and "anaemia (WHO < 13 g/dL, men)" in detail
    assert kb.lab_orders["cbc"].code.code not in codes_suggested(response)  # Hb is current


def test_woman_35_with_low_ferritin_gets_no_gi_prompt(kb: KnowledgeBase) -> None:
    response = respond(kb, "woman_35_with_low_ferritin_near_miss")
    detail = cards_by_topic(response)["catecholaminergic"]["detail"]
    assert "iron-deficiency-anaemia-gi-evaluation" not in detail
    assert "endoscopy" not in detail and "GI evaluation" not in detail
    assert kb.interventions["iron"].ingredient.code in codes_suggested(response)


def test_woman_50_counts_and_unknown_sex_at_50_counts(kb: KnowledgeBase) -> None:
    labs = (
        observation("2276-4", 20, "ng/mL"),
        observation("718-7", 11.0, "g/dL"),
        observation("30522-7", 0.8, "mg/L"),
    )
    assert "iron-deficiency-anaemia-gi-evaluation" in fired(kb, *labs, age=50, gender="female")
    assert "iron-deficiency-anaemia-gi-evaluation" in fired(kb, *labs, age=52, gender="unknown")
    assert "iron-deficiency-anaemia-gi-evaluation" not in fired(kb, *labs, age=49)


def test_a_35_year_old_woman_without_a_blood_count_is_offered_one(kb: KnowledgeBase) -> None:
    from tests.factories import hook_request

    prefetch = prefetch_for(
        observation("2276-4", 20, "ng/mL"),
        observation("30522-7", 0.8, "mg/L"),
        patient_resource=patient(age=35),
    )
    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert kb.lab_orders["cbc"].code.code in codes_suggested(response)
    assert "GI evaluation" not in cards_by_topic(response)["catecholaminergic"]["detail"]


# -- B12: the causes are named ---------------------------------------------------------------


def test_b12_deficiency_names_metformin_and_pernicious_anaemia(kb: KnowledgeBase) -> None:
    response = respond(kb, "b12_deficient_on_metformin_with_pernicious_anaemia")
    detail = cards_by_topic(response)["methylation"]["detail"]
    assert "Likely cause on record: metformin (lowers B12 absorption): Metformin 500 MG" in detail
    assert (
        "Likely cause on record: pernicious anaemia (autoimmune gastritis): Pernicious anemia"
        in (detail)
    )
    assert "intrinsic-factor antibodies" in detail and "parenteral" in detail


def test_b12_deficiency_without_a_cause_on_record_still_says_what_to_look_for(
    kb: KnowledgeBase,
) -> None:
    detail = cards_by_topic(respond(kb, "b12_deficient_no_cause_on_record"))["methylation"][
        "detail"
    ]
    assert "Likely cause on record" not in detail
    assert "metformin, a proton-pump inhibitor, a diet low in animal foods" in detail


# -- Equivocal hCG ---------------------------------------------------------------------------


def test_equivocal_hcg_blocks_and_suggests_a_repeat(kb: KnowledgeBase) -> None:
    response = respond(kb, "equivocal_hcg")
    card = cards_by_topic(response)["serotonergic"]
    assert "hcg-equivocal-repeat" in card["detail"]
    # A repeat is suggested although a current quantitative hCG exists.
    assert kb.lab_orders["hcg-serum"].code.code in codes_suggested(response)
    snapshot = snapshot_with(kb, observation("19080-1", 12, "m[IU]/mL", days=2), age=30)
    hits = check_intervention(kb.interventions["5-htp"], snapshot, kb)
    assert "C2" in {h.rule.id for h in hits if h.rule.action == "block"}


def test_a_negative_hcg_is_not_repeated(kb: KnowledgeBase) -> None:
    response = respond(kb, "negative_hcg_near_miss")
    assert kb.lab_orders["hcg-serum"].code.code not in codes_suggested(response)
    assert not any("hcg-equivocal-repeat" in c["detail"] for c in response["cards"])
