"""ASGI entry point for uvicorn workers: the app built from environment settings."""

import logging

from cds_service.http.app import create_app
from cds_service.observability.logs import configure_logging
from cds_service.settings import Settings

settings = Settings()
if not logging.getLogger().handlers:
    # Started as `uvicorn cds_service.asgi:app` rather than `cds-service serve`: JSON logs too.
    configure_logging(settings.log_level)
app = create_app(settings)
