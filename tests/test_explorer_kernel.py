"""The explorer in a real Jupyter kernel, driven over the widget protocol the way JupyterLab
drives it: the frontend receives the widgets' comm_open messages, then sends `update` messages
when a person clicks, and renders the state the kernel sends back."""

from __future__ import annotations

import queue
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

CODE = """
from opskit.reports.permission_audit import run_permission_audit
from opskit.widgets import explorer
run = run_permission_audit("sandbox", progress=False)
view = explorer(run)
view
"""


def _drain(client: Any, until_idle_of: str | None, timeout: float = 120) -> list[dict]:
    """IOPub messages until the request's kernel goes idle again."""
    got = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        got.append(msg)
        if (until_idle_of and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == until_idle_of):
            return got


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    manager, client = start_new_kernel(kernel_name="python3",
                                       cwd=str(tmp_path_factory.mktemp("kernel")))
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_pick_in_the_frontend_shows_who_reaches_the_folder(kernel: Any) -> None:
    msg_id = kernel.execute(CODE)
    messages = _drain(kernel, msg_id)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    models: dict[str, dict] = {}
    for m in messages:  # the frontend's copy of every model: opened, then updated
        if m["msg_type"] == "comm_open":
            models[m["content"]["comm_id"]] = dict(m["content"]["data"]["state"])
        elif m["msg_type"] == "comm_msg" and m["content"]["data"].get("method") == "update":
            models[m["content"]["comm_id"]].update(m["content"]["data"]["state"])
    shown = [m["content"]["data"] for m in messages
             if m["msg_type"] in ("display_data", "execute_result")]
    assert any("application/vnd.jupyter.widget-view+json" in data for data in shown), shown
    select = next(cid for cid, s in models.items() if s.get("_model_name") == "SelectModel")
    output = next(cid for cid, s in models.items() if s.get("_model_name") == "OutputModel")
    options = models[select]["_options_labels"]
    folder = next(o for o in options if o.startswith("/IT"))

    # The person clicks a folder: JupyterLab sends the new index on the Select's comm.
    update = kernel.session.msg("comm_msg", {"comm_id": select, "data": {
        "method": "update", "state": {"index": options.index(folder)}, "buffer_paths": []}})
    kernel.shell_channel.send(update)
    rendered = ""
    try:
        while "who reaches" not in rendered:
            msg = kernel.get_iopub_msg(timeout=60)
            if (msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == output):
                outs = msg["content"]["data"].get("state", {}).get("outputs") or []
                rendered = " ".join(o.get("data", {}).get("text/html", "") for o in outs)
    except queue.Empty:
        pytest.fail("the kernel never sent the table back to the frontend")
    assert f"who reaches {folder}" in rendered and "<table" in rendered
    assert "IT Admins" in rendered  # the department root's Owner group reaches it
