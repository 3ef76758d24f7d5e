"""ASGI entry point for uvicorn workers: the app built from environment settings."""

from cds_service.app import create_app
from cds_service.settings import Settings

app = create_app(Settings())
