"""The knowledge pages' HTTP surface: ``/knowledge/``, its pages, ``/knowledge/why``.

No token: every page is rendered from the knowledge base alone (``site.py``), never from a
request's patient data, like ``/docs``. Each page carries a strong ETag (a hash of its bytes)
and a short public cache lifetime, so a browser or proxy revalidates cheaply and a knowledge
upgrade shows within minutes. Refusals are short HTML pages, never a stack trace; the why
page's ids are bounded and escaped (``site.parse_ids``, Jinja2 autoescape).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from cds_service.knowledge import KnowledgeBase
from cds_service.web.knowledge.catalog import INDEX_PAGE, STYLESHEET
from cds_service.web.knowledge.site import KnowledgeSite, Page

KNOWLEDGE_PATH = "/knowledge"
HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
HEADERS = {
    # Pages change only when the service is upgraded: five minutes, then an ETag check.
    "Cache-Control": "public, max-age=300",
    # No script, no inline style, nothing fetched but the stylesheet. No frame-ancestors: the
    # pages hold no patient data and offer no action, and an EHR may open a card's link in a
    # frame.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def respond(request: Request, page: Page, *, status: int = 200, media_type: str = HTML) -> Response:
    """The page, or ``304 Not Modified`` when the client already holds these bytes."""
    headers = {**HEADERS, "ETag": page.etag}
    if status == 200 and _matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    return Response(page.body, status_code=status, media_type=media_type, headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def install_knowledge_pages(app: FastAPI, kb: KnowledgeBase) -> KnowledgeSite:
    """Add ``/knowledge/...`` to ``app``; the site renders each page on its first request."""
    site = KnowledgeSite(kb)
    router = APIRouter(include_in_schema=False)

    async def root() -> Response:
        # Relative links need the trailing slash; a relative Location keeps a proxy's prefix.
        return Response(status_code=308, headers={"Location": "knowledge/"})

    async def index(request: Request) -> Response:
        page = site.page(INDEX_PAGE)
        assert page is not None
        return respond(request, page)

    async def why(request: Request) -> Response:
        status, page = site.why(request.query_params.getlist("rules"))
        return respond(request, page, status=status)

    async def stylesheet(request: Request) -> Response:
        return respond(request, site.stylesheet, media_type=CSS)

    async def any_page(path: str, request: Request) -> Response:
        page = site.page(path)
        if page is not None:
            return respond(request, page)
        missing = site.message(
            path,
            404,
            "No such knowledge page",
            "There is no page at this address in this version of the knowledge base; "
            "the index lists every page.",
        )
        return respond(request, missing, status=404)

    router.add_api_route(KNOWLEDGE_PATH, root, methods=["GET", "HEAD"])
    router.add_api_route(f"{KNOWLEDGE_PATH}/", index, methods=["GET", "HEAD"])
    router.add_api_route(f"{KNOWLEDGE_PATH}/why", why, methods=["GET", "HEAD"])
    router.add_api_route(f"{KNOWLEDGE_PATH}/{STYLESHEET}", stylesheet, methods=["GET", "HEAD"])
    router.add_api_route(f"{KNOWLEDGE_PATH}/{{path:path}}", any_page, methods=["GET", "HEAD"])
    app.include_router(router)
    return site
