"""Cross-references between knowledge files: code systems, citations, predicate targets.

A rule may only name code systems the manifest defines, citations that exist, and measures,
bands, condition classes and medication classes that the other files define; ``use: name``
references to definitions are replaced by what they name, so the engine never sees one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from cds_service.errors import KnowledgeError
from cds_service.knowledge.schema import (
    AllergyPredicate,
    AllPredicate,
    AnyPredicate,
    Citation,
    Code,
    ConditionPredicate,
    Definition,
    LabPredicate,
    Measure,
    MedicationPredicate,
    NotPredicate,
    Predicate,
    UsePredicate,
)


class Checker:
    """Code systems and citations, checked against the manifest and the citation files."""

    def __init__(self, system_uris: Mapping[str, str], citations: Mapping[str, Citation]) -> None:
        self._systems = system_uris
        self._citations = citations

    def system(self, where: str, code: Code) -> str:
        """The code's system URI; an alias the manifest does not define fails."""
        if code.system not in self._systems:
            raise KnowledgeError(f"{where}: unknown code system {code.system!r} (code {code.code})")
        return self._systems[code.system]

    def citations(self, where: str, ids: list[str], *, required: bool = False) -> None:
        if required and not ids:
            raise KnowledgeError(f"{where}: a rule needs at least one citation")
        for citation_id in ids:
            if citation_id not in self._citations:
                raise KnowledgeError(f"{where}: unknown citation {citation_id!r}")


class References:
    """What a predicate names: measures and their bands, condition and medication classes."""

    def __init__(
        self,
        measures: Mapping[str, Measure],
        medications: set[str],
        conditions: set[str],
        allergens: set[str] | None = None,
    ) -> None:
        self._measures = measures
        self._medications = medications
        self._conditions = conditions
        self._allergens = allergens or set()

    def predicate(self, where: str, predicate: Predicate) -> None:
        for node in walk(predicate):
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
            elif isinstance(node, AllergyPredicate) and node.allergy not in self._allergens:
                raise KnowledgeError(f"{where}: unknown allergen class {node.allergy!r}")


def walk(predicate: Predicate) -> Iterator[Predicate]:
    """The predicate and every predicate nested in it, depth first."""
    yield predicate
    if isinstance(predicate, AllPredicate):
        for child in predicate.all:
            yield from walk(child)
    elif isinstance(predicate, AnyPredicate):
        for child in predicate.any:
            yield from walk(child)
    elif isinstance(predicate, NotPredicate):
        yield from walk(predicate.not_)


def resolve(where: str, predicate: Predicate, definitions: Mapping[str, Definition]) -> Predicate:
    """Replace every ``use: name`` by the named definition (recursively), so the engine never
    sees a reference; an unknown name fails naming the place."""
    if isinstance(predicate, UsePredicate):
        definition = definitions.get(predicate.use)
        if definition is None:
            raise KnowledgeError(f"{where}: unknown definition {predicate.use!r}")
        return definition.when
    if isinstance(predicate, AllPredicate):
        return AllPredicate(all=[resolve(where, p, definitions) for p in predicate.all])
    if isinstance(predicate, AnyPredicate):
        return AnyPredicate(any=[resolve(where, p, definitions) for p in predicate.any])
    if isinstance(predicate, NotPredicate):
        return NotPredicate.model_validate({"not": resolve(where, predicate.not_, definitions)})
    return predicate
