"""A short guided look at a practice tenant: token, then what each flavor serves."""

from __future__ import annotations

from pathlib import Path

import httpx

from .serve import running
from .store import ENDPOINTS
from .tenantfile import load_tenant


def tour(data: Path) -> int:
    tf = load_tenant(data)
    sa = tf.service_account
    with running(tf) as sb, httpx.Client(timeout=30) as http:
        print(f"practice tenant {tf.tenant!r} running at {sb.url}")
        form = {"grant_type": "client_credentials", "client_id": sa.client_id,
                "client_secret": sa.client_secret, "scope": "xpm.platform"}
        r = http.post(sb.token_url, data=form)
        r.raise_for_status()
        token = r.json()
        print(f"token issued to {sa.client_id}: type {token['token_type']}, "
              f"scope {token['scope']}, expires in {token['expires_in']} s")
        flavors = {"cloud (service account view)": (sb.cloud_url, token["access_token"]),
                   "on-prem (application account view)": (sb.onprem_url, tf.onprem.token)}
        print(f"\n{'resource':<26}" + "".join(f"{name:>38}" for name in flavors))
        for endpoint in ENDPOINTS.values():
            counts = []
            for base, bearer in flavors.values():
                r = http.get(f"{base}/{endpoint}", params={"count": 0},
                             headers={"Authorization": f"Bearer {bearer}"})
                r.raise_for_status()
                counts.append(r.json()["totalResults"])
            print(f"{endpoint:<26}" + "".join(f"{c:>38,}" for c in counts))
        print("\nThe cloud view shows only folders and secrets the service account owns (FAQ);")
        print("the on-prem view hides disabled users and groups not in Secret Server.")
    print("practice tenant stopped")
    return 0
