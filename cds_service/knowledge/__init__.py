"""The knowledge base: ``mappings/`` loaded, validated and indexed (see ``loader.py``)."""

from cds_service.knowledge.base import KnowledgeBase
from cds_service.knowledge.loader import load_knowledge

__all__ = ["KnowledgeBase", "load_knowledge"]
