"""One validator per file of ``mappings/``: parse it, check it against what it refers to.

Each ``load_*`` reads one file (or one family of files), checks its fields and every
reference it makes to files loaded before it, and returns typed, id-keyed items. A defect
fails with a ``KnowledgeError`` naming the file and the item. ``loader.load_knowledge``
calls them in dependency order.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from cds_service.errors import KnowledgeError
from cds_service.knowledge.read import parse, unique
from cds_service.knowledge.references import Checker, References, resolve, walk
from cds_service.knowledge.schema import (
    NON_ACTIONABLE_FLAGS,
    AllergenClass,
    ConditionClass,
    Definition,
    DerivedMeasure,
    DoseLimit,
    DoseThreshold,
    DuplicationRule,
    FollowUp,
    Ingredient,
    IngredientAmount,
    Intervention,
    LabOrder,
    LabPredicate,
    Manifest,
    Measure,
    MedicationClass,
    MedicationGuidance,
    MedicationSuggestion,
    ParenteralRoutes,
    Pathway,
    Predicate,
    Product,
    Questionnaire,
    Rule,
    RuleHeader,
    SafetyPrompt,
    SafetyRule,
)
from cds_service.knowledge.schema.common import Citation
from cds_service.knowledge.schema.files import (
    AllergiesFile,
    AnalytesFile,
    CitationsFile,
    ConditionsFile,
    DefinitionsFile,
    DerivedFile,
    FollowUpFile,
    InterventionsFile,
    LabOrdersFile,
    MedicationsFile,
    OrderChecksFile,
    OrderGuidanceFile,
    PathwaysFile,
    QuestionnairesFile,
    RulesFile,
    SafetyFile,
)
from cds_service.knowledge.units import canonical_amount, normalise_unit


def load_manifest(root: Path) -> tuple[Manifest, dict[str, str]]:
    """knowledge.yaml, and every URI a code system is known by -> its canonical URI."""
    manifest = parse(root / "knowledge.yaml", Manifest)
    aliases = {uri: uri for uri in manifest.code_systems.values()}
    for alternative, alias in manifest.system_aliases.items():
        if alias not in manifest.code_systems:
            raise KnowledgeError(f"knowledge.yaml: system_aliases: unknown system {alias!r}")
        aliases[alternative] = manifest.code_systems[alias]
    return manifest, aliases


def load_definitions(root: Path) -> dict[str, Definition]:
    """definitions.yaml (optional). Definitions may use earlier ones, never later ones: no
    cycles by construction."""
    path = root / "definitions.yaml"
    if not path.exists():
        return {}
    resolved: dict[str, Definition] = {}
    for definition in parse(path, DefinitionsFile).definitions:
        if definition.id in resolved:
            raise KnowledgeError(f"definitions.yaml: duplicate definition id {definition.id!r}")
        when = resolve(f"definitions.yaml: {definition.id}", definition.when, resolved)
        resolved[definition.id] = definition.model_copy(update={"when": when})
    return resolved


def load_citations(root: Path) -> dict[str, Citation]:
    """citations.yaml and every citations-*.yaml beside it, as one id space."""
    citations = list(parse(root / "citations.yaml", CitationsFile).citations)
    for path in sorted(root.glob("citations-*.yaml")):
        citations += parse(path, CitationsFile).citations
    return unique(citations, "citations*.yaml", "citation")


@dataclass(frozen=True, slots=True)
class Measures:
    """analytes.yaml + questionnaires.yaml, with the look-ups the reader needs."""

    by_id: dict[str, Measure]
    # code -> {system URI -> measure}: the one look-up the reader does per Observation coding.
    codes: dict[str, dict[str, Measure]]
    # measure id -> {normalised unit -> units per canonical unit}
    unit_factors: dict[str, dict[str, float]]


def load_measures(root: Path, check: Checker) -> Measures:
    analytes = parse(root / "analytes.yaml", AnalytesFile).analytes
    questionnaires = parse(root / "questionnaires.yaml", QuestionnairesFile).questionnaires
    measures: dict[str, Measure] = unique([*analytes, *questionnaires], "analytes.yaml", "measure")
    measure_codes: dict[str, dict[str, Measure]] = {}
    unit_factors: dict[str, dict[str, float]] = {}
    for measure in measures.values():
        file = "questionnaires.yaml" if isinstance(measure, Questionnaire) else "analytes.yaml"
        where = f"{file}: {measure.id}"
        check.citations(where, measure.citations)
        for code in measure.codes:
            uri = check.system(where, code)
            slot = measure_codes.setdefault(code.code, {})
            if uri in slot:
                raise KnowledgeError(f"{where}: code {code.code} is also used by {slot[uri].id}")
            slot[uri] = measure
        panel_codes = measure.panel_codes if isinstance(measure, Questionnaire) else []
        for code in [*measure.codes, *panel_codes]:
            check.system(where, code)
        for qualitative in measure.qualitative:
            for code in qualitative.codes:
                check.system(where, code)
        unit_factors[measure.id] = _unit_factors(where, measure)
        methods = {code.method for code in measure.codes if code.method}
        for band in measure.bands:
            if band.method is not None and band.method not in methods:
                raise KnowledgeError(
                    f"{where}: band {band.id} names method {band.method!r}, which no code has"
                )
    for measure in measures.values():
        for other in measure.substitutes:
            if other not in measures:
                raise KnowledgeError(f"{measure.id}: substitute {other!r} is not a known measure")
    return Measures(measures, measure_codes, unit_factors)


def _unit_factors(where: str, measure: Measure) -> dict[str, float]:
    """Every unit the measure may be reported in -> units per canonical unit; a code's usual
    unit must be among them."""
    factors: dict[str, float] = {}
    for conversion in measure.units:
        key = normalise_unit(conversion.unit)
        if key in factors and factors[key] != conversion.per_canonical:
            raise KnowledgeError(f"{where}: unit {conversion.unit!r} listed twice")
        factors[key] = conversion.per_canonical
    for code in measure.codes:
        if code.unit is not None and normalise_unit(code.unit) not in factors:
            raise KnowledgeError(f"{where}: code {code.code} unit {code.unit!r} has no conversion")
    return factors


def load_pathways(
    root: Path, measures: Mapping[str, Measure], check: Checker
) -> dict[str, Pathway]:
    pathways = unique(
        parse(root / "pathways.yaml", PathwaysFile).pathways, "pathways.yaml", "pathway"
    )
    for pathway in pathways.values():
        where = f"pathways.yaml: {pathway.id}"
        check.citations(where, pathway.citations)
        for marker in pathway.markers:
            if marker not in measures:
                raise KnowledgeError(f"{where}: marker {marker!r} is not a known measure")
        for measure_id in pathway.symptom_measures:
            if not isinstance(measures.get(measure_id), Questionnaire):
                raise KnowledgeError(
                    f"{where}: symptom measure {measure_id!r} is not a questionnaire"
                )
    return pathways


def load_interventions(
    root: Path, pathways: Mapping[str, Pathway], check: Checker
) -> dict[str, Intervention]:
    interventions = unique(
        parse(root / "interventions.yaml", InterventionsFile).interventions,
        "interventions.yaml",
        "intervention",
    )
    codes: dict[tuple[str, str], str] = {}
    for intervention in interventions.values():
        where = f"interventions.yaml: {intervention.id}"
        check.citations(where, intervention.citations, required=True)
        uri = check.system(where, intervention.ingredient)
        for pathway_id in intervention.pathways:
            if pathway_id not in pathways:
                raise KnowledgeError(f"{where}: unknown pathway {pathway_id!r}")
        key = (uri, intervention.ingredient.code)
        if intervention.variant_of is not None:
            continue  # checked below, once every base intervention's code is known
        if key in codes:
            raise KnowledgeError(f"{where}: code {key[1]} is also used by {codes[key]}")
        codes[key] = intervention.id
    for intervention in interventions.values():
        base = intervention.variant_of
        if base is None:
            continue
        where = f"interventions.yaml: {intervention.id}"
        if base not in interventions or interventions[base].variant_of is not None:
            raise KnowledgeError(f"{where}: variant_of {base!r} is not a base intervention")
        if interventions[base].ingredient != intervention.ingredient:
            raise KnowledgeError(f"{where}: a variant must share the ingredient of {base}")
    return interventions


def load_lab_orders(
    root: Path, measures: Mapping[str, Measure], check: Checker
) -> dict[str, LabOrder]:
    lab_orders = unique(
        parse(root / "lab_orders.yaml", LabOrdersFile).lab_orders, "lab_orders.yaml", "lab order"
    )
    for order in lab_orders.values():
        check.system(f"lab_orders.yaml: {order.id}", order.code)
        for measure_id in order.satisfied_by:
            if measure_id not in measures:
                raise KnowledgeError(
                    f"lab_orders.yaml: {order.id}: satisfied_by unknown measure {measure_id!r}"
                )
    return lab_orders


@dataclass(frozen=True, slots=True)
class Medications:
    """medications.yaml: classes, ingredients and curated products (by RxNorm code)."""

    classes: dict[str, MedicationClass]
    ingredients: dict[str, Ingredient]
    products: dict[str, Product]
    parenteral: ParenteralRoutes


def load_medications(
    root: Path, interventions: Mapping[str, Intervention], check: Checker
) -> Medications:
    meds = parse(root / "medications.yaml", MedicationsFile)
    classes = unique(meds.classes, "medications.yaml", "class")
    ingredients = unique(meds.ingredients, "medications.yaml", "ingredient")
    products: dict[str, Product] = {}
    for product in meds.products:
        if product.rxnorm in products:
            raise KnowledgeError(f"medications.yaml: duplicate product {product.rxnorm}")
        products[product.rxnorm] = product
    for ingredient in ingredients.values():
        where = f"medications.yaml: ingredient {ingredient.id}"
        if ingredient.intervention is not None and ingredient.intervention not in interventions:
            raise KnowledgeError(f"{where}: unknown intervention {ingredient.intervention!r}")
        for class_id in ingredient.classes:
            if class_id not in classes:
                raise KnowledgeError(f"{where}: unknown class {class_id!r}")
        for class_id, threshold in ingredient.class_doses.items():
            # A dose-conditional class needs a unit the dose reader can compare (mass or IU).
            if canonical_amount(1.0, threshold.unit) is None:
                raise KnowledgeError(
                    f"{where}: class_doses {class_id}: "
                    f"unit {threshold.unit!r} is not a mass or IU unit"
                )
    ingredient_codes = {cui for ingredient in ingredients.values() for cui in ingredient.rxnorm}
    for product in products.values():
        where = f"medications.yaml: product {product.rxnorm}"
        for ingredient_id in product.ingredients:
            if ingredient_id not in ingredients:
                raise KnowledgeError(f"{where}: unknown ingredient {ingredient_id!r}")
        for strength in product.strengths:
            if strength.ingredient not in product.ingredients:
                raise KnowledgeError(
                    f"{where}: strength for {strength.ingredient!r}, not an ingredient of it"
                )
        if product.rxnorm in ingredient_codes:
            raise KnowledgeError(f"{where} is also an ingredient code")
    for medication_class in classes.values():
        check.citations(f"medications.yaml: {medication_class.id}", medication_class.citations)
    _check_recognition(interventions, ingredients)
    return Medications(classes, ingredients, products, meds.parenteral)


def _check_recognition(
    interventions: Mapping[str, Intervention], ingredients: Mapping[str, Ingredient]
) -> None:
    """One recognition table: every intervention is recognised through medications.yaml.

    Each intervention needs an ingredient that names it, and the code its suggestions carry
    (interventions.yaml ``ingredient``) must be one the classifier resolves to such an
    ingredient; otherwise a clinician ordering the service's own suggestion would get an order
    the safety gate does not recognise. A regimen variant (``variant_of``) is recognised as
    its base intervention: an order of the same ingredient cannot say which regimen it is.
    """
    linked: dict[str, list[Ingredient]] = {}
    for ingredient in ingredients.values():
        if ingredient.intervention is not None:
            linked.setdefault(ingredient.intervention, []).append(ingredient)
    for intervention in interventions.values():
        where = f"interventions.yaml: {intervention.id}"
        own = linked.get(intervention.variant_of or intervention.id, [])
        if not own:
            raise KnowledgeError(
                f"{where}: no ingredient in medications.yaml names it (intervention: "
                f"{intervention.id}), so no product can be recognised as it"
            )
        code = intervention.ingredient
        codes = {
            "rxnorm": {cui for i in own for cui in i.rxnorm},
            "local-supplement": {c for i in own for c in i.supplement_codes},
        }
        if code.code not in codes.get(code.system, set()):
            raise KnowledgeError(
                f"{where}: ingredient code {code.system}|{code.code} is not an rxnorm or "
                f"supplement_codes entry of an ingredient of {intervention.id} in medications.yaml"
            )


def load_conditions(root: Path, check: Checker) -> tuple[dict[str, ConditionClass], list[str]]:
    """conditions.yaml: condition classes, and the words that make a condition's text about
    someone else ("family history of ...")."""
    conditions_file = parse(root / "conditions.yaml", ConditionsFile)
    conditions = unique(conditions_file.conditions, "conditions.yaml", "condition")
    for condition in conditions.values():
        check.citations(f"conditions.yaml: {condition.id}", condition.citations)
    return conditions, list(conditions_file.name_exclusions)


def load_rules(
    root: Path,
    *,
    definitions: Mapping[str, Definition],
    pathways: Mapping[str, Pathway],
    interventions: Mapping[str, Intervention],
    lab_orders: Mapping[str, LabOrder],
    measures: Mapping[str, Measure],
    refs: References,
    check: Checker,
) -> tuple[Rule, ...]:
    """rules/*.yaml: every recommendation rule, its ``when`` resolved and its suggestions known."""
    rules: list[Rule] = []
    for path in sorted((root / "rules").glob("*.yaml")):
        rules.extend(parse(path, RulesFile).rules)
    unique(rules, "rules/", "rule")
    resolved = []
    for rule in rules:
        where = f"rules/: {rule.id}"
        causes = [
            cause.model_copy(update={"when": resolve(where, cause.when, definitions)})
            for cause in rule.causes
        ]
        rule = rule.model_copy(
            update={"when": resolve(where, rule.when, definitions), "causes": causes}
        )
        resolved.append(rule)
        check.citations(where, rule.citations, required=True)
        if rule.pathway not in pathways:
            raise KnowledgeError(f"{where}: unknown pathway {rule.pathway!r}")
        refs.predicate(where, rule.when)
        read = {node.lab for node in walk(rule.when) if isinstance(node, LabPredicate)}
        if rule.lead is not None and rule.lead not in read:
            raise KnowledgeError(f"{where}: lead {rule.lead!r} is not a measure the rule reads")
        if rule.severity not in ("context", "option") and not (rule.suggest or rule.advice):
            raise KnowledgeError(f"{where}: a rule that suggests nothing needs advice")
        for cause in rule.causes:
            refs.predicate(f"{where}: cause {cause.label!r}", cause.when)
        suggests_medication = False
        for suggestion in rule.suggest:
            if isinstance(suggestion, MedicationSuggestion):
                if suggestion.medication not in interventions:
                    raise KnowledgeError(f"{where}: unknown intervention {suggestion.medication!r}")
                suggests_medication = True
                _check_precursor_pathway(
                    where, pathways[rule.pathway], interventions[suggestion.medication]
                )
                continue
            if suggestion.lab_order not in lab_orders:
                raise KnowledgeError(f"{where}: unknown lab order {suggestion.lab_order!r}")
            for prerequisite in suggestion.prerequisite_for:
                if prerequisite not in interventions:
                    raise KnowledgeError(
                        f"{where}: prerequisite_for names unknown intervention {prerequisite!r}"
                    )
        if suggests_medication:
            _check_actionable(where, rule.when, measures)
    return tuple(resolved)


def _check_precursor_pathway(where: str, pathway: Pathway, intervention: Intervention) -> None:
    """GABA/glutamate is context only: no precursor may be suggested on it."""
    if not pathway.precursor_suggestions and intervention.kind == "precursor":
        raise KnowledgeError(
            f"{where}: pathway {pathway.id} allows no precursor suggestions ({intervention.id})"
        )


def _check_actionable(where: str, predicate: Predicate, measures: Mapping[str, Measure]) -> None:
    """A rule that suggests a supplement may not read a research-only or informational measure,
    nor a contested band: those are displayed, never acted upon."""
    for node in walk(predicate):
        if not isinstance(node, LabPredicate):
            continue
        measure = measures[node.lab]
        flags = NON_ACTIONABLE_FLAGS.intersection(measure.flags)
        if flags:
            raise KnowledgeError(
                f"{where}: suggests a supplement but reads {measure.id}, which is {sorted(flags)[0]}"
            )
        contested = {b.id for b in measure.bands if b.contested}
        for band in node.bands:
            if band in contested:
                raise KnowledgeError(
                    f"{where}: suggests a supplement from the contested band {measure.id}.{band}"
                )


def load_safety(
    root: Path,
    *,
    definitions: Mapping[str, Definition],
    interventions: Mapping[str, Intervention],
    lab_orders: Mapping[str, LabOrder],
    medications: Medications,
    refs: References,
    check: Checker,
) -> tuple[tuple[SafetyRule, ...], tuple[SafetyPrompt, ...]]:
    """safety.yaml: safety rules and monitoring prompts, triggers resolved, targets known."""
    safety_file = parse(root / "safety.yaml", SafetyFile)
    both: list[SafetyRule | SafetyPrompt] = [*safety_file.rules, *safety_file.prompts]
    unique(both, "safety.yaml", "safety rule or prompt")
    all_tags = {tag for i in interventions.values() for tag in i.tags}
    rules = []
    for rule in safety_file.rules:
        where = f"safety.yaml: {rule.id}"
        rule = rule.model_copy(update={"trigger": resolve(where, rule.trigger, definitions)})
        rules.append(rule)
        check.citations(where, rule.citations, required=True)
        refs.predicate(where, rule.trigger)
        for target in rule.applies_to.interventions:
            if target not in interventions:
                raise KnowledgeError(f"{where}: unknown intervention {target!r}")
        for tag in rule.applies_to.tags:
            if tag not in all_tags:
                raise KnowledgeError(f"{where}: no intervention carries tag {tag!r}")
        for drug in [*rule.applies_to.medications, *rule.applies_to.except_medications]:
            if drug not in medications.classes and drug not in medications.ingredients:
                raise KnowledgeError(f"{where}: unknown medication class {drug!r}")
        replacement = rule.replacement
        if replacement is not None and replacement.lab_order not in lab_orders:
            raise KnowledgeError(f"{where}: unknown lab order {replacement.lab_order!r}")
    ids = {rule.id for rule in rules}
    for rule in rules:
        if rule.pair is not None and rule.pair not in ids:
            raise KnowledgeError(f"safety.yaml: {rule.id}: pair names unknown rule {rule.pair!r}")
    prompts = []
    for prompt in safety_file.prompts:
        where = f"safety.yaml: {prompt.id}"
        prompt = prompt.model_copy(update={"trigger": resolve(where, prompt.trigger, definitions)})
        prompts.append(prompt)
        check.citations(where, prompt.citations, required=True)
        refs.predicate(where, prompt.trigger)
        if prompt.lab_order is not None and prompt.lab_order not in lab_orders:
            raise KnowledgeError(f"{where}: unknown lab order {prompt.lab_order!r}")
    return tuple(rules), tuple(prompts)


def load_guidance(
    root: Path,
    *,
    measures: Mapping[str, Measure],
    lab_orders: Mapping[str, LabOrder],
    pathways: Mapping[str, Pathway],
    medication_classes: Mapping[str, MedicationClass],
    rule_ids: Collection[str],
    check: Checker,
) -> tuple[MedicationGuidance, ...]:
    """order_guidance.yaml (optional). Class ids are checked once medications.yaml defines
    classes at all, so the guidance can be authored before the class list exists."""
    path = root / "order_guidance.yaml"
    if not path.exists():
        return ()
    items = parse(path, OrderGuidanceFile).medication_guidance
    unique(items, "order_guidance.yaml", "guidance")
    for item in items:
        where = f"order_guidance.yaml: {item.id}"
        check.citations(where, item.citations, required=True)
        if item.pathway not in pathways:
            raise KnowledgeError(f"{where}: unknown pathway {item.pathway!r}")
        for measure_id in item.measures:
            if measure_id not in measures:
                raise KnowledgeError(f"{where}: unknown measure {measure_id!r}")
        for order_id in item.lab_orders:
            if order_id not in lab_orders:
                raise KnowledgeError(f"{where}: unknown lab order {order_id!r}")
        for rule_id in item.addresses:
            if rule_id not in rule_ids:
                raise KnowledgeError(f"{where}: addresses unknown rule {rule_id!r}")
        if medication_classes:
            for class_id in item.classes:
                if class_id not in medication_classes:
                    raise KnowledgeError(f"{where}: unknown medication class {class_id!r}")
    return tuple(items)


def load_derived(
    root: Path, measures: Mapping[str, Measure], check: Checker
) -> tuple[DerivedMeasure, ...]:
    """derived.yaml (optional): each derivation must name known measures, read only codes of
    its input, expect the input's canonical unit and produce a measure with a canonical unit;
    a measure is derived by one equation at most."""
    path = root / "derived.yaml"
    if not path.exists():
        return ()
    items = parse(path, DerivedFile).derived
    unique(items, "derived.yaml", "derivation")
    produced: dict[str, str] = {}
    for item in items:
        where = f"derived.yaml: {item.id}"
        check.citations(where, item.citations, required=True)
        output = measures.get(item.measure)
        source = measures.get(item.input)
        if output is None:
            raise KnowledgeError(f"{where}: unknown measure {item.measure!r}")
        if source is None:
            raise KnowledgeError(f"{where}: unknown input measure {item.input!r}")
        if output.canonical_unit is None:
            raise KnowledgeError(f"{where}: {item.measure} has no canonical unit to derive")
        if item.measure in produced:
            raise KnowledgeError(
                f"{where}: {item.measure} is also derived by {produced[item.measure]}"
            )
        produced[item.measure] = item.id
        if item.measure == item.input:
            raise KnowledgeError(f"{where}: a measure cannot be derived from itself")
        if source.canonical_unit is None or normalise_unit(item.input_unit) != normalise_unit(
            source.canonical_unit
        ):
            raise KnowledgeError(
                f"{where}: input_unit {item.input_unit!r} is not the canonical unit of {item.input}"
            )
        for other in item.not_from:
            if other not in measures or other in (item.input, item.measure):
                raise KnowledgeError(
                    f"{where}: not_from names {other!r}, not another known measure"
                )
        known = {code.code for code in source.codes}
        for code in item.input_codes:
            if code not in known:
                raise KnowledgeError(f"{where}: input code {code} is not a code of {item.input}")
    return tuple(items)


def load_follow_up(
    root: Path,
    *,
    interventions: Mapping[str, Intervention],
    measures: Mapping[str, Measure],
    lab_orders: Mapping[str, LabOrder],
    check: Checker,
) -> tuple[FollowUp, ...]:
    """follow_up.yaml (optional): each recheck names a base intervention, a measure and its
    bands, and a lab order that the measure satisfies."""
    path = root / "follow_up.yaml"
    if not path.exists():
        return ()
    items = parse(path, FollowUpFile).follow_up
    unique(items, "follow_up.yaml", "follow-up")
    for item in items:
        where = f"follow_up.yaml: {item.id}"
        check.citations(where, item.citations, required=True)
        intervention = interventions.get(item.intervention)
        if intervention is None or intervention.variant_of is not None:
            raise KnowledgeError(f"{where}: {item.intervention!r} is not a base intervention")
        measure = measures.get(item.measure)
        if measure is None:
            raise KnowledgeError(f"{where}: unknown measure {item.measure!r}")
        known = {b.id for b in measure.bands}
        for band in [*item.target_bands, *item.baseline_bands]:
            if band not in known:
                raise KnowledgeError(f"{where}: {item.measure} has no band {band!r}")
        order = lab_orders.get(item.lab_order)
        if order is None:
            raise KnowledgeError(f"{where}: unknown lab order {item.lab_order!r}")
        if item.measure not in order.satisfied_by:
            raise KnowledgeError(
                f"{where}: lab order {item.lab_order} does not measure {item.measure}"
            )
    return tuple(items)


@dataclass(frozen=True, slots=True)
class Allergies:
    """allergies.yaml: allergen classes and the codes that record no known allergy."""

    allergens: dict[str, AllergenClass]
    no_known_allergy: frozenset[str]


def load_allergies(root: Path, check: Checker) -> Allergies:
    """allergies.yaml (optional): allergen classes a rule can name, with SNOMED CT codes and names."""
    path = root / "allergies.yaml"
    if not path.exists():
        return Allergies({}, frozenset())
    data = parse(path, AllergiesFile)
    allergens = unique(data.allergens, "allergies.yaml", "allergen")
    seen: dict[str, str] = {}
    for allergen in allergens.values():
        where = f"allergies.yaml: {allergen.id}"
        check.citations(where, allergen.citations)
        for code in allergen.snomed:
            if code in data.no_known_allergy:
                raise KnowledgeError(f"{where}: {code} is a no-known-allergy code")
            if code in seen:
                raise KnowledgeError(f"{where}: code {code} is also used by {seen[code]}")
            seen[code] = allergen.id
    return Allergies(allergens, frozenset(data.no_known_allergy))


@dataclass(frozen=True, slots=True)
class OrderChecks:
    """order_checks.yaml: ingredient amounts, dose limits (with the ingredients each counts)
    and duplication rules."""

    amounts: dict[str, IngredientAmount]
    limits: tuple[DoseLimit, ...]
    limit_ingredients: dict[str, frozenset[str]]
    duplication: tuple[DuplicationRule, ...]


def load_order_checks(
    root: Path,
    *,
    definitions: Mapping[str, Definition],
    interventions: Mapping[str, Intervention],
    medications: Medications,
    refs: References,
    check: Checker,
) -> OrderChecks:
    """order_checks.yaml (optional): every ingredient, intervention, unit and predicate known."""
    path = root / "order_checks.yaml"
    if not path.exists():
        return OrderChecks({}, (), {}, ())
    data = parse(path, OrderChecksFile)
    amounts: dict[str, IngredientAmount] = {}
    for amount in data.ingredient_amounts:
        where = f"order_checks.yaml: ingredient_amounts: {amount.ingredient}"
        if amount.ingredient not in medications.ingredients:
            raise KnowledgeError(f"{where}: unknown ingredient")
        if amount.ingredient in amounts:
            raise KnowledgeError(f"{where}: listed twice")
        per_iu = amount.per_iu
        if per_iu is not None and (canonical_amount(1.0, per_iu.unit) or (0.0, ""))[1] != "mg":
            raise KnowledgeError(f"{where}: per_iu unit {per_iu.unit!r} is not a mass")
        check.citations(where, amount.citations, required=True)
        amounts[amount.ingredient] = amount
    rules: list[RuleHeader] = [*data.dose_limits, *data.duplication]
    unique(rules, "order_checks.yaml", "rule")
    limits = []
    groups: dict[str, frozenset[str]] = {}
    for limit in data.dose_limits:
        where = f"order_checks.yaml: {limit.id}"
        check.citations(where, limit.citations, required=True)
        members = set(limit.ingredients)
        for ingredient_id in limit.ingredients:
            if ingredient_id not in medications.ingredients:
                raise KnowledgeError(f"{where}: unknown ingredient {ingredient_id!r}")
        for intervention_id in limit.interventions:
            if intervention_id not in interventions:
                raise KnowledgeError(f"{where}: unknown intervention {intervention_id!r}")
            members |= {
                i.id for i in medications.ingredients.values() if i.intervention == intervention_id
            }
        thresholds = [limit.warn_above, limit.info_above, *(e.warn_above for e in limit.exceptions)]
        for threshold in thresholds:
            if threshold is not None:
                _check_limit_unit(where, threshold, members, amounts)
        exceptions = []
        for exception in limit.exceptions:
            when = resolve(where, exception.when, definitions)
            refs.predicate(where, when)
            exceptions.append(exception.model_copy(update={"when": when}))
        limits.append(limit.model_copy(update={"exceptions": exceptions}))
        groups[limit.id] = frozenset(members)
    for rule in data.duplication:
        where = f"order_checks.yaml: {rule.id}"
        check.citations(where, rule.citations, required=True)
        for intervention_id in rule.interventions:
            if intervention_id not in interventions:
                raise KnowledgeError(f"{where}: unknown intervention {intervention_id!r}")
    return OrderChecks(amounts, tuple(limits), groups, tuple(data.duplication))


def _check_limit_unit(
    where: str,
    threshold: DoseThreshold,
    members: set[str],
    amounts: Mapping[str, IngredientAmount],
) -> None:
    """A limit in IU needs the mass of an IU for every ingredient reported in mass, and the
    other way round; a limit in mass is compared with mass doses directly."""
    unit = canonical_amount(1.0, threshold.unit)
    if unit is None:
        raise KnowledgeError(f"{where}: unit {threshold.unit!r} is not a mass or IU unit")
    if unit[1] == "IU":
        lacking = sorted(m for m in members if m not in amounts or amounts[m].per_iu is None)
        if lacking:
            raise KnowledgeError(
                f"{where}: a limit in IU needs per_iu for {', '.join(lacking)} (ingredient_amounts)"
            )


def check_override_reasons(codes: set[str], rules: Mapping[str, tuple[RuleHeader, ...]]) -> None:
    """Every override reason a rule names is one of knowledge.yaml's."""
    for file, items in rules.items():
        for rule in items:
            for code in rule.override_reasons:
                if code not in codes:
                    raise KnowledgeError(f"{file}: {rule.id}: unknown override reason {code!r}")
