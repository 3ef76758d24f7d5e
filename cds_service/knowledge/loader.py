"""Load ``mappings/`` into a validated, indexed, immutable ``KnowledgeBase``.

Validation happens here, once, at start-up and in ``cds-service check-knowledge``: schema errors,
unknown code systems, rules without citations, dangling references and duplicate codes all fail
with a ``KnowledgeError`` naming the file and the field. Indexes by code are built here too, so
the request path only does dictionary look-ups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from cds_service.errors import KnowledgeError
from cds_service.knowledge.schema import (
    NON_ACTIONABLE_FLAGS,
    AllPredicate,
    Analyte,
    AnyPredicate,
    Citation,
    Code,
    ConditionClass,
    ConditionPredicate,
    Definition,
    DerivedMeasure,
    Ingredient,
    Intervention,
    LabOrder,
    LabPredicate,
    Manifest,
    Measure,
    MedicationClass,
    MedicationGuidance,
    MedicationPredicate,
    NotPredicate,
    Pathway,
    Predicate,
    Product,
    Questionnaire,
    Rule,
    SafetyPrompt,
    SafetyRule,
    UsePredicate,
)

T = TypeVar("T", bound=BaseModel)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CitationsFile(_File):
    citations: list[Citation]


class AnalytesFile(_File):
    analytes: list[Analyte]


class QuestionnairesFile(_File):
    questionnaires: list[Questionnaire]


class PathwaysFile(_File):
    pathways: list[Pathway]


class InterventionsFile(_File):
    interventions: list[Intervention]


class LabOrdersFile(_File):
    lab_orders: list[LabOrder]


class RulesFile(_File):
    rules: list[Rule]


class DefinitionsFile(_File):
    definitions: list[Definition] = []


class OrderGuidanceFile(_File):
    medication_guidance: list[MedicationGuidance] = []


class MedicationsFile(_File):
    classes: list[MedicationClass] = []
    ingredients: list[Ingredient] = []
    products: list[Product] = []


class ConditionsFile(_File):
    conditions: list[ConditionClass] = []
    # Words that make a condition's *text* about someone or something else ("family history of
    # bipolar disorder"): such text never classifies by name.
    name_exclusions: list[str] = []


class SafetyFile(_File):
    rules: list[SafetyRule] = []
    prompts: list[SafetyPrompt] = []


class DerivedFile(_File):
    derived: list[DerivedMeasure] = []


_NOT_ALNUM = re.compile(r"[\W_]+")  # \W is "not alphanumeric, not _" (str.isalnum's classes)


def fold_text(text: str) -> str:
    """Lower-case, letters and digits only, single-spaced, padded: for whole-word matching."""
    return " " + _NOT_ALNUM.sub(" ", text.lower()).strip(" ") + " "


def normalise_unit(unit: str) -> str:
    """Fold the spellings EHRs use for one UCUM unit (µg, mcg, ug; case) to one key."""
    folded = unit.strip().replace("µ", "u").replace("μ", "u").lower()
    return folded.replace("mcg", "ug").replace(" ", "")


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """Everything the engine knows, validated and indexed; safe to share between requests."""

    root: Path
    manifest: Manifest
    citations: dict[str, Citation]
    measures: dict[str, Measure]
    pathways: dict[str, Pathway]
    interventions: dict[str, Intervention]
    lab_orders: dict[str, LabOrder]
    rules: tuple[Rule, ...]
    safety_rules: tuple[SafetyRule, ...]
    medication_classes: dict[str, MedicationClass]
    ingredients: dict[str, Ingredient]
    products: dict[str, Product]
    condition_classes: dict[str, ConditionClass]
    # code -> {system URI -> measure}: the one look-up the reader does per Observation coding.
    measure_codes: dict[str, dict[str, Measure]] = field(repr=False)
    # measure id -> {normalised unit -> units per canonical unit}
    unit_factors: dict[str, dict[str, float]] = field(repr=False)
    system_uris: dict[str, str] = field(repr=False)
    system_aliases: dict[str, str] = field(repr=False)  # alternative URI -> canonical URI
    # Medication and condition look-ups (see classify.py).
    rxnorm_ingredients: dict[str, tuple[str, ...]] = field(repr=False)  # IN or product CUI
    atc_ingredients: dict[str, tuple[str, ...]] = field(repr=False)
    atc_class_prefixes: tuple[tuple[str, str], ...] = field(repr=False)  # (prefix, class id)
    ingredient_names: tuple[tuple[str, str], ...] = field(repr=False)  # (folded name, id)
    snomed_conditions: dict[str, tuple[str, ...]] = field(repr=False)
    icd_condition_prefixes: tuple[tuple[str, str], ...] = field(repr=False)
    condition_names: tuple[tuple[str, str], ...] = field(repr=False)
    condition_name_exclusions: tuple[str, ...] = field(default=(), repr=False)
    safety_prompts: tuple[SafetyPrompt, ...] = ()
    # ingredient id -> intervention id, for supplements that are also interventions.
    ingredient_interventions: dict[str, str] = field(default_factory=dict, repr=False)
    # first word of a folded name -> (folded name, ingredient id): name matching looks only at
    # the names whose first word occurs in the text.
    ingredient_name_index: dict[str, tuple[tuple[str, str], ...]] = field(
        default_factory=dict, repr=False
    )
    # Class and ingredient ids some safety rule names in applies_to.medications.
    safety_drug_targets: frozenset[str] = frozenset()
    # intervention id -> the safety rules that target it (by id, tag or all_supplements), in
    # file order: checking a suggestion visits these, not every rule.
    safety_rules_by_intervention: dict[str, tuple[SafetyRule, ...]] = field(
        default_factory=dict, repr=False
    )
    definitions: dict[str, Definition] = field(default_factory=dict, repr=False)
    # QuestionnaireResponse reading (snapshot.py): canonical URL prefix -> questionnaire ids,
    # and item key (linkId without "/", or item code) -> questionnaire ids that score it.
    questionnaire_urls: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    questionnaire_items: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    medication_guidance: tuple[MedicationGuidance, ...] = ()
    # Draft orders of our supplements: (system URI, code) -> intervention id; folded names.
    intervention_codes: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    intervention_names: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Measures computed when the lab sent none (derived.yaml), e.g. eGFR from creatinine.
    derived: tuple[DerivedMeasure, ...] = ()
    # Per-process memo of pure look-ups over this knowledge base (classify.py): a hospital's
    # drug and problem-list codes repeat across patients. Not an init field, so a copy made
    # with dataclasses.replace starts empty instead of sharing answers from other tables.
    memo: dict[str, dict[Any, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def version(self) -> str:
        return self.manifest.version

    def uri(self, alias: str) -> str:
        return self.system_uris[alias]

    def citation_links(self, ids: Iterable[str]) -> list[Citation]:
        return [self.citations[i] for i in ids]

    def observation_codes(self) -> list[tuple[str, str]]:
        """(system URI, code) of every measure, for prefetch templates (derived, not retyped)."""
        seen: dict[tuple[str, str], None] = {}
        for measure in self.measures.values():
            for code in measure.codes:
                seen[(self.system_uris[code.system], code.code)] = None
        return sorted(seen)


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping: plain YAML keeps the last
    silently, so a second ``verified:`` or ``bands:`` would quietly replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError as exc:
        raise KnowledgeError(f"{path}: file is missing") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: not valid YAML: {exc}") from exc


def _parse(path: Path, model: type[T]) -> T:
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise KnowledgeError(
            f"{path.name}: {where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from exc


def _unique(items: Iterable[Any], file: str, kind: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items:
        if item.id in result:
            raise KnowledgeError(f"{file}: duplicate {kind} id {item.id!r}")
        result[item.id] = item
    return result


def _walk(predicate: Predicate) -> Iterator[Predicate]:
    yield predicate
    if isinstance(predicate, AllPredicate):
        for child in predicate.all:
            yield from _walk(child)
    elif isinstance(predicate, AnyPredicate):
        for child in predicate.any:
            yield from _walk(child)
    elif isinstance(predicate, NotPredicate):
        yield from _walk(predicate.not_)


def _resolve(where: str, predicate: Predicate, definitions: dict[str, Definition]) -> Predicate:
    """Replace every ``use: name`` by the named definition (recursively), so the engine never
    sees a reference; an unknown name fails naming the place."""
    if isinstance(predicate, UsePredicate):
        definition = definitions.get(predicate.use)
        if definition is None:
            raise KnowledgeError(f"{where}: unknown definition {predicate.use!r}")
        return definition.when
    if isinstance(predicate, AllPredicate):
        return AllPredicate(all=[_resolve(where, p, definitions) for p in predicate.all])
    if isinstance(predicate, AnyPredicate):
        return AnyPredicate(any=[_resolve(where, p, definitions) for p in predicate.any])
    if isinstance(predicate, NotPredicate):
        return NotPredicate.model_validate({"not": _resolve(where, predicate.not_, definitions)})
    return predicate


def _load_definitions(root: Path) -> dict[str, Definition]:
    """Definitions may use earlier ones (never later ones: no cycles by construction)."""
    path = root / "definitions.yaml"
    if not path.exists():
        return {}
    resolved: dict[str, Definition] = {}
    for definition in _parse(path, DefinitionsFile).definitions:
        if definition.id in resolved:
            raise KnowledgeError(f"definitions.yaml: duplicate definition id {definition.id!r}")
        when = _resolve(f"definitions.yaml: {definition.id}", definition.when, resolved)
        resolved[definition.id] = definition.model_copy(update={"when": when})
    return resolved


def load_knowledge(root: Path) -> KnowledgeBase:
    """Read, validate and index the knowledge base in ``root`` (the mappings/ folder)."""
    manifest = _parse(root / "knowledge.yaml", Manifest)
    definitions = _load_definitions(root)
    citation_list = list(_parse(root / "citations.yaml", CitationsFile).citations)
    for path in sorted(root.glob("citations-*.yaml")):
        citation_list += _parse(path, CitationsFile).citations
    citations = _unique(citation_list, "citations*.yaml", "citation")
    analytes = _parse(root / "analytes.yaml", AnalytesFile).analytes
    questionnaires = _parse(root / "questionnaires.yaml", QuestionnairesFile).questionnaires
    measures: dict[str, Measure] = _unique([*analytes, *questionnaires], "analytes.yaml", "measure")
    pathways = _unique(
        _parse(root / "pathways.yaml", PathwaysFile).pathways, "pathways.yaml", "pathway"
    )
    interventions = _unique(
        _parse(root / "interventions.yaml", InterventionsFile).interventions,
        "interventions.yaml",
        "intervention",
    )
    lab_orders = _unique(
        _parse(root / "lab_orders.yaml", LabOrdersFile).lab_orders, "lab_orders.yaml", "lab order"
    )
    rules: list[Rule] = []
    rule_files = sorted((root / "rules").glob("*.yaml"))
    for path in rule_files:
        rules.extend(_parse(path, RulesFile).rules)
    _unique(rules, "rules/", "rule")
    meds = _parse(root / "medications.yaml", MedicationsFile)
    medication_classes = _unique(meds.classes, "medications.yaml", "class")
    ingredients = _unique(meds.ingredients, "medications.yaml", "ingredient")
    products: dict[str, Product] = {}
    for product in meds.products:
        if product.rxnorm in products:
            raise KnowledgeError(f"medications.yaml: duplicate product {product.rxnorm}")
        products[product.rxnorm] = product
    conditions_file = _parse(root / "conditions.yaml", ConditionsFile)
    condition_classes = _unique(conditions_file.conditions, "conditions.yaml", "condition")
    safety_file = _parse(root / "safety.yaml", SafetyFile)
    safety_rules = safety_file.rules
    safety_prompts = safety_file.prompts
    _unique([*safety_rules, *safety_prompts], "safety.yaml", "safety rule or prompt")

    system_uris = dict(manifest.code_systems)
    check = _Checker(system_uris, citations)

    measure_codes: dict[str, dict[str, Measure]] = {}
    unit_factors: dict[str, dict[str, float]] = {}
    for measure in measures.values():
        file = "questionnaires.yaml" if isinstance(measure, Questionnaire) else "analytes.yaml"
        where = f"{file}: {measure.id}"
        check.citations(where, measure.citations)
        codes = list(measure.codes)
        if isinstance(measure, Questionnaire):
            codes += measure.panel_codes
        for code in measure.codes:
            uri = check.system(where, code)
            slot = measure_codes.setdefault(code.code, {})
            if uri in slot:
                raise KnowledgeError(f"{where}: code {code.code} is also used by {slot[uri].id}")
            slot[uri] = measure
        for code in codes:
            check.system(where, code)
        for qualitative in measure.qualitative:
            for code in qualitative.codes:
                check.system(where, code)
        factors: dict[str, float] = {}
        for conversion in measure.units:
            key = normalise_unit(conversion.unit)
            if key in factors and factors[key] != conversion.per_canonical:
                raise KnowledgeError(f"{where}: unit {conversion.unit!r} listed twice")
            factors[key] = conversion.per_canonical
        for code in measure.codes:
            if code.unit is not None and normalise_unit(code.unit) not in factors:
                raise KnowledgeError(
                    f"{where}: code {code.code} unit {code.unit!r} has no conversion"
                )
        unit_factors[measure.id] = factors
        methods = {code.method for code in measure.codes if code.method}
        for band in measure.bands:
            if band.method is not None and band.method not in methods:
                raise KnowledgeError(
                    f"{where}: band {band.id} names method {band.method!r}, which no code has"
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

    for intervention in interventions.values():
        where = f"interventions.yaml: {intervention.id}"
        check.citations(where, intervention.citations, required=True)
        check.system(where, intervention.ingredient)
        for pathway_id in intervention.pathways:
            if pathway_id not in pathways:
                raise KnowledgeError(f"{where}: unknown pathway {pathway_id!r}")

    for order in lab_orders.values():
        check.system(f"lab_orders.yaml: {order.id}", order.code)
        for measure_id in order.satisfied_by:
            if measure_id not in measures:
                raise KnowledgeError(
                    f"lab_orders.yaml: {order.id}: satisfied_by unknown measure {measure_id!r}"
                )

    for ingredient in ingredients.values():
        if ingredient.intervention is not None and ingredient.intervention not in interventions:
            raise KnowledgeError(
                f"medications.yaml: ingredient {ingredient.id}: unknown intervention {ingredient.intervention!r}"
            )
        for class_id in ingredient.classes:
            if class_id not in medication_classes:
                raise KnowledgeError(
                    f"medications.yaml: ingredient {ingredient.id}: unknown class {class_id!r}"
                )
        _check_class_doses(ingredient)
    for product in products.values():
        for ingredient_id in product.ingredients:
            if ingredient_id not in ingredients:
                raise KnowledgeError(
                    f"medications.yaml: product {product.rxnorm}: unknown ingredient {ingredient_id!r}"
                )
    for condition in condition_classes.values():
        check.citations(f"conditions.yaml: {condition.id}", condition.citations)
    for medication_class in medication_classes.values():
        check.citations(f"medications.yaml: {medication_class.id}", medication_class.citations)
    for product in products.values():
        for strength in product.strengths:
            if strength.ingredient not in product.ingredients:
                raise KnowledgeError(
                    f"medications.yaml: product {product.rxnorm}: strength for {strength.ingredient!r}, not an ingredient of it"
                )

    refs = _References(measures, medication_classes, ingredients, condition_classes)
    for definition in definitions.values():
        refs.predicate(f"definitions.yaml: {definition.id}", definition.when)
    resolved_rules = []
    for rule in rules:
        where = f"rules/: {rule.id}"
        rule = rule.model_copy(update={"when": _resolve(where, rule.when, definitions)})
        resolved_rules.append(rule)
        check.citations(where, rule.citations, required=True)
        if rule.pathway not in pathways:
            raise KnowledgeError(f"{where}: unknown pathway {rule.pathway!r}")
        refs.predicate(where, rule.when)
        suggests_medication = False
        for suggestion in rule.suggest:
            target = getattr(suggestion, "medication", None)
            if target is not None and target not in interventions:
                raise KnowledgeError(f"{where}: unknown intervention {target!r}")
            if target is not None:
                suggests_medication = True
                _check_precursor_pathway(where, pathways[rule.pathway], interventions[target])
            order_id = getattr(suggestion, "lab_order", None)
            if order_id is not None and order_id not in lab_orders:
                raise KnowledgeError(f"{where}: unknown lab order {order_id!r}")
            for prerequisite in getattr(suggestion, "prerequisite_for", ()):
                if prerequisite not in interventions:
                    raise KnowledgeError(
                        f"{where}: prerequisite_for names unknown intervention {prerequisite!r}"
                    )
        if suggests_medication:
            _check_actionable(where, rule.when, measures)
    rules = resolved_rules
    all_tags = {tag for i in interventions.values() for tag in i.tags}
    resolved_safety = []
    for safety_rule in safety_rules:
        where = f"safety.yaml: {safety_rule.id}"
        safety_rule = safety_rule.model_copy(
            update={"trigger": _resolve(where, safety_rule.trigger, definitions)}
        )
        resolved_safety.append(safety_rule)
        check.citations(where, safety_rule.citations, required=True)
        refs.predicate(where, safety_rule.trigger)
        for target in safety_rule.applies_to.interventions:
            if target not in interventions:
                raise KnowledgeError(f"{where}: unknown intervention {target!r}")
        for tag in safety_rule.applies_to.tags:
            if tag not in all_tags:
                raise KnowledgeError(f"{where}: no intervention carries tag {tag!r}")
        for drug in safety_rule.applies_to.medications:
            if drug not in medication_classes and drug not in ingredients:
                raise KnowledgeError(f"{where}: unknown medication class {drug!r}")
        replacement = safety_rule.replacement
        if replacement is not None and replacement.lab_order not in lab_orders:
            raise KnowledgeError(f"{where}: unknown lab order {replacement.lab_order!r}")
    resolved_prompts = []
    for prompt in safety_prompts:
        where = f"safety.yaml: {prompt.id}"
        prompt = prompt.model_copy(update={"trigger": _resolve(where, prompt.trigger, definitions)})
        resolved_prompts.append(prompt)
        check.citations(where, prompt.citations, required=True)
        refs.predicate(where, prompt.trigger)
        if prompt.lab_order is not None and prompt.lab_order not in lab_orders:
            raise KnowledgeError(f"{where}: unknown lab order {prompt.lab_order!r}")
    safety_rules = resolved_safety
    safety_prompts = resolved_prompts

    aliases = {uri: uri for uri in system_uris.values()}
    for alternative, alias in manifest.system_aliases.items():
        if alias not in system_uris:
            raise KnowledgeError(f"knowledge.yaml: system_aliases: unknown system {alias!r}")
        aliases[alternative] = system_uris[alias]

    rxnorm_ingredients: dict[str, list[str]] = {}
    atc_ingredients: dict[str, list[str]] = {}
    names: list[tuple[str, str]] = []
    for ingredient in ingredients.values():
        for cui in ingredient.rxnorm:
            rxnorm_ingredients.setdefault(cui, []).append(ingredient.id)
        for atc in ingredient.atc:
            atc_ingredients.setdefault(atc.upper(), []).append(ingredient.id)
        for name in [ingredient.name, *ingredient.names]:
            names.append((fold_text(name), ingredient.id))
    for product in products.values():
        if product.rxnorm in rxnorm_ingredients:
            raise KnowledgeError(
                f"medications.yaml: product {product.rxnorm} is also an ingredient code"
            )
        rxnorm_ingredients[product.rxnorm] = list(product.ingredients)
    class_prefixes = sorted(
        ((prefix.upper(), c.id) for c in medication_classes.values() for prefix in c.atc),
        key=lambda item: -len(item[0]),
    )
    snomed_conditions: dict[str, list[str]] = {}
    icd_prefixes: list[tuple[str, str]] = []
    condition_names: list[tuple[str, str]] = []
    for condition in condition_classes.values():
        for code in condition.snomed:
            snomed_conditions.setdefault(code, []).append(condition.id)
        for prefix in condition.icd10:
            icd_prefixes.append((prefix.replace(".", "").upper(), condition.id))
        for name in condition.names:
            condition_names.append((fold_text(name), condition.id))

    for measure in measures.values():
        for other in measure.substitutes:
            if other not in measures:
                raise KnowledgeError(f"{measure.id}: substitute {other!r} is not a known measure")
    guidance = _load_guidance(root, measures, lab_orders, pathways, medication_classes, check)
    intervention_codes: dict[tuple[str, str], str] = {}
    intervention_names: list[tuple[str, str]] = []
    for intervention in interventions.values():
        code_key = (system_uris[intervention.ingredient.system], intervention.ingredient.code)
        if code_key in intervention_codes:
            raise KnowledgeError(
                f"interventions.yaml: {intervention.id}: code {code_key[1]} is also used by {intervention_codes[code_key]}"
            )
        intervention_codes[code_key] = intervention.id
        for name in intervention.names:
            intervention_names.append((fold_text(name), intervention.id))
    questionnaire_urls, questionnaire_items = _questionnaire_index(measures)
    derived = _load_derived(root, measures, check)
    return KnowledgeBase(
        root=root,
        manifest=manifest,
        citations=citations,
        measures=measures,
        pathways=pathways,
        interventions=interventions,
        lab_orders=lab_orders,
        rules=tuple(rules),
        safety_rules=tuple(safety_rules),
        medication_classes=medication_classes,
        ingredients=ingredients,
        products=products,
        condition_classes=condition_classes,
        measure_codes=measure_codes,
        unit_factors=unit_factors,
        system_uris=system_uris,
        system_aliases=aliases,
        rxnorm_ingredients={k: tuple(v) for k, v in rxnorm_ingredients.items()},
        atc_ingredients={k: tuple(v) for k, v in atc_ingredients.items()},
        atc_class_prefixes=tuple(class_prefixes),
        ingredient_names=tuple(sorted(names, key=lambda item: -len(item[0]))),
        snomed_conditions={k: tuple(v) for k, v in snomed_conditions.items()},
        icd_condition_prefixes=tuple(icd_prefixes),
        condition_names=tuple(condition_names),
        condition_name_exclusions=tuple(fold_text(x) for x in conditions_file.name_exclusions),
        safety_prompts=tuple(safety_prompts),
        ingredient_interventions={
            i.id: i.intervention for i in ingredients.values() if i.intervention is not None
        },
        ingredient_name_index=_name_index(names),
        safety_drug_targets=frozenset(
            drug for rule in safety_rules for drug in rule.applies_to.medications
        ),
        safety_rules_by_intervention={
            intervention.id: tuple(
                rule for rule in safety_rules if _targets(rule, intervention.id, intervention.tags)
            )
            for intervention in interventions.values()
        },
        definitions=definitions,
        questionnaire_urls=questionnaire_urls,
        questionnaire_items=questionnaire_items,
        medication_guidance=guidance,
        intervention_codes=intervention_codes,
        intervention_names=tuple(sorted(intervention_names, key=lambda item: -len(item[0]))),
        derived=derived,
    )


def _targets(rule: SafetyRule, intervention_id: str, tags: Iterable[str]) -> bool:
    """engine.safety.targets, on ids (the loader cannot import the engine)."""
    target = rule.applies_to
    return (
        target.all_supplements
        or intervention_id in target.interventions
        or any(tag in tags for tag in target.tags)
    )


def _name_index(names: list[tuple[str, str]]) -> dict[str, tuple[tuple[str, str], ...]]:
    index: dict[str, list[tuple[str, str]]] = {}
    for needle, ingredient_id in names:
        words = needle.split()
        if words:
            index.setdefault(words[0], []).append((needle, ingredient_id))
    return {word: tuple(entries) for word, entries in index.items()}


def _load_guidance(
    root: Path,
    measures: dict[str, Measure],
    lab_orders: dict[str, LabOrder],
    pathways: dict[str, Pathway],
    medication_classes: dict[str, MedicationClass],
    check: _Checker,
) -> tuple[MedicationGuidance, ...]:
    """order_guidance.yaml (optional). Class ids are checked once medications.yaml defines
    classes at all, so the guidance can be authored before the class list exists."""
    path = root / "order_guidance.yaml"
    if not path.exists():
        return ()
    items = _parse(path, OrderGuidanceFile).medication_guidance
    _unique(items, "order_guidance.yaml", "guidance")
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
        if medication_classes:
            for class_id in item.classes:
                if class_id not in medication_classes:
                    raise KnowledgeError(f"{where}: unknown medication class {class_id!r}")
    return tuple(items)


def _check_class_doses(ingredient: Ingredient) -> None:
    """A dose-conditional class needs a unit the dose reader can compare (mass or IU)."""
    from cds_service.snapshot.doses import canonical_amount

    for class_id, threshold in ingredient.class_doses.items():
        if canonical_amount(1.0, threshold.unit) is None:
            raise KnowledgeError(
                f"medications.yaml: ingredient {ingredient.id}: class_doses {class_id}: "
                f"unit {threshold.unit!r} is not a mass or IU unit"
            )


def _load_derived(
    root: Path, measures: dict[str, Measure], check: _Checker
) -> tuple[DerivedMeasure, ...]:
    """derived.yaml (optional): each derivation must name known measures, read only codes of
    its input, expect the input's canonical unit and produce a measure with a canonical unit;
    a measure is derived by one equation at most."""
    path = root / "derived.yaml"
    if not path.exists():
        return ()
    items = _parse(path, DerivedFile).derived
    _unique(items, "derived.yaml", "derivation")
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


def _questionnaire_index(
    measures: dict[str, Measure],
) -> tuple[tuple[tuple[str, str], ...], dict[str, tuple[str, ...]]]:
    urls: list[tuple[str, str]] = []
    items: dict[str, list[str]] = {}
    for measure in measures.values():
        if not isinstance(measure, Questionnaire):
            continue
        urls += [(url.rstrip("/"), measure.id) for url in measure.questionnaire_urls]
        keys = [*measure.items, *measure.item_link_ids, *measure.total_link_ids]
        keys += [code.code for code in measure.codes]
        for key in keys:
            slot = items.setdefault(key.lstrip("/"), [])
            if measure.id not in slot:
                slot.append(measure.id)
    longest_first = sorted(urls, key=lambda item: -len(item[0]))
    return tuple(longest_first), {k: tuple(v) for k, v in items.items()}


def _check_precursor_pathway(where: str, pathway: Pathway, intervention: Intervention) -> None:
    """GABA/glutamate is context only: no precursor may be suggested on it."""
    if not pathway.precursor_suggestions and intervention.kind == "precursor":
        raise KnowledgeError(
            f"{where}: pathway {pathway.id} allows no precursor suggestions ({intervention.id})"
        )


def _check_actionable(where: str, predicate: Predicate, measures: dict[str, Measure]) -> None:
    """A rule that suggests a supplement may not read a research-only or informational measure,
    nor a contested band: those are displayed, never acted upon."""
    for node in _walk(predicate):
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


class _Checker:
    def __init__(self, system_uris: dict[str, str], citations: dict[str, Citation]) -> None:
        self._systems = system_uris
        self._citations = citations

    def system(self, where: str, code: Code) -> str:
        if code.system not in self._systems:
            raise KnowledgeError(f"{where}: unknown code system {code.system!r} (code {code.code})")
        return self._systems[code.system]

    def citations(self, where: str, ids: list[str], *, required: bool = False) -> None:
        if required and not ids:
            raise KnowledgeError(f"{where}: a rule needs at least one citation")
        for citation_id in ids:
            if citation_id not in self._citations:
                raise KnowledgeError(f"{where}: unknown citation {citation_id!r}")


class _References:
    def __init__(
        self,
        measures: dict[str, Measure],
        medication_classes: dict[str, MedicationClass],
        ingredients: dict[str, Ingredient],
        conditions: dict[str, ConditionClass],
    ) -> None:
        self._measures = measures
        self._medications = set(medication_classes) | set(ingredients)
        self._conditions = conditions

    def predicate(self, where: str, predicate: Predicate) -> None:
        for node in _walk(predicate):
            if isinstance(node, LabPredicate):
                measure = self._measures.get(node.lab)
                if measure is None:
                    raise KnowledgeError(f"{where}: unknown measure {node.lab!r}")
                known = {b.id for b in measure.bands} | {q.band for q in measure.qualitative}
                for band in node.bands:
                    if band not in known:
                        raise KnowledgeError(f"{where}: {node.lab} has no band {band!r}")
            elif isinstance(node, ConditionPredicate) and node.condition not in self._conditions:
                raise KnowledgeError(f"{where}: unknown condition class {node.condition!r}")
            elif isinstance(node, MedicationPredicate) and node.medication not in self._medications:
                raise KnowledgeError(f"{where}: unknown medication class {node.medication!r}")
