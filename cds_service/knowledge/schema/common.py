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
    code: str
    display: str


class Manifest(_Model):
    """``mappings/knowledge.yaml``: the knowledge base's identity, version and code systems."""

    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    released: date
    publisher: str
    funding: str
    intended_use: str
    # Short aliases used in every other file -> canonical code-system URIs.
    code_systems: dict[str, str]
    # Other spellings of the same systems seen in real data (URI -> alias above).
    system_aliases: dict[str, str] = {}
    # Systems whose codes our cards and suggestions are stamped with.
    topic_system: str
    override_reason_system: str
    # Offered on every warning card; the clinician's choice comes back through feedback.
    override_reasons: list[OverrideReason] = Field(min_length=1)
    changelog: list[ChangelogEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _version_in_changelog(self) -> Manifest:
        if self.changelog[0].version != self.version:
            raise ValueError("the first changelog entry must describe the current version")
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
