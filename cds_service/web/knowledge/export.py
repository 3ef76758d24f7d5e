"""``cds-service knowledge export --html DIR``: the knowledge pages as static files.

The same bytes as the served pages (``site.py``), at the same relative addresses, so every
link works from the file system: a CDS committee can review one knowledge version offline.
The why page is built per card from its ids, so it is not exported; the pages it gathers are.
"""

from __future__ import annotations

from pathlib import Path

from cds_service.knowledge import KnowledgeBase
from cds_service.web.knowledge.catalog import STYLESHEET
from cds_service.web.knowledge.site import KnowledgeSite


def export_html(kb: KnowledgeBase, directory: Path) -> list[Path]:
    """Write every page and the stylesheet under ``directory``; the files written, index first."""
    site = KnowledgeSite(kb)
    written = []
    for path in site.paths():
        page = site.page(path)
        assert page is not None  # every listed path renders
        written.append(_write(directory / path, page.body))
    written.append(_write(directory / STYLESHEET, site.stylesheet.body))
    return written


def _write(target: Path, body: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    return target
