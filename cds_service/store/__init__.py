"""Audit and feedback persistence: SQLite by default, PostgreSQL for several workers or hosts.

``SQLAuditStore.open(settings)`` is what the app's lifespan calls; the modules beside this one
hold the engine tuning (``engine``), the schema (``schema``) and its migrations (``migrate``),
the patient pseudonym (``pseudonym``) and retention (``retention``).
"""

from cds_service.store.audit_store import SQLAuditStore, feedback_row

__all__ = ["SQLAuditStore", "feedback_row"]
