"""Two failure states of a real tenant: the cloud's Secret Server out of reach, and the on-prem
connector disabling itself after its Error Threshold.

Delinea's troubleshooting page for the cloud connector lists "Secret Server unreachable" as a 503
on container create or privileged-data reads: the Platform still answers (tokens, Users, Groups)
while the vault behind it does not. The on-prem connector's configuration settings document an
Error Threshold (SCIM_Threshold, default 20): that many errors in a row and the connector
disables itself (SCIM_Connector_Disabled), and every call fails with "SCIM Connector has been
disabled…" until an admin re-enables it.
"""

from __future__ import annotations

import threading

from .errors import ScimError
from .store import OWNER_GATED

# The cloud connector's resource types that live in Secret Server (folders, secrets and the
# permissions on both): the same kinds that Owner gates; users and groups are the Platform's own.
SECRET_SERVER_KINDS = OWNER_GATED
SECRET_SERVER_UNREACHABLE = "Secret Server unreachable."
# Only the start of the message is documented; the rest is not guessed at.
CONNECTOR_DISABLED = "SCIM Connector has been disabled."


def secret_server_unreachable() -> ScimError:
    return ScimError(503, SECRET_SERVER_UNREACHABLE)


def connector_disabled() -> ScimError:
    # 503 is our choice: the status a disabled connector answers is not documented.
    return ScimError(503, CONNECTOR_DISABLED)


class ErrorThreshold:
    """The on-prem connector's circuit breaker: `threshold` error answers in a row disable it
    (0 never does); any success resets the run. Thread-safe."""

    def __init__(self, threshold: int, disabled: bool = False):
        self.threshold = threshold
        self.errors_in_a_row = 0
        self._disabled = disabled
        self._lock = threading.Lock()

    @property
    def disabled(self) -> bool:
        with self._lock:
            return self._disabled

    def record(self, status: int) -> None:
        """Count one answer the connector gave (4xx and 5xx are errors)."""
        with self._lock:
            if status < 400:
                self.errors_in_a_row = 0
                return
            self.errors_in_a_row += 1
            if self.threshold and self.errors_in_a_row >= self.threshold:
                self._disabled = True

    def enable(self) -> bool:
        """Re-enable the connector, as an admin does; whether it was disabled."""
        with self._lock:
            was = self._disabled
            self._disabled, self.errors_in_a_row = False, 0
            return was
