"""The two ways an alert goes out: at the end of `opskit report`, and `opskit alert OUT`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING

from .._redact import redact
from ..config import load_profiles
from ..errors import OpskitError
from ._message import Alert, build_alert
from ._runs import Run, runs_of_outcomes
from ._send import deliver
from ._settings import AlertSettings, load_settings

if TYPE_CHECKING:
    from .._run.fleet import TenantOutcome


def learn_secrets(settings: AlertSettings | None) -> None:
    """Register every secret in reach with the redactor before a message is built: those of
    every profile (each resolved where this environment has it) and the alerts' own."""
    from .._run.isolation import learn_secrets as learn_profile_secrets

    with suppress(OpskitError):
        learn_profile_secrets(load_profiles().values())
    if settings is not None:
        settings.learn_secrets()


def prepare(runs: Sequence[Run], settings: AlertSettings,
            fleet_run: str | None = None) -> Alert | None:
    learn_secrets(settings)
    return build_alert(runs, settings, fleet_run)


def after_report(outcomes: Sequence[TenantOutcome], say: Callable[[str], None]) -> None:
    """Alert on what `opskit report` just did, if ``[alerts]`` is configured. Whatever goes
    wrong is one line through ``say``: the runs' exit code stays theirs."""
    try:
        settings = load_settings()
        if settings is None:
            return
        alert = prepare(runs_of_outcomes(outcomes), settings)
    except OpskitError as exc:
        say(redact("alerts not sent: " + str(exc).replace("\n  → ", " → ")))
        return
    if alert is None:
        return
    sent, problems = deliver(alert, settings)
    for line in problems:
        say(line)
    if sent:
        say(f"alert sent: {'; '.join(sent)}")
