"""Reading our own HTML in tests: its links, its element ids and its visible text.

The standard library's parser is enough for pages the service writes itself; the tests use
it to follow every link of the knowledge pages, served or exported.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class Parsed:
    links: list[str] = field(default_factory=list)  # a[href] and link[href], as written
    ids: set[str] = field(default_factory=set)
    text: str = ""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = Parsed()
        self._text: list[str] = []
        self._skip = 0  # inside <style> or <script>: not visible text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("a", "link") and values.get("href"):
            self.parsed.links.append(str(values["href"]))
        if values.get("id"):
            self.parsed.ids.add(str(values["id"]))
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._text.append(data)


def parse(html: str) -> Parsed:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.parsed.text = " ".join(" ".join(reader._text).split())
    return reader.parsed


def is_external(href: str) -> bool:
    """A link the tests do not follow: another site (a cited source), or inline data (the
    empty favicon)."""
    return urlsplit(href).scheme in ("http", "https", "data")


def resolve(page: str, href: str) -> tuple[str, str]:
    """(path, fragment) of a relative link written on the page at ``page`` (both relative to
    the site's root, e.g. ``rules/x.html`` and ``../measures/y.html#bands``)."""
    target, _, fragment = href.partition("#")
    if not target:
        return page, fragment
    base = posixpath.dirname(page)
    return posixpath.normpath(posixpath.join(base, target)), fragment
