"""Writes the runner's test notebooks; run `python tests/notebooks/build.py` after a change.

Each is small and does one thing the runner must handle; all follow the notebook conventions
(title, one cell tagged `parameters` with a `profile`, body, record()).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
# A made-up token in JWT shape ({"alg":"HS256"}.{"sub":"test"}.signature-value).
FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLXZhbHVl"
CODE_MARKER = "CODE-MARKER-5c1d"  # appears only in code cells: a report must not show it


def parameters(source: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def notebook(title: str, *cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}"), *cells] if title else list(cells))
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    return nb


NOTEBOOKS = {
    "findings": notebook(
        "Findings of each severity",
        parameters('profile = "sandbox"\nseverities = "critical,high,medium,low,info"\n'
                   "per_severity: int = 1  # findings of each listed severity"),
        new_code_cell(f"# {CODE_MARKER}\nfrom opskit.report import Finding, record, setup\n\n"
                      "setup()"),
        new_code_cell("findings = [\n"
                      "    Finding(f'TEST_{s.upper()}', s, f'subject-{s}-{i}', f'a {s} finding',\n"
                      "            f'fix the {s} thing')\n"
                      "    for s in severities.split(',') if s for i in range(per_severity)\n"
                      "]\n"
                      "print(f'{len(findings)} findings on {profile}')"),
        new_code_cell("record(findings, {'findings': len(findings)})"),
    ),
    "fails": notebook(
        "A cell that raises",
        parameters('profile = "sandbox"'),
        new_code_cell(f"# {CODE_MARKER}\nprint('before the failure')"),
        new_code_cell("raise RuntimeError('tenant exploded: reason XYZ')"),
        new_code_cell("from opskit.report import record\n\nrecord([])"),
    ),
    "figure": notebook(
        "A plotly figure",
        parameters('profile = "sandbox"'),
        new_code_cell(f"# {CODE_MARKER}\nimport plotly.graph_objects as go\n\n"
                      "from opskit.report import record, setup\n\nsetup()"),
        new_code_cell("fig = go.Figure(go.Bar(x=['a', 'b'], y=[1, 2]))\n"
                      "fig.update_layout(title='Opskit test figure')\nfig.show()"),
        new_code_cell("fig  # shown twice: plotly.js must still be embedded once"),
        new_code_cell("record([])"),
    ),
    "empty": notebook("", parameters('profile = "sandbox"')),
    "environment": notebook(
        "A notebook that shows everything it can reach",
        parameters('profile = "sandbox"'),
        new_code_cell("import os\n\nfrom opskit.report import record\n\n"
                      "for name, value in sorted(os.environ.items()):\n"
                      "    print(f'{name}={value}')\n"
                      "peek = os.environ.get('OPSKIT_TEST_PEEK')\n"
                      "if peek:  # a file another tenant's profile names as its secret\n"
                      "    print('peeked:', open(peek).read())\n"
                      "record([], {'variables': len(os.environ)})"),
    ),
    "leaky": notebook(
        "A notebook that leaks its profile's secret and a token",
        parameters('profile = "sandbox"'),
        new_code_cell("import os\n\nfrom IPython.display import HTML, display\n\n"
                      "from opskit.report import Finding, record\n\n"
                      "secret = os.environ['OPSKIT_TEST_SECRET']\n"
                      # Built at run time, so the token is in outputs only, not in the code.
                      f"jwt = '.'.join({FAKE_JWT.split('.')!r})\n"
                      "print('the secret is', secret)\n"
                      "print('Authorization: Bearer ' + jwt)\n"
                      "display(HTML(f'<b>{secret}</b> <i>{jwt}</i>'))\n"
                      "record([Finding('LEAK', 'low', secret, f'token {jwt}')], "
                      "{'secret': secret})"),
        new_code_cell("raise ValueError(f'cannot use {secret} with {jwt}')"),
    ),
    "trend": notebook(
        "Findings and coverage given by parameters (the index's trends)",
        parameters('profile = "sandbox"\nhigh: int = 0\nlow: int = 0\n'
                   "coverage: float = -1.0  # below 0: not measured"),
        new_code_cell("from opskit.report import Finding, record\n\n"
                      "findings = [Finding('TREND_HIGH', 'high', f'h{i}', 'a high one')\n"
                      "            for i in range(high)]\n"
                      "findings += [Finding('TREND_LOW', 'low', f'l{i}', 'a low one')\n"
                      "             for i in range(low)]\n"
                      "record(findings, {'folder_share': coverage} if coverage >= 0 else {})"),
    ),
    "reach": notebook(
        "Reach the profile's tenant",
        parameters('profile = "sandbox"'),
        new_code_cell("import httpx\n\nfrom opskit.config import get_profile\n"
                      "from opskit.report import Finding, record\n\n"
                      "tenant = get_profile(profile)\n"
                      "# A closed port raises here: the run fails (exit 2).\n"
                      "answer = httpx.get(tenant.base_url + '/ServiceProviderConfig', timeout=10)"),
        new_code_cell("record([Finding('TENANT_REACHED', 'info', tenant.name, "
                      "f'HTTP {answer.status_code}')])"),
    ),
}


# The fleet's: a tenant's token check (refused for a profile named refused*), a kernel that
# dies at its start (a kernelspec tests/test_fleet.py installs), one that dies in a cell, and
# one that sleeps as long as OPSKIT_TEST_SLEEP says.
FLAKY_KERNEL = "opskit-test-flaky"
FLEET_NOTEBOOKS = {
    "token_check": notebook(
        "A token check that refuses profiles named refused*",
        parameters('profile = "sandbox"'),
        new_code_cell("from opskit.report import Finding, record\n\n"
                      "record([Finding('TOKEN_REFUSED', 'critical', profile, 'refused')]\n"
                      "       if profile.startswith('refused') else [])"),
    ),
    "flaky_kernel": notebook("", parameters('profile = "sandbox"'),
                             new_code_cell("from opskit.report import record\n\nrecord([])")),
    "kills_kernel": notebook(
        "A cell that kills its own kernel",
        parameters('profile = "sandbox"'),
        new_code_cell("import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)"),
    ),
    "sleeps": notebook(
        "A cell that sleeps",
        parameters('profile = "sandbox"'),
        new_code_cell("import os\nimport time\n\nfrom opskit.report import record\n\n"
                      "if os.environ.get('OPSKIT_TEST_PIDFILE'):\n"
                      "    with open(os.environ['OPSKIT_TEST_PIDFILE'], 'w') as f:\n"
                      "        f.write(str(os.getpid()))\n"
                      "time.sleep(float(os.environ.get('OPSKIT_TEST_SLEEP', '0')))\n"
                      "record([])"),
    ),
}
FLEET_NOTEBOOKS["flaky_kernel"].metadata["kernelspec"] = {
    "name": FLAKY_KERNEL, "display_name": "dies at its first start", "language": "python"}


def main() -> None:
    for name, nb in NOTEBOOKS.items():
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
    (HERE / "fleet").mkdir(exist_ok=True)
    for name, nb in FLEET_NOTEBOOKS.items():
        nbformat.validate(nb)
        nbformat.write(nb, HERE / "fleet" / f"{name}.ipynb")


if __name__ == "__main__":
    main()
