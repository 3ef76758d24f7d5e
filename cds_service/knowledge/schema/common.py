"""Shared pieces of the knowledge-base schema: the strict base model, provenance (manifest,
changelog, citations) and codes."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Grade = Literal["A", "A/B", "B", "B/C", "C"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChangelogEntry(_Model):
    version: str
    date: date
    changes: list[str] = Field(min_length=1)


class OverrideReason(_Model):
    """An override reason offered on cards. ``system`` is a code-system alias of the manifest
    (e.g. the CDS Hooks non-adherence reason codes); unset, the service's own system."""

    code: str
    display: str
    system: str | None = None
    # Offered on every overridable card unless its rule names its own reasons.
    default: bool = True


class RuleHeader(_Model):
    """What every rule a card can report shares: identity, plain words, grade and sources."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    version: int = Field(ge=1)
    title: str
    statement: str
    message: str  # what the clinician reads, plain words
    grade: Grade | None = None
    citations: list[str] = Field(min_length=1)
    # Override reasons (codes from knowledge.yaml) for this rule's cards; empty: the defaults.
    override_reasons: list[str] = []
    # A safer product to name when the card offers to remove the draft (e.g. algal-oil omega-3).
    alternative: str | None = None


class Manifest(_Model):
    """``mappings/knowledge.yaml``: the knowledge base's identity, version and code systems."""

    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    released: date
    publisher: str
    funding: str
    intended_use: str
    data_used: str  # what the rules read and what they never read
    # Short aliases used in every other file -> canonical code-system URIs.
    code_systems: dict[str, str]
    # Other spellings of the same systems seen in real data (URI -> alias above).
    system_aliases: dict[str, str] = {}
    # Systems whose codes our cards and suggestions are stamped with.
    topic_system: str
    override_reason_system: str  # the system of override reasons that name none
    # Offered on every warning card; the clinician's choice comes back through feedback.
    override_reasons: list[OverrideReason] = Field(min_length=1)
    changelog: list[ChangelogEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _version_in_changelog(self) -> Manifest:
        if self.changelog[0].version != self.version:
            raise ValueError("the first changelog entry must describe the current version")
        for reason in self.override_reasons:
            if reason.system is not None and reason.system not in self.code_systems:
                raise ValueError(f"override reason {reason.code}: unknown system {reason.system!r}")
        if len({r.code for r in self.override_reasons}) != len(self.override_reasons):
            raise ValueError("override reason codes must be unique")
        return self


class Citation(_Model):
    id: str
    label: str  # short form shown on cards, e.g. "Devalia 2014, Br J Haematol"
    title: str | None = None
    pmid: str | None = Field(default=None, pattern=r"^\d+$")
    doi: str | None = None
    url: str | None = None
    # True when checked against the published source; False = author knowledge, to re-check.
    verified: bool = False

    @model_validator(mode="after")
    def _locatable(self) -> Citation:
        if not (self.pmid or self.doi or self.url):
            raise ValueError("a citation needs a pmid, doi or url")
        return self

    @property
    def link(self) -> str:
        if self.url:
            return self.url
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        return f"https://doi.org/{self.doi}"


class Code(_Model):
    system: str  # an alias from Manifest.code_systems
    code: str
    display: str | None = None
    unit: str | None = None  # the UCUM unit this LOINC code is normally reported in
    # The assay method a code implies (e.g. omega-3 index in RBC vs plasma): values of different
    # methods are never compared, and bands may be method-specific.
    method: str | None = None
    # True when the code was checked against a published terminology source (LOINC, RxNav, an
    # HL7 IG); False = author knowledge, to re-check before relying on it. Listed by
    # ``check-knowledge --verbose`` (see knowledge/check.py).
    verified: bool = False
