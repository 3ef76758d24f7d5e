"""``cds-service knowledge export --html DIR``: the served pages as files whose links all work
from the file system (every internal link names a file that was written, every fragment an
element of it)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cds_service.cli.main import app
from cds_service.knowledge import KnowledgeBase
from cds_service.web.knowledge.site import KnowledgeSite
from tests.html_pages import is_external, parse, resolve


def test_export_writes_every_page_with_working_links(tmp_path: Path, kb: KnowledgeBase) -> None:
    target = tmp_path / "kb"
    result = CliRunner().invoke(app, ["knowledge", "export", "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert f"knowledge base {kb.version}:" in result.stdout and "index.html" in result.stdout

    files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    site = KnowledgeSite(kb)
    assert files == {*site.paths(), "static/knowledge.css"}
    # The same HTML as the service serves.
    served = site.page("rules/b12-deficient.html")
    assert served is not None
    assert (target / "rules" / "b12-deficient.html").read_bytes() == served.body

    parsed = {
        name: parse((target / name).read_text(encoding="utf-8"))
        for name in files
        if name.endswith(".html")
    }
    broken = []
    for name, page in parsed.items():
        for href in page.links:
            if is_external(href):
                continue
            path, fragment = resolve(name, href)
            if not (target / path).is_file() or (fragment and fragment not in parsed[path].ids):
                broken.append((name, href))
    assert broken == []
    assert len(parsed) > 200


def test_export_refuses_a_place_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(app, ["knowledge", "export", "--html", str(blocker / "kb")])
    assert result.exit_code == 2
    assert "cannot write to" in result.output and "Traceback" not in result.output


def test_export_refuses_a_broken_knowledge_base(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["knowledge", "export", "--html", str(tmp_path / "kb"), "--mappings", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "cannot load the knowledge base" in result.output
