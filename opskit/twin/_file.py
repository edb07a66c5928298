"""A twin as tenant-file text, checked by the practice tenant's own loader first: a twin the
practice tenant would refuse is never written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import yaml

from ..errors import OpskitError
from ._build import Twin


def twin_text(twin: Twin, *, as_json: bool = False, pseudonymised: bool = True) -> str:
    """The tenant file of ``twin``: YAML with a header saying what it is, or JSON (written and
    read many times faster: the form for large tenants)."""
    from ..sandbox.entry import TenantFileError, parse_tenant

    try:
        parse_tenant(twin.data, "<twin>")
    except TenantFileError as exc:
        where, problem = exc.problems[0]
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        raise OpskitError(f"the twin would not load in the practice tenant: {where}: "
                          f"{problem}{more}",
                          "see docs/twin.md (What a twin cannot copy) for what a tenant file "
                          "cannot hold; anything else, report with the snapshots' manifest.json "
                          "files (counts, no names)") from None
    if as_json:
        return json.dumps(twin.data, ensure_ascii=False, indent=1) + "\n"
    made = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    names = ("names pseudonymised (the key stays with the operator)" if pseudonymised
             else "REAL NAMES KEPT (--keep-names)")
    header = (f"# opskit practice twin of tenant '{twin.data['tenant']}', made {made}: {names}."
              "\n# Its credentials were made for it, for practice; serve it with: opskit sandbox "
              "serve --data FILE (docs/twin.md)\n")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml where installed
    return header + yaml.dump(twin.data, Dumper=dumper, sort_keys=False, allow_unicode=True,
                              width=1 << 16, default_flow_style=None)  # a record a line
