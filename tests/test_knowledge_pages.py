"""The knowledge pages without a server: what each page model says, the band bar, the why
page's reading of its ids, and every link of every page resolving inside the site.

The HTTP surface is tested in test_knowledge_api.py, the export in test_knowledge_export.py,
the pages in a browser in test_knowledge_browser.py.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import ChangelogEntry
from cds_service.web.knowledge.bandbar import band_bar, populations
from cds_service.web.knowledge.catalog import (
    CARD_KINDS,
    INTERVENTION,
    MEASURE,
    PATHWAY,
    SAFETY,
    Catalog,
)
from cds_service.web.knowledge.describe import band_range, condition, unit_systems
from cds_service.web.knowledge.parts import history
from cds_service.web.knowledge.site import (
    MAX_WHY_IDS,
    KnowledgeSite,
    parse_ids,
)
from tests.html_pages import is_external, parse, resolve


@pytest.fixture(scope="module")
def site(kb: KnowledgeBase) -> KnowledgeSite:
    return KnowledgeSite(kb)


def html(site: KnowledgeSite, path: str) -> str:
    page = site.page(path)
    assert page is not None, path
    return page.body.decode()


def test_every_id_a_card_can_carry_has_one_page(kb: KnowledgeBase) -> None:
    catalog = Catalog(kb)
    ids = [e.id for kind in (*CARD_KINDS, PATHWAY) for e in catalog.entries(kind)]
    # Unique across kinds, so a card's rule id means one page; and unique ignoring case, so
    # the exported files do not overwrite each other on a case-insensitive file system.
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert [i for i, n in Counter(i.lower() for i in ids).items() if n > 1] == []
    for rule in kb.rules:
        entry = catalog.card_entry(rule.id)
        assert entry is not None and entry.path == f"rules/{rule.id}.html"
    for safety in kb.safety_rules:
        entry = catalog.card_entry(safety.id)
        assert entry is not None and entry.kind is SAFETY
    for kind in (MEASURE, INTERVENTION):
        names = [e.id.lower() for e in catalog.entries(kind)]
        assert len(names) == len(set(names))


def test_bands_in_every_unit_system(kb: KnowledgeBase) -> None:
    b12 = kb.measures["vitamin-b12"]
    systems = unit_systems(b12)
    assert [s.unit for s in systems] == ["pg/mL", "pmol/L"]
    assert systems[0].also == ("ng/L",)
    deficient = next(b for b in b12.bands if b.id == "deficient")
    # As the data write it in the canonical unit; converted with the data's factor (0.738).
    assert band_range(deficient, systems[0]) == "< 200 pg/mL"
    assert band_range(deficient, systems[1]) == "< 148 pmol/L"
    assert [s.unit for s in unit_systems(kb.measures["phq9"])] == ["score"]


def test_band_bar_draws_the_engines_bands_per_population(kb: KnowledgeBase) -> None:
    ferritin = populations(kb.measures["ferritin"])
    assert [p.label for p in ferritin] == ["female; other or unknown sex", "male"]
    male = ferritin[1].pieces
    assert [(p.segment.band_id, p.segment.low, p.segment.high) for p in male][-2:] == [
        ("adequate", 70.0, 200.0),
        ("overload", 200.0, None),
    ]
    omega = populations(kb.measures["omega-3-index"])
    assert [p.label for p in omega] == ["plasma method", "rbc method"]
    # Questionnaire scores are whole numbers: minimal (<= 4) then mild (5-9), no gap between.
    phq9 = populations(kb.measures["phq9"])[0]
    assert "" not in [p.segment.band_id for p in phq9.pieces]

    svg = str(band_bar(kb.measures["vitamin-b12"], dom_id="t", highlight=frozenset({"deficient"})))
    assert svg.startswith("<svg") and 'role="img"' in svg and "style=" not in svg
    assert svg.count('class="segment read"') == 1
    assert "&lt; 148" in svg and "200\u2013300" in svg  # pmol/L row; the indeterminate range
    assert str(band_bar(kb.measures["iron-serum"], dom_id="t")) == ""  # no bands, no bar


def test_conditions_read_as_plain_words_with_links(kb: KnowledgeBase) -> None:
    rule = next(r for r in kb.rules if r.id == "b12-indeterminate")
    tree = condition(rule.when, kb)
    assert tree.line[0].text == "all of:"
    lines = ["".join(t.text for t in child.line) for child in tree.children]
    assert lines == [
        "Vitamin B12 (cobalamin), serum: indeterminate (confirm with MMA)",
        "no current result of Methylmalonic acid, serum",
    ]
    assert tree.children[0].line[0].href == "measures/vitamin-b12.html"


def test_history_names_an_id_only_as_a_whole_word(kb: KnowledgeBase) -> None:
    entry = ChangelogEntry.model_validate(
        {
            "version": "9.9.9",
            "date": "2030-01-01",
            "changes": [
                "S1.linezolid is new; S1-S15 reviewed",
                "`S1` v2: tighter",
                "b12-deficient v3",
            ],
        }
    )
    manifest = kb.manifest.model_copy(update={"changelog": [entry, *kb.manifest.changelog]})
    changed = replace(kb, manifest=manifest)
    assert [c.text for c in history(changed, "S1") if c.version == "9.9.9"] == ["`S1` v2: tighter"]
    assert [c.text for c in history(changed, "S1.linezolid") if c.version == "9.9.9"] == [
        "S1.linezolid is new; S1-S15 reviewed"
    ]
    assert any(c.version == "0.7.0" for c in history(kb, "b12-deficient"))


def test_about_page_says_which_data_the_rules_read_and_never_read(kb: KnowledgeBase) -> None:
    manifest = kb.manifest.model_copy(update={"data_used": "Only ferritin; never race & <x>."})
    page = html(KnowledgeSite(replace(kb, manifest=manifest)), "about.html")
    assert (
        '<th scope="row">Data used</th><td>Only ferritin; never race &amp; &lt;x&gt;.</td>' in page
    )
    assert "does not use race" in html(KnowledgeSite(kb), "about.html").lower()


def test_why_ids_are_bounded_deduplicated_and_trimmed() -> None:
    assert parse_ids(["a, b,,a", "c"]) == (["a", "b", "c"], 0)
    ids, dropped = parse_ids([",".join(f"r{i}" for i in range(MAX_WHY_IDS + 12))])
    assert len(ids) == MAX_WHY_IDS and dropped == 12
    ids, _ = parse_ids(["x" * 100_000])
    assert len(ids[0]) <= 4096


def test_why_page_says_what_each_id_is(site: KnowledgeSite) -> None:
    status, page = site.why(["b12-deficient,serotonergic,not-checked,no-such-rule,<b>x</b>"])
    assert status == 200
    text = parse(page.body.decode()).text
    for expected in (
        "Vitamin B12 deficiency",  # a rule: its content
        "b12-deficient",
        "Serotonergic pathway",  # a pathway, the topic of a folded card
        "Card topic, not a rule",  # not-checked
        "Unknown rule id no-such-rule",
        "This is not a rule id",
    ):
        assert expected in text
    assert "<b>x</b>" not in page.body.decode() and "&lt;b&gt;x&lt;/b&gt;" in page.body.decode()
    assert site.why(["no-such-rule"])[0] == 404
    assert site.why([""])[0] == 400
    # Kept: the same ids give the same bytes without rendering again.
    assert site.why(["no-such-rule"])[1] is site.why(["no-such-rule"])[1]


def test_every_link_of_every_page_resolves_inside_the_site(site: KnowledgeSite) -> None:
    pages = {path: parse(html(site, path)) for path in site.paths()}
    files = set(pages) | {"static/knowledge.css"}
    broken = []
    for path, parsed in pages.items():
        for href in parsed.links:
            if is_external(href):  # a cited source, a LOINC code: not followed offline
                continue
            target, fragment = resolve(path, href)
            if target not in files or (fragment and fragment not in pages[target].ids):
                broken.append((path, href))
    assert broken == []


def test_index_links_every_page(site: KnowledgeSite, kb: KnowledgeBase) -> None:
    index = parse(html(site, "index.html"))
    linked = {resolve("index.html", href)[0] for href in index.links if not is_external(href)}
    expected = {
        *(f"rules/{r.id}.html" for r in kb.rules),
        *(f"safety/{r.id}.html" for r in kb.safety_rules),
        *(f"prompts/{p.id}.html" for p in kb.safety_prompts),
        *(f"measures/{m}.html" for m in kb.measures),
        *(f"interventions/{i}.html" for i in kb.interventions),
        *(f"pathways/{p}.html" for p in kb.pathways),
        *(f"order-checks/{d.id}.html" for d in (*kb.dose_limits, *kb.duplication)),
    }
    assert expected - linked == set()
    assert set(site.paths()) - linked == set()  # everything is reachable from the index


def test_rendering_every_page_is_cheap(kb: KnowledgeBase) -> None:
    started = time.perf_counter()
    site = KnowledgeSite(kb)
    sizes = [len(html(site, path)) for path in site.paths()]
    elapsed = time.perf_counter() - started
    assert len(sizes) > 200
    assert elapsed < 5, elapsed  # ~0.2 s on a 2-core machine
    assert max(sizes) < 150_000
