"""The knowledge base as pages for people: every rule, analyte, intervention and safety rule.

PHI-free by construction (rendered from ``mappings/`` alone), so the pages need no token, like
``/docs``. A card's "Why" link opens the page of its rules.
"""

KNOWLEDGE_PATH = "/knowledge"

__all__ = ["KNOWLEDGE_PATH"]
