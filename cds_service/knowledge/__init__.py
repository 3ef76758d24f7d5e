"""The knowledge base: ``mappings/`` loaded, validated and indexed (see ``loader.py``)."""

from cds_service.knowledge.loader import KnowledgeBase, load_knowledge, normalise_unit

__all__ = ["KnowledgeBase", "load_knowledge", "normalise_unit"]
