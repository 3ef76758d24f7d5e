"""Cards for the terminal, as a clinician reads them in the EHR (rich).

Order and emphasis follow the CDS Hooks sandbox: critical, then warning, then info; the
summary is the headline, the markdown detail is rendered below it, then the suggestions (with
what each would create or remove), links, override reasons and the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from cds_service.cli.offline import Outcome
from cds_service.protocol.messages import EXTENSION_KEY

STYLES = {"critical": "bold red", "warning": "bold yellow", "info": "bold cyan"}
ORDER = {"critical": 0, "warning": 1, "info": 2}


def render_outcome(console: Console, name: str, outcome: Outcome) -> None:
    prepared = outcome.prepared
    request = prepared.request
    response = outcome.evaluation.response
    console.print(Rule(Text(name, style="bold"), align="left"))
    extension = response.get("extension", {}).get(EXTENSION_KEY, {})
    as_of = outcome.now.date().isoformat()
    if prepared.as_of is not None and prepared.as_of_source and outcome.now == prepared.as_of:
        as_of += f" ({prepared.as_of_source})"
    facts = [
        f"hook {request.hook}",
        f"service {prepared.service.id}",
        f"as of {as_of}",
        f"knowledge base {extension.get('knowledgeVersion', '?')}",
    ]
    console.print(Text(" · ".join(facts), style="dim"))
    if prepared.title:
        console.print(Text(prepared.title, style="italic"))
    for note in prepared.notes:
        console.print(Text(f"note: {note}", style="dim"))
    for note in extension.get("dataNotes", []):
        console.print(Text(f"data: {note}", style="yellow"))
    cards = sorted(response.get("cards", []), key=lambda c: ORDER.get(c.get("indicator"), 3))
    if not cards:
        console.print(
            Text("No cards: nothing actionable for this patient and hook.", style="green")
        )
    for card in cards:
        console.print(card_panel(card))
    for problem in outcome.problems:
        console.print(Text(f"invalid response: {problem}", style="bold red"))
    console.print(Text(_tally(cards), style="bold"))
    console.print()


def card_panel(card: Mapping[str, Any]) -> Panel:
    indicator = str(card.get("indicator", "info"))
    style = STYLES.get(indicator, "bold")
    # The summary is what the clinician reads first: its own line, wrapped, never truncated.
    parts: list[RenderableType] = [Text(str(card.get("summary", "")), style=style)]
    if card.get("detail"):
        parts.append(Text(""))
        parts.append(Markdown(str(card["detail"])))
    suggestions = card.get("suggestions") or []
    if suggestions:
        behaviour = card.get("selectionBehavior", "")
        parts.append(Text(f"\nSuggestions ({behaviour}):", style="bold"))
        for suggestion in suggestions:
            recommended = " (recommended)" if suggestion.get("isRecommended") else ""
            parts.append(Text(f"  ▸ {suggestion.get('label', '')}{recommended}"))
            for action in suggestion.get("actions") or []:
                parts.append(Padding(Text(_action(action), style="dim"), (0, 0, 0, 6)))
    for link in card.get("links") or []:
        parts.append(Text(f"  ↗ {link.get('label', '')}: {link.get('url', '')}"))
    reasons = card.get("overrideReasons") or []
    if reasons:
        names = "; ".join(str(r.get("display") or r.get("code")) for r in reasons)
        parts.append(Text(f"\nIf you override, say why: {names}", style="dim"))
    source = card.get("source") or {}
    topic = (source.get("topic") or {}).get("code")
    where = f"{source.get('label', '')}" + (f" · topic {topic}" if topic else "")
    if source.get("url"):
        where += f" · {source['url']}"
    parts.append(Text(f"\nSource: {where}", style="dim"))
    title = Text(f" {indicator.upper()} ", style=f"reverse {style}")
    return Panel(Group(*parts), title=title, title_align="left", border_style=style.split()[-1])


def _action(action: Mapping[str, Any]) -> str:
    kind = action.get("type", "")
    resource = action.get("resource") or {}
    if kind == "delete":
        return f"remove {action.get('resourceId', '')}: {action.get('description', '')}"
    rtype = resource.get("resourceType", "")
    concept = resource.get("medicationCodeableConcept") or resource.get("code") or {}
    codings = concept.get("coding") or [{}]
    code = codings[0].get("code")
    what = concept.get("text") or codings[0].get("display") or ""
    coded = f" [{code}]" if code else ""
    status = "/".join(str(resource.get(k)) for k in ("status", "intent") if resource.get(k))
    return f"{kind} {rtype} {what}{coded} ({status}): {action.get('description', '')}"


def _tally(cards: list[Mapping[str, Any]]) -> str:
    counts = {k: sum(1 for c in cards if c.get("indicator") == k) for k in ORDER}
    detail = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return f"{len(cards)} card{'s' if len(cards) != 1 else ''}" + (f" ({detail})" if detail else "")
