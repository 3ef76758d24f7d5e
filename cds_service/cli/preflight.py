"""Configuration checks ``cds-service serve`` runs before uvicorn starts.

A wrong setting should cost the operator one line that names it, not a traceback from inside
a worker's start-up (or, with several workers, one per worker). Everything checked here is
checked again where it is used; this only moves the first failure to where it reads well.
"""

from __future__ import annotations

from pydantic import ValidationError

from cds_service.errors import ConfigurationError
from cds_service.knowledge.loader import load_knowledge
from cds_service.protocol.services import load_services
from cds_service.security.registry import load_trusted_clients
from cds_service.settings import Settings
from cds_service.store.engine import backend
from cds_service.store.pseudonym import Pseudonymizer


def check_configuration() -> Settings:
    """The settings, once the files they name load and the audit key suits the database.

    Raises ``ConfigurationError`` (one line naming the setting or file); anything else is a
    bug and keeps its traceback.
    """
    try:
        settings = Settings()
        kb = load_knowledge(settings.mappings_dir)
        load_services(settings.hooks_dir, kb)
        if settings.auth == "jwt":
            load_trusted_clients(settings.trusted_clients)
        is_postgres = backend(settings.database_url) == "postgresql"
        Pseudonymizer(settings.audit_key, require_key=is_postgres)
    # pydantic's ValidationError (a setting) and OSError (a file that cannot be read) are
    # foreign: translated here, where they enter.
    except (ConfigurationError, ValidationError, OSError) as exc:
        raise ConfigurationError(describe(exc)) from None
    return settings


def describe(exc: BaseException) -> str:
    """One line for the operator; a setting's error names its environment variable.

    pydantic's message for a setting is used without the input value, which may be a secret
    (CDS_AUDIT_KEY) or a database URL with a password.
    """
    if isinstance(exc, ValidationError):
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = "CDS_" + "_".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}: {error['msg']}")
        return "; ".join(problems) or "invalid settings"
    return " ".join(str(exc).split()) or type(exc).__name__
