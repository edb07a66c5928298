"""Captures: the raw HTTP exchanges of a token check and an inventory, recorded without
secrets and with names pseudonymised, for the practice tenant to replay (docs/capture.md)."""

from ._capture import EXCHANGES, FORMAT, MANIFEST, VERSION, Capture, capture
from ._record import PLACEHOLDER_TOKEN, Recorder

__all__ = ["EXCHANGES", "FORMAT", "MANIFEST", "PLACEHOLDER_TOKEN", "VERSION", "Capture",
           "Recorder", "capture"]
