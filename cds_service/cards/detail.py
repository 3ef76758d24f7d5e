"""Lines of a card's markdown detail that patient-view cards share: the records a rule found
and the short form of a citation.
"""

from __future__ import annotations

from cds_service.engine.types import Trace
from cds_service.knowledge.schema import Citation


def record_names(trace: Trace) -> str:
    """The medications and conditions a predicate found, with their source resources."""
    items = [f"{m.name} ({m.ref})" for m in trace.medications.values()]
    items += [f"{c.name} ({c.ref})" for c in trace.conditions.values()]
    return ", ".join(items)


def citation_line(citation: Citation) -> str:
    """ "[Devalia 2014, Br J Haematol](https://pubmed.ncbi.nlm.nih.gov/24942828/)": the short
    label (no subtitle) linked by its PMID or DOI."""
    label = citation.label.split(" (")[0]
    if len(label) > 40:  # "WHO 2015, serum and red blood cell folate ..." -> "WHO 2015"
        label = label.split(",")[0]
    if len(label) > 40:  # "WHO 2020 guideline on ferritin ..." -> "WHO 2020 guideline"
        label = " ".join(label.split()[:3])
    return f"[{label}]({citation.link})"
