"""A JupyterLab server of the tests' own, and what a person does in it: open a notebook, run all
its cells, read what they show."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Lab's settings, as a person would set them once: every cell kept in the page (not only those
# scrolled into view), so a run's outputs can all be read; and no news or update checks, which
# would ask the internet.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}
STARTED = 60.0  # the hang guard for Lab's start and stop, in seconds


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path

    def tree(self, path: str = "") -> str:
        """The address a person opens: Lab on ``path`` (or its file browser alone), logged in by
        the token."""
        return f"{self.url}lab{'/tree/' + path if path else ''}?token={self.token}"


SERVING = re.compile(r"(http://127\.0\.0\.1:\d+/)lab")  # the line naming the server's address


@contextmanager
def running_lab(root: Path, state: Path, env: Mapping[str, str]) -> Iterator[Lab]:
    """`jupyter lab --no-browser` serving ``root`` on a free 127.0.0.1 port with a random token;
    its settings, workspaces and runtime files in ``state``, nothing in the home folder."""
    for name, settings in SETTINGS.items():
        path = state / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")
    token = secrets.token_hex(16)
    # Port 0: the server binds a port the OS gives it and says which. A port picked here and
    # bound later can be taken meanwhile (by a kernel's ZMQ socket of a test beside this one).
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={state / 'settings'}",
            f"--LabApp.workspaces_dir={state / 'workspaces'}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, **env, "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTER_CONFIG_DIR": str(state / "config"), "IPYTHONDIR": str(state / "ipython")}
    proc = subprocess.Popen(args, cwd=root, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    ready = threading.Event()
    served: list[str] = []

    def read_log() -> None:  # drained for the server's life: a full pipe would stop it
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            found = SERVING.search(line)
            if found and not served:
                served.append(found.group(1))
                ready.set()
        ready.set()  # the server ended: the wait below sees that

    threading.Thread(target=read_log, daemon=True).start()
    try:
        if not ready.wait(STARTED) or proc.poll() is not None:
            raise RuntimeError("JupyterLab did not start:\n" + "".join(log[-40:]))
        yield Lab(served[0], token, root)
    finally:
        proc.terminate()  # jupyter_server stops its kernels on SIGTERM
        try:
            proc.wait(STARTED)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()



# --------------------------------------------------------------------------- a person in Lab
DONE_JS = """panel => {
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim());
  return prompts.length > 0 && !prompts.includes('[*]:') && /^\\[\\d+\\]:$/.test(prompts[0]);
}"""


def open_notebook(page: Any, name: str) -> Any:
    """Double-click ``name`` in the file browser; the notebook's panel once its kernel is idle
    (Run All before that runs nothing, or asks which kernel to start)."""
    page.locator(".jp-DirListing-item", has_text=name).dblclick()
    tab = page.locator(".jp-mod-current.lm-TabBar-tab", has_text=name)
    panel = page.locator(f"#{tab.get_attribute('data-id')}")
    kernel_idle(page)
    return panel


def kernel_idle(page: Any, timeout: float = 60_000) -> None:
    """The active notebook's kernel is connected and idle, as the status bar says."""
    page.locator("#jp-main-statusbar").get_by_text(
        re.compile(r"^Python 3 \(ipykernel\) \| Idle$")).wait_for(timeout=timeout)


def activate(page: Any, name: str) -> None:
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name).click()


def run_all(page: Any) -> None:
    """Run → Run All Cells on the active notebook, as a person does (the menu item found by its
    command, not its label)."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator('li[data-command="runmenu:run-all"]').click()


def wait_until_ran(page: Any, panel: Any, timeout: float = 120_000) -> None:
    """Every queued cell has run (no [*] prompt left); Run All stops at an error, leaving the
    cells after it unrun, which the caller's assertions then show."""
    page.wait_for_function(DONE_JS, arg=panel.element_handle(), timeout=timeout)
    kernel_idle(page, timeout)


def save(page: Any, lab: Lab, name: str) -> dict[str, Any]:
    """Ctrl+S, then the notebook as the server stored it: its cells' outputs as the kernel gave
    them (an error is an output of type "error" there, while in the page it looks like any
    stderr text, a progress bar's included)."""
    with page.expect_response(lambda r: r.request.method == "PUT" and "/api/contents/" in r.url):
        page.keyboard.press("Control+s")
    response = page.request.get(f"{lab.url}api/contents/{name}?token={lab.token}")
    assert response.ok, response.status
    return dict(response.json()["content"])


def click_plot_point(page: Any, figure: Any, index: int = 0, *, label: str = "") -> None:
    """Click the ``index``-th mark (treemap box, bar, heatmap cell) of a rendered plotly
    ``figure`` where a person would, at its centre; with ``label``, the treemap box showing
    that name, on its name (a box's centre may be a child's box drawn over it)."""
    if label:
        marks = figure.locator(".slice .slicetext", has_text=label)
    else:
        marks = figure.locator(".point, .slice, .bars path")
        marks = marks if marks.count() else figure.locator(".nsewdrag")
    mark = marks.nth(index)
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    assert box is not None, "the mark is not shown"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
