"""The knowledge base as pages for people: every rule, measure, intervention and safety rule.

PHI-free by construction (rendered from ``mappings/`` alone), so the pages need no token, like
``/docs``. A card's "Why" link opens the page of its rules (``/knowledge/why?rules=...``).

Modules, from the HTTP surface down: ``routes`` (the routes and their caching headers),
``site`` (every page of one knowledge base, rendered once), ``export`` (the same pages as
files); the page models: ``overview`` (index, changelog, citations, tests), ``rules`` and
``safety`` (every id a card can name, each an ``entries.EntryView``), ``measures``,
``interventions``, ``pathways``; and what they are built from: ``describe`` (structures in plain
words), ``bandbar`` (the SVG band bar), ``parts`` (links, facts, citations, history) and
``catalog`` (where each page lives).
"""

from cds_service.web.knowledge.routes import KNOWLEDGE_PATH, install_knowledge_pages
from cds_service.web.knowledge.site import KnowledgeSite

__all__ = ["KNOWLEDGE_PATH", "KnowledgeSite", "install_knowledge_pages"]
