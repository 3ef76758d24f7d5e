"""The pieces every knowledge page is made of: words and links, facts, citations, history.

Page models hold links relative to the knowledge root (``rules/b12-deficient.html``); the
templates prefix them with the page's way back to the root (``""`` or ``"../"``), so the same
HTML works under ``/knowledge/`` and as files written by ``cds-service knowledge export``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Code

# Names of the code-system aliases of knowledge.yaml, as reviewers know them (labels only).
SYSTEM_NAMES = {
    "loinc": "LOINC",
    "rxnorm": "RxNorm",
    "snomed": "SNOMED CT",
    "icd10cm": "ICD-10-CM",
    "icd10": "ICD-10",
    "atc": "ATC",
    "ucum": "UCUM",
    "local-lab": "local lab code",
    "local-supplement": "local supplement code",
}
# UCUM spellings as clinicians read them in a dose.
_DOSE_UNITS = {"ug": "µg", "[IU]": "IU", "[iU]": "IU"}


@dataclass(frozen=True, slots=True)
class Text:
    """Words, or a link when ``href`` is set: relative to the knowledge root unless external."""

    text: str
    href: str | None = None
    external: bool = False


Line = tuple[Text, ...]


def words(text: str) -> Line:
    return (Text(text),)


@dataclass(frozen=True, slots=True)
class Fact:
    """One row of a page's fact table: a label and what the knowledge base says."""

    label: str
    lines: tuple[Line, ...]


def fact(label: str, *lines: Line | str | None) -> Fact | None:
    """A fact row from its lines (strings become words); None when it has nothing to say."""
    kept = tuple(words(line) if isinstance(line, str) else line for line in lines if line)
    return Fact(label, kept) if kept else None


def facts(*rows: Fact | None) -> tuple[Fact, ...]:
    return tuple(row for row in rows if row is not None)


def joined(parts: Iterable[Text], separator: str = ", ") -> Line:
    """Links and words separated like a list in a sentence."""
    out: list[Text] = []
    for part in parts:
        if out:
            out.append(Text(separator))
        out.append(part)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class CitationView:
    id: str
    label: str
    title: str | None
    href: str
    identifiers: tuple[Text, ...]  # PMID and DOI, each linked
    verified: bool


def citation_view(kb: KnowledgeBase, citation_id: str) -> CitationView | None:
    citation = kb.citations.get(citation_id)
    if citation is None:
        return None
    identifiers = []
    if citation.pmid:
        identifiers.append(
            Text(
                f"PMID {citation.pmid}",
                f"https://pubmed.ncbi.nlm.nih.gov/{citation.pmid}/",
                external=True,
            )
        )
    if citation.doi:
        identifiers.append(
            Text(
                f"doi:{citation.doi}",
                f"https://doi.org/{quote(citation.doi, safe='/:;()._-')}",
                external=True,
            )
        )
    return CitationView(
        id=citation.id,
        label=citation.label,
        title=citation.title,
        href=citation.link,
        identifiers=tuple(identifiers),
        verified=citation.verified,
    )


def citation_views(kb: KnowledgeBase, ids: Iterable[str]) -> tuple[CitationView, ...]:
    views = (citation_view(kb, i) for i in dict.fromkeys(ids))
    return tuple(v for v in views if v is not None)


@dataclass(frozen=True, slots=True)
class Change:
    version: str
    date: date
    text: str


def history(kb: KnowledgeBase, entry_id: str) -> tuple[Change, ...]:
    """The changelog entries of ``knowledge.yaml`` that name this id, newest first.

    An id is named only as a whole word: ``S1`` is not named by ``S1.linezolid`` or
    ``S1-S15``, so a page never claims another rule's change.
    """
    pattern = re.compile(
        rf"(?<![A-Za-z0-9.\-]){re.escape(entry_id)}(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
    )
    return tuple(
        Change(entry.version, entry.date, change)
        for entry in kb.manifest.changelog
        for change in entry.changes
        if pattern.search(change)
    )


def code_text(code: Code) -> Line:
    """ "LOINC 2132-9 Cobalamin ...": the system by name, the code (linked for LOINC)."""
    system = SYSTEM_NAMES.get(code.system, code.system)
    href = f"https://loinc.org/{quote(code.code)}/" if code.system == "loinc" else None
    parts = [Text(f"{system} "), Text(code.code, href, external=href is not None)]
    if code.display:
        parts.append(Text(f" {code.display}"))
    if code.method:
        parts.append(Text(f" ({code.method} method)"))
    return tuple(parts)


def dose_unit(unit: str) -> str:
    return _DOSE_UNITS.get(unit, unit)


def override_reasons(kb: KnowledgeBase, codes: Iterable[str]) -> tuple[str, ...]:
    """The displays of these override reasons; none named: the defaults every card offers."""
    by_code = {r.code: r for r in kb.manifest.override_reasons}
    named = [by_code[c].display for c in codes if c in by_code]
    if named:
        return tuple(named)
    return tuple(r.display for r in kb.manifest.override_reasons if r.default)
