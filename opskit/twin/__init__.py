"""Practice twins: a tenant's inventory snapshots turned into a tenant file the practice tenant
serves, in both flavors, so that an inventory of the twin equals the snapshots (docs/twin.md).

    from opskit.twin import make_twin, twin_text
    twin = make_twin(cloud_snapshot, onprem_snapshot, name=Pseudonyms(key).name)
    text = twin_text(twin)  # YAML; as_json=True for JSON
"""

from __future__ import annotations

from ._build import Twin, check_snapshots, make_twin
from ._file import twin_text

__all__ = ["Twin", "check_snapshots", "make_twin", "twin_text"]
