"""CDS service definitions from ``hooks/*.yaml``: what discovery lists and what each call needs.

A definition's prefetch entries carry engine-only settings (``required``, ``alternatives``) that
stay out of discovery. ``{{knowledge.observationCodes}}`` in a template is filled once, at load,
with the LOINC codes the knowledge base reads, so the codes are never typed twice. Templates are
checked against the CDS Hooks 2.0 token rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cds_service.errors import KnowledgeError

SUPPORTED_HOOKS = ("patient-view", "order-select", "order-sign")

# §Prefetch tokens: root-level context fields marked "Prefetch Token: Yes" and the 2.0 user tokens.
CONTEXT_TOKENS = {
    "patient-view": ("userId", "patientId", "encounterId"),
    "order-select": ("userId", "patientId", "encounterId"),
    "order-sign": ("userId", "patientId", "encounterId"),
}
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
_TOKEN = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")


class CodeSource(Protocol):
    """What service definitions need of the knowledge base: the Observation codes it reads,
    for the ``{{knowledge.observationCodes}}`` placeholder (so a code is never typed twice)."""

    def observation_codes(self) -> list[tuple[str, str]]: ...


class PrefetchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1)
    # Without this key's data the service cannot answer safely: 412 when it cannot be had.
    required: bool = True
    # Tried in order when the server rejects `query` (e.g. DSTU2 servers have MedicationOrder).
    alternatives: list[str] = []


class ServiceDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    hook: Literal["patient-view", "order-select", "order-sign"]
    title: str
    description: str
    usageRequirements: str | None = None
    prefetch: dict[str, PrefetchSpec] = {}

    def discovery(self) -> dict[str, Any]:
        """The entry in ``GET /cds-services``: spec fields only, no engine settings."""
        entry: dict[str, Any] = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description.strip(),
        }
        if self.usageRequirements:
            entry["usageRequirements"] = self.usageRequirements.strip()
        if self.prefetch:
            entry["prefetch"] = {key: spec.query for key, spec in self.prefetch.items()}
        return entry


@dataclass(frozen=True, slots=True)
class ServiceRegistry:
    services: dict[str, ServiceDefinition]

    def discovery(self) -> dict[str, Any]:
        return {"services": [s.discovery() for s in self.services.values()]}


def _expand(template: str, kb: CodeSource) -> str:
    codes = ",".join(f"{system}|{code}" for system, code in kb.observation_codes())
    return template.replace("{{knowledge.observationCodes}}", codes)


def check_template(template: str, hook: str, where: str) -> None:
    """Refuse tokens CDS Hooks 2.0 does not define (e.g. context.medication.id, Practitioner/{{...}})."""
    allowed = {f"context.{name}" for name in CONTEXT_TOKENS[hook]} | set(USER_TOKENS)
    for token in _TOKEN.findall(template):
        if token not in allowed:
            raise KnowledgeError(f"{where}: prefetch token {{{{{token}}}}} is not valid for {hook}")
    if "Practitioner/{{context.userId}}" in template:
        raise KnowledgeError(f"{where}: userId already includes the resource type")


def load_services(hooks_dir: Path, kb: CodeSource) -> ServiceRegistry:
    services: dict[str, ServiceDefinition] = {}
    for path in sorted(hooks_dir.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(raw, dict) and isinstance(raw.get("prefetch"), dict):
                raw["prefetch"] = {
                    key: {**spec, "query": _expand(spec.get("query", ""), kb)}
                    if isinstance(spec, dict)
                    else {"query": _expand(str(spec), kb)}
                    for key, spec in raw["prefetch"].items()
                }
            service = ServiceDefinition.model_validate(raw)
        except yaml.YAMLError as exc:
            raise KnowledgeError(f"{path.name}: not valid YAML: {exc}") from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise KnowledgeError(f"{path.name}: {where}: {first['msg']}") from exc
        for key, spec in service.prefetch.items():
            for template in (spec.query, *spec.alternatives):
                check_template(template, service.hook, f"{path.name}: prefetch.{key}")
        if service.id in services:
            raise KnowledgeError(f"{path.name}: duplicate service id {service.id!r}")
        services[service.id] = service
    if not services:
        raise KnowledgeError(f"{hooks_dir}: no service definitions (*.yaml)")
    return ServiceRegistry(services)


def render_template(template: str, context: dict[str, Any]) -> str | None:
    """Fill a prefetch template from the request context; None when a token has no value."""
    user = context.get("userId")
    user_type, _, user_id = user.partition("/") if isinstance(user, str) else ("", "", "")
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        token = match.group(1)
        value: Any = None
        if token.startswith("context."):
            value = context.get(token[8:])
        elif token in USER_TOKENS and USER_TOKENS[token] == user_type:
            value = user_id
        if not isinstance(value, str) or not value:
            missing = True
            return ""
        return quote(value, safe="/-._~")

    rendered = _TOKEN.sub(fill, template)
    return None if missing else rendered
