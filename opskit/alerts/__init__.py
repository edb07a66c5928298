"""Alerts: a webhook and e-mail when runs have new findings at or above a threshold, or could
not run (``[alerts]`` in opskit.toml; docs/alerts.md)."""

from ._flow import after_report, learn_secrets, prepare
from ._message import SCHEMA, Alert, build_alert, is_new
from ._runs import Run, latest_fleet_run, runs_in, runs_of_outcomes
from ._send import deliver, preview
from ._settings import AlertSettings, Email, Webhook, load_settings, parse_settings

__all__ = ["SCHEMA", "Alert", "AlertSettings", "Email", "Run", "Webhook", "after_report",
           "build_alert", "deliver", "is_new", "latest_fleet_run", "learn_secrets",
           "load_settings", "parse_settings", "prepare", "preview", "runs_in",
           "runs_of_outcomes"]
