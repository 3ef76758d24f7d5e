"""What every page of the service is made with: one Jinja2 environment and the stylesheets.

Autoescape is on for every template: text from the EHR (the SMART app) and text from a URL
(the knowledge pages' ``why`` query) reach the pages only escaped. Each page family serves
``static/base.css`` followed by its own rules as one file, so its Content-Security-Policy
needs only ``style-src 'self'``.
"""

from __future__ import annotations

from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

TEMPLATES = Environment(
    loader=PackageLoader("cds_service.web", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def codespans(text: str) -> Markup:
    """The text escaped, with its `backticked` spans as ``<code>`` (changelogs write ids so)."""
    parts = str(escape(text)).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: leave the text as written
        return Markup("`".join(parts))  # noqa: S704 - escaped above
    return Markup(  # noqa: S704 - escaped above
        "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
    )


TEMPLATES.filters["codespans"] = codespans


def stylesheet(family: str) -> bytes:
    """``base.css`` then ``static/<family>/<family>.css``: the one stylesheet of a page family."""
    static = resources.files("cds_service.web").joinpath("static")
    own = static.joinpath(family, f"{family}.css").read_bytes()
    return static.joinpath("base.css").read_bytes() + b"\n" + own
