"""A deliberately unusual SCIM server on 127.0.0.1, as real servers are: a capture of a run
against it must replay to the identical inventory (issue 19).

Cloud-style (a token endpoint at /token, SCIM at /v2, the bearer token checked): integer ids
everywhere; a page cap (PAGE answers at most, fewer than asked and than the maximum its
ServiceProviderConfig advertises); no ``Resources`` on an empty page; and one 429 whose
Retry-After is an HTTP date (in the past: the retry waits for nothing, but the date is parsed),
whose detail names the service user, and whose ASP.NET-style ``Message`` names a user in upper
case and the server's host. It sends what opskit never asked for (phone numbers, titles,
addresses, the enterprise extension, a folder's description), and refers to itself by a host
name in mixed case (HOST: reach it so, see tests/test_capture.py).
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any
from urllib.parse import parse_qs

from opskit.scim import urns

from .servers import Receive, Scope, Send, read_body, send_json

TOKEN = "unusual-issued-token-5f0c9a7e"
SECRET = "unusual-client-secret-91d2"
CLIENT_ID = "svc-unusual@unusual.example"
ADVERTISED, PAGE = 50, 7
HOST = "SecretServer.Acme.localhost"  # how it names itself (the port: from the Host header)
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TYPES = {"User": "Users", "Group": "Groups", "Container": "Containers",
         "ContainerPermission": "ContainerPermissions", "PrivilegedData": "PrivilegedData",
         "PrivilegedDataPermission": "PrivilegedDataPermissions"}
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov",
          "Donald Knuth", "Frances Allen", "John Backus", "Leslie Lamport", "Margaret Hamilton",
          "Ken Thompson", "Dennis Ritchie", "Radia Perlman", "Tony Hoare", "Niklaus Wirth",
          "Katherine Johnson", "Claude Shannon", "Hedy Lamarr", "Jean Sammet", "Adele Goldberg"]


def _ref(value: int, display: str) -> dict[str, Any]:
    return {"value": value, "display": display}


class Unusual:
    """The ASGI app; ``requests`` counts what it answered, ``throttled`` the 429s it sent."""

    def __init__(self) -> None:
        users = [{"schemas": [urns.USER], "id": i, "displayName": name,
                  "userName": name.lower().replace(" ", ".") + "@unusual.example",
                  "emails": [{"value": name.split()[0].lower() + "@unusual.example",
                              "primary": True}], "externalId": f"E{1000 + i}",
                  # Never asked for (a server may ignore `attributes`), all the same a name's.
                  "title": f"{name.split()[1]} Chair of Computing",
                  "phoneNumbers": [{"value": f"+44 20 7946 {i:04d}", "type": "work"}],
                  "addresses": [{"streetAddress": f"{i} {name.split()[1]} Lane",
                                 "locality": "Cambridge", "type": "work"}],
                  ENTERPRISE: {"department": f"{name.split()[0]} Research",
                               "employeeNumber": f"N{7000 + i}",
                               "manager": {"value": 1, "displayName": PEOPLE[0]}},
                  "meta": {"resourceType": "User", "location": f"{{origin}}/v2/Users/{i}"}}
                 for i, name in enumerate(PEOPLE, 1)]
        # The service user is a user too, and the server names it when it throttles.
        users.append({"schemas": [urns.USER], "id": len(users) + 1, "userName": CLIENT_ID,
                      "displayName": "SCIM Service"})
        groups = [{"schemas": [urns.GROUP], "id": 100 + i, "displayName": name,
                   "members": [{**_ref(u["id"], u["displayName"]), "type": "User"}
                               for u in users[i::3]]}
                  for i, name in enumerate(["Finance Admins", "Payroll Readers", "DBA"])]
        folders = [{"id": 200, "name": "Payroll", "description": "Salaries of Grace Hopper"},
                   {"id": 201, "name": "Payroll Archive", "parent": _ref(200, "Payroll")},
                   {"id": 202, "name": "Databases"}]
        secrets = [{"id": 300 + i, "name": name, "type": "Password",
                    "container": _ref(folder["id"], str(folder["name"]))}
                   for i, (name, folder) in enumerate([("payroll-db sa", folders[0]),
                                                       ("archive key", folders[1]),
                                                       ("Lovelace laptop", folders[2])])]
        self.listings: dict[str, list[dict[str, Any]]] = {
            "Users": users, "Groups": groups, "Containers": folders,
            "ContainerPermissions": [
                {"id": 400, "container": _ref(200, "Payroll"), "rights": ["View", "Edit"],
                 "group": {**_ref(100, "Finance Admins"), "$ref": "{origin}/v2/Groups/100"}},
                {"id": 401, "container": _ref(201, "Payroll Archive"), "rights": ["Owner"],
                 "user": _ref(1, PEOPLE[0])}],
            "PrivilegedData": secrets, "PrivilegedDataPermissions": []}
        self.requests = 0
        self.origin = f"http://{HOST}"
        self.throttled = 0
        self._asked_second_page = 0

    def _throttle(self) -> bool:
        """Every other request for the second page of Users: each run meets one 429."""
        self._asked_second_page += 1
        if self._asked_second_page % 2:
            self.throttled += 1
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        self.requests += 1
        path = scope["path"]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        headers = dict(scope["headers"])
        port = headers.get(b"host", b"").decode().rpartition(":")[2]
        self.origin = f"http://{HOST}:{port}"
        if path == "/token":
            await self._json(send, {"access_token": TOKEN, "token_type": "Bearer",
                                    "expires_in": 3600, "scope": "xpm.platform"},
                             content_type=b"application/json")
        elif headers.get(b"authorization") != f"Bearer {TOKEN}".encode():
            await self._json(send, {"schemas": [urns.ERROR], "status": "401"}, 401)
        elif path == "/v2/ServiceProviderConfig":
            await self._json(send, {"schemas": [SPC],
                                    "filter": {"supported": True, "maxResults": ADVERTISED}})
        elif path == "/v2/ResourceTypes":
            await self._json(send, {"schemas": [urns.LIST_RESPONSE], "totalResults": len(TYPES),
                                    "Resources": [{"name": t, "endpoint": f"/{e}"}
                                                  for t, e in TYPES.items()]})
        elif path.removeprefix("/v2/") in self.listings:
            await self._page(send, path.removeprefix("/v2/"), int(query.get("startIndex", 1)),
                             int(query.get("count", 100)))
        else:
            await self._json(send, {"schemas": [urns.ERROR], "status": "404",
                                    "detail": f"{path} is not here"}, 404)

    async def _page(self, send: Send, endpoint: str, start: int, count: int) -> None:
        if endpoint == "Users" and start == PAGE + 1 and self._throttle():
            past = email.utils.formatdate(time.time() - 60, usegmt=True)
            shouted = str(self.listings["Users"][1]["userName"]).upper()
            await self._json(send, {"schemas": [urns.ERROR], "status": "429",
                                    "detail": f"rate limit exceeded for {CLIENT_ID}",
                                    "Message": f"Throttled at {self.origin} while {shouted} "
                                               f"was read"}, 429,
                             extra=[(b"retry-after", past.encode()),
                                    (b"www-authenticate", f'Bearer realm="{HOST}"'.encode())])
            return
        items = self.listings[endpoint]
        page = items[start - 1:start - 1 + min(count, PAGE)]
        body: dict[str, Any] = {"schemas": [urns.LIST_RESPONSE], "totalResults": len(items),
                                "startIndex": start, "itemsPerPage": len(page)}
        if page:  # an empty page has no Resources at all
            body["Resources"] = page
        await self._json(send, body)

    async def _json(self, send: Send, body: Any, status: int = 200, *,
                    content_type: bytes = b"application/scim+json",
                    extra: list[tuple[bytes, bytes]] | None = None) -> None:
        text = json.dumps(body).replace("{origin}", self.origin)
        await send_json(send, status, text.encode(), content_type, extra)
