"""One model per file of ``mappings/``: the top-level shape each YAML file must have."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cds_service.knowledge.schema.checks import (
    AllergenClass,
    DoseLimit,
    DuplicationRule,
    IngredientAmount,
)
from cds_service.knowledge.schema.common import Citation
from cds_service.knowledge.schema.derived import DerivedMeasure
from cds_service.knowledge.schema.drugs import (
    ConditionClass,
    Ingredient,
    MedicationClass,
    ParenteralRoutes,
    Product,
)
from cds_service.knowledge.schema.measures import Analyte, Questionnaire
from cds_service.knowledge.schema.rules import (
    Definition,
    FollowUp,
    Intervention,
    LabOrder,
    MedicationGuidance,
    Pathway,
    Rule,
)
from cds_service.knowledge.schema.safety import SafetyPrompt, SafetyRule


class KnowledgeFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CitationsFile(KnowledgeFile):
    citations: list[Citation]


class AnalytesFile(KnowledgeFile):
    analytes: list[Analyte]


class QuestionnairesFile(KnowledgeFile):
    questionnaires: list[Questionnaire]


class PathwaysFile(KnowledgeFile):
    pathways: list[Pathway]


class InterventionsFile(KnowledgeFile):
    interventions: list[Intervention]


class LabOrdersFile(KnowledgeFile):
    lab_orders: list[LabOrder]


class RulesFile(KnowledgeFile):
    rules: list[Rule]


class DefinitionsFile(KnowledgeFile):
    definitions: list[Definition] = []


class OrderGuidanceFile(KnowledgeFile):
    medication_guidance: list[MedicationGuidance] = []


class MedicationsFile(KnowledgeFile):
    classes: list[MedicationClass] = []
    ingredients: list[Ingredient] = []
    products: list[Product] = []
    parenteral: ParenteralRoutes = ParenteralRoutes()


class ConditionsFile(KnowledgeFile):
    conditions: list[ConditionClass] = []
    # Words that make a condition's *text* about someone or something else ("family history of
    # bipolar disorder"): such text never classifies by name.
    name_exclusions: list[str] = []


class SafetyFile(KnowledgeFile):
    rules: list[SafetyRule] = []
    prompts: list[SafetyPrompt] = []


class DerivedFile(KnowledgeFile):
    derived: list[DerivedMeasure] = []


class FollowUpFile(KnowledgeFile):
    follow_up: list[FollowUp] = []


class OrderChecksFile(KnowledgeFile):
    ingredient_amounts: list[IngredientAmount] = []
    dose_limits: list[DoseLimit] = []
    duplication: list[DuplicationRule] = []


class AllergiesFile(KnowledgeFile):
    # SNOMED CT codes that record the absence of allergies ("no known allergy"): never an allergen.
    no_known_allergy: list[str] = []
    allergens: list[AllergenClass] = []
