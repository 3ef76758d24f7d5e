"""Service settings, read from environment variables with the prefix ``CDS_``.

Nothing is created at import time: ``create_app(settings)`` and the CLI build a
``Settings`` when they need one, so tests pass their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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

    # The SMART companion app (/app/, docs/operations.md): off unless a client id is set.
    smart_client_id: str | None = None
    # Set for a confidential client (sent with HTTP Basic, client_secret_basic).
    smart_client_secret: SecretStr | None = None
    # FHIR base URLs (iss) the app may be launched from; any other iss is refused unread.
    smart_iss_allowed: Annotated[list[str], NoDecode] = []
    # CSP frame-ancestors of the app's pages: who may show them in a frame (EHRs use iframes).
    smart_frame_ancestors: str = "'self'"
    # Key (>= 32 characters) of the encrypted launch-state cookie; unset: a random key per
    # process, so launch and callback must reach the same worker.
    smart_state_key: SecretStr | None = None

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

    @field_validator("smart_iss_allowed", mode="before")
    @classmethod
    def _split_iss(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [str(v).strip().rstrip("/") for v in value if str(v).strip()]
        return value

    @field_validator("smart_client_id")
    @classmethod
    def _empty_is_off(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("smart_frame_ancestors")
    @classmethod
    def _one_directive(cls, value: str) -> str:
        # It goes inside the Content-Security-Policy header: one directive's sources only.
        if not value.strip() or any(c in value for c in ";,\r\n") or not value.isprintable():
            raise ValueError(
                "CDS_SMART_FRAME_ANCESTORS must be CSP sources separated by spaces, "
                "e.g. \"'self' https://ehr.example.org\""
            )
        return value.strip()

    @field_validator("smart_state_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("CDS_SMART_STATE_KEY must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _smart_complete(self) -> Settings:
        if self.smart_client_id is None:
            return self
        if not self.smart_iss_allowed:
            raise ValueError(
                "CDS_SMART_ISS_ALLOWED must list the FHIR base URLs the SMART app may be "
                "launched from when CDS_SMART_CLIENT_ID is set"
            )
        for iss in self.smart_iss_allowed:
            if not iss.startswith(("https://", "http://")) or not iss.isprintable():
                raise ValueError(f"CDS_SMART_ISS_ALLOWED: {iss[:80]!r} is not an http(s) URL")
        if self.workers > 1 and self.smart_state_key is None:
            # A launch and its callback may reach different workers: they must share the key.
            raise ValueError("CDS_SMART_STATE_KEY is required with CDS_WORKERS > 1")
        return self

    @property
    def smart_enabled(self) -> bool:
        return self.smart_client_id is not None

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}:
            raise ValueError(f"CDS_LOG_LEVEL must be a logging level name, got {value!r}")
        return level
