"""Safety rules and monitoring prompts (``mappings/safety.yaml``); ``engine/safety.py`` applies them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field, model_validator

from cds_service.knowledge.schema.common import Grade, RuleHeader, _Model
from cds_service.knowledge.schema.predicates import Predicate
from cds_service.knowledge.schema.rules import DoseThreshold, LabOrderSuggestion


class SafetyTarget(_Model):
    """What a safety rule applies to: interventions by id or tag, every supplement, or drugs.

    ``medications`` names medication classes or ingredients (medications.yaml): the rule then
    also applies to a draft order or current use of such a drug (e.g. vitamin E, calcium, a
    serotonergic drug ordered while on St John's wort).
    """

    interventions: list[str] = []
    tags: list[str] = []
    all_supplements: bool = False
    medications: list[str] = []
    # Ingredient or class ids the rule does not apply to even when the above would cover them:
    # a product made only of these is left out (e.g. algal-oil omega-3 for a fish allergy,
    # linezolid for the hard MAOI rule, which has a rule of its own).
    except_medications: list[str] = []
    # Only products taken by mouth: a medication recognised as injected or infused is left out
    # (e.g. severe hypomagnesaemia: IV magnesium is the treatment, oral magnesium is not).
    oral_only: bool = False

    def covers(self, intervention_id: str, tags: Iterable[str]) -> bool:
        """Does a rule with this target concern suggesting or ordering this intervention?"""
        return (
            self.all_supplements
            or intervention_id in self.interventions
            or any(tag in self.tags for tag in tags)
        )

    @model_validator(mode="after")
    def _something(self) -> SafetyTarget:
        if not (self.interventions or self.tags or self.all_supplements or self.medications):
            raise ValueError(
                "a safety target needs interventions, tags, all_supplements or medications"
            )
        return self


class SafetyRule(RuleHeader):
    """A safety rule: When <trigger> holds for the patient, <action> these interventions."""

    trigger: Predicate
    applies_to: SafetyTarget
    action: Literal["block", "warn", "info"]
    # A hard block can never be overridden; a soft block may be ordered by the prescriber
    # with a reason (order time), but is still never *suggested* by the service.
    hard: bool = False
    # A soft block shown as ``critical`` at order time, with override reasons: urgent,
    # possibly life-saving orders (linezolid or IV methylene blue on a serotonergic drug).
    critical: bool = False
    # The rule whose finding this one shares (A with B / B with A, or one family such as S1):
    # for one pair of products, the rules of a pair report once, as the view about the draft
    # order (linezolid ordered on sertraline: S1.linezolid, not S1.drugs about the sertraline).
    pair: str | None = None
    # Dose-dependent rules apply only above this daily dose (suggestion: the intervention's
    # daily_dose; order: the ordered dose). An unknown dose counts as above: conservative.
    dose: DoseThreshold | None = None
    # Missing data safety needs: offer this lab order instead of the withheld supplement.
    replacement: LabOrderSuggestion | None = None
    # Where the rule applies: to the service's own suggestions, to clinicians' draft orders.
    scope: list[Literal["suggestions", "orders"]] = Field(
        default=["suggestions", "orders"], min_length=1
    )
    # When the trigger holds, the patient gets a critical card of its own (e.g. suicide risk),
    # shown alone at patient-view.
    alert: bool = False
    # When the trigger holds, patient-view shows no card at all (e.g. C1: adult-only service).
    silent: bool = False
    # What to do now, in a few words, for the card's summary after the answer that fired
    # ("assess suicide risk today ...").
    advice: str | None = Field(default=None, max_length=110)
    # When this block withholds every option of a finding (severity "option"), the finding is
    # not shown on its own: a finding of its own explains why (e.g. no first-line treatment
    # recorded), so cards do not repeat "withheld" for each option (engine/focus.py).
    silences_options: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> SafetyRule:
        if self.hard and self.action != "block":
            raise ValueError("only a block can be hard")
        if self.replacement is not None and self.action != "block":
            raise ValueError("a replacement only makes sense for a block")
        if self.silences_options and self.action != "block":
            raise ValueError("only a block can silence options")
        if self.critical and (self.action != "block" or self.hard):
            raise ValueError("critical is for soft blocks (a hard block is critical anyway)")
        return self


class SafetyPrompt(_Model):
    """A monitoring prompt (INFO): a drug that depletes a nutrient -> consider testing it."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    version: int = Field(ge=1)
    title: str
    statement: str
    trigger: Predicate
    message: str
    lab_order: str | None = None  # lab order id offered as a suggestion
    grade: Grade | None = None
    citations: list[str] = Field(min_length=1)
