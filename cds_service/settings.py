"""Service settings, read from environment variables with the prefix ``CDS_``.

Nothing is created at import time: ``create_app(settings)`` and the CLI build a
``Settings`` when they need one, so tests pass their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the service; the README and docs/operations.md list them."""

    model_config = SettingsConfigDict(env_prefix="CDS_", extra="ignore", frozen=True)

    # Where the service definitions and the knowledge base live.
    hooks_dir: Path = PROJECT_ROOT / "hooks"
    mappings_dir: Path = PROJECT_ROOT / "mappings"
    # CDS Hooks requests shown as worked examples on /docs (absent: no examples there).
    examples_dir: Path = PROJECT_ROOT / "examples"

    # HTTP serving (used by `cds-service serve`).
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = Field(default=1, ge=1)

    # The public URL of this service (scheme://host[:port][/prefix]) as EHRs call it.
    # Used for JWT `aud` checks; when unset the URL is built from the request.
    public_base_url: str | None = None

    # Requests.
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Comma-separated list of allowed browser origins; "*" allows any.
    cors_origins: Annotated[list[str], NoDecode] = ["*"]

    # FHIR server fallback for missing prefetch.
    fhir_connect_timeout: float = Field(default=2.0, gt=0)
    fhir_read_timeout: float = Field(default=5.0, gt=0)
    fhir_max_pages: int = Field(default=10, ge=1)
    fhir_max_connections: int = Field(default=50, ge=1)
    # Largest FHIR server answer (one page) the service reads; past it the key counts as failed.
    fhir_max_response_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    # Authentication of the calling EHR (see docs/operations.md).
    auth: Literal["jwt", "off"] = "jwt"
    trusted_clients: Path = PROJECT_ROOT / "trusted" / "clients.yaml"

    # Audit and feedback storage.
    database_url: str = "sqlite+aiosqlite:///./cds-service.db"
    audit_key: SecretStr | None = None
    retention_days: int = Field(default=365, ge=1)

    log_level: str = "INFO"

    # Re-check every response with the CDS Hooks validator before sending it (tests turn this
    # on; in production it costs a little time per call).
    validate_responses: bool = False

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}:
            raise ValueError(f"CDS_LOG_LEVEL must be a logging level name, got {value!r}")
        return level
