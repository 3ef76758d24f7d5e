"""The SMART companion app: EHR launch, the patient's trends, and the cards' reasoning.

Modules, in the order a launch meets them: ``routes`` (the HTTP surface), ``state`` (the
sealed launch cookie), ``oauth`` (discovery, authorize, token), ``gather`` (FHIR reads and the
engine), ``page`` (what the page shows), ``charts`` and ``svg`` (the plots).
"""

from cds_service.web.smart.routes import (
    CALLBACK_PATH,
    LAUNCH_PATH,
    DevTarget,
    install_smart_app,
    public_base,
)

__all__ = ["CALLBACK_PATH", "LAUNCH_PATH", "DevTarget", "install_smart_app", "public_base"]
