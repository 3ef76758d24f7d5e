"""``AppRefused``: why the companion app cannot show the page, in words for the clinician.

Raised anywhere in the launch or the page build and rendered by ``routes.py`` as a short HTML
page with the status given: never a stack trace, never the EHR's own error text beyond an
OAuth error code, never a token or a patient detail.
"""

from __future__ import annotations


class AppRefused(Exception):
    """The launch cannot go on; ``title`` and ``message`` are shown as they are."""

    def __init__(self, status: int, title: str, message: str, *, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.title = title
        self.message = message
        # A short, fixed token for the log and metrics ("unknown-iss", "state-mismatch"...).
        self.reason = reason
