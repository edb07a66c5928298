"""Reports: findings, the record() hand-off to the runner, display setup, results files."""


from .. import _imports  # noqa: F401  (before display and the figures import plotly (and so nbformat))
from ..findings import DEFAULT_FAIL_ON, SEVERITIES, Finding, at_or_above, by_severity
from .display import headless, setup, table
from .record import RUN_DIR_ENV, record

__all__ = ["DEFAULT_FAIL_ON", "RUN_DIR_ENV", "SEVERITIES", "Finding", "at_or_above",
           "by_severity", "headless", "record", "setup", "table"]
