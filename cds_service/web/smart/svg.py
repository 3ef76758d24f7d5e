"""Matplotlib's SVG made fit to sit inside a page with a strict Content-Security-Policy.

Matplotlib writes ``style="fill: ..."`` attributes and a ``<style>`` element; a CSP without
``'unsafe-inline'`` makes the browser refuse both (and report a console error each time). SVG
presentation attributes (``fill="..."``) are not styles and are not subject to CSP, so every
declaration is moved into one. Ids are prefixed per chart (several charts share a page), the
metadata is dropped, and artists given a ``gid`` of the form ``nt.class.class`` get those
classes, which the stylesheet and the browser tests use.
"""

from __future__ import annotations

import re

# Parses matplotlib's own output only, never input from outside.
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

_HREF = f"{{{XLINK_NS}}}href"
_URL_REF = re.compile(r"url\(#([^)]+)\)")
# CSS properties matplotlib writes that have an SVG presentation attribute of the same name.
_PRESENTATION = frozenset(
    {
        "clip-path",
        "fill",
        "fill-opacity",
        "fill-rule",
        "font-family",
        "font-size",
        "font-style",
        "font-weight",
        "opacity",
        "stroke",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-opacity",
        "stroke-width",
        "text-anchor",
        "dominant-baseline",
    }
)
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _declarations(style: str) -> list[tuple[str, str]]:
    pairs = []
    for item in style.split(";"):
        name, _, value = item.partition(":")
        name, value = name.strip(), value.strip()
        if name and value:
            pairs.append((name, value))
    return pairs


def inline_safe(svg: str, prefix: str, *, title: str, title_id: str) -> str:
    """The SVG with no style attribute or element, ids prefixed, and an accessible title."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    for parent in list(root.iter()):
        for child in list(parent):
            if _tag(child) in ("metadata", "style"):
                parent.remove(child)
    for element in root.iter():
        style = element.attrib.pop("style", None)
        if style:
            for name, value in _declarations(style):
                if name == "font-family":
                    value = FONT_FAMILY
                if name in _PRESENTATION:
                    element.set(name, value)
        gid = element.get("id")
        if gid is not None and gid.startswith("nt."):
            element.set("class", " ".join(gid.split(".")[1:]))
            del element.attrib["id"]
        elif gid is not None:
            element.set("id", f"{prefix}-{gid}")
        for attribute, value in list(element.attrib.items()):
            if attribute == _HREF and value.startswith("#"):
                element.set(attribute, f"#{prefix}-{value[1:]}")
            elif "url(#" in value:
                element.set(
                    attribute, _URL_REF.sub(lambda m: f"url(#{prefix}-{m.group(1)})", value)
                )
    for attribute in ("width", "height"):
        root.attrib.pop(attribute, None)
    # The <style> element said this for every element; inherited presentation attributes do.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    root.set("class", "chart")
    root.set("role", "img")
    root.set("aria-labelledby", title_id)
    heading = ET.Element(f"{{{SVG_NS}}}title", {"id": title_id})
    heading.text = title
    root.insert(0, heading)
    return ET.tostring(root, encoding="unicode")
