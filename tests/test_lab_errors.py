"""An opskit error in an interactive IPython session (JupyterLab) shows as its message and
remedy, not a traceback; headless runs keep the traceback papermill needs. In-process: a real
IPython shell runs the cells."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from opskit._redact import remember
from opskit.errors import ConfigError, OpskitError
from opskit.report import RUN_DIR_ENV, setup
from opskit.report._lab_errors import error_lines

SECRET = "s3cr3t-value-never-shown"
FAILING_CELL = ("from opskit.errors import ConfigError\n"
                "raise ConfigError(\"unknown profile '<b>acme</b>'\", 'set OPSKIT_CONFIG')")


@pytest.fixture
def shell() -> Iterator[Any]:
    config = Config()
    config.HistoryManager.enabled = False  # no history database written
    ipython = InteractiveShell.instance(config=config)
    try:
        yield ipython
    finally:
        InteractiveShell.clear_instance()  # get_ipython() is None again for later tests


def test_an_opskit_error_in_lab_is_its_message_and_remedy_not_a_traceback(
        shell: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    setup()
    with capture_output() as shown:
        result = shell.run_cell(FAILING_CELL)
    assert isinstance(result.error_in_exec, ConfigError)  # the cell still failed: Run All stops
    assert "Traceback" not in shown.stdout + shown.stderr
    shown_text = shown.stdout + shown.stderr
    assert "ConfigError: unknown profile '<b>acme</b>'" in shown_text  # plain text: no markup
    assert "→ set OPSKIT_CONFIG" in shown_text and "%tb" in shown_text
    assert "raise ConfigError" not in shown_text and not shown.outputs
    # Any other error keeps its traceback.
    with capture_output() as shown:
        shell.run_cell("1 / 0")
    assert "ZeroDivisionError" in shown.stdout and not shown.outputs


def test_setup_in_a_headless_run_keeps_the_traceback_papermill_reads(
        shell: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    setup()
    assert shell.custom_exceptions == ()
    with capture_output() as shown:
        shell.run_cell(FAILING_CELL)
    assert "Traceback" in shown.stdout and not shown.outputs
    monkeypatch.delenv(RUN_DIR_ENV)
    setup()  # the same kernel, now interactive
    assert shell.custom_exceptions == (OpskitError,)


def test_a_secret_in_an_error_s_text_is_masked() -> None:
    remember(SECRET)
    lines = error_lines(ConfigError(f"refused {SECRET}", f"rotate {SECRET}"))
    assert all(SECRET not in line for line in lines)
    assert "***" in lines[0] and "***" in lines[1]
