"""Demo data for the practice tenant: a realistic company with planted problems.

``generate(scale, seed)`` builds tenant-file data (plain dicts and lists, the shape that
``tenantfile.parse_tenant`` accepts) for the company *acme*: departments with teams, people in
team groups, a folder tree department → team → environment with secrets, and an IGA's view of
the groups. Scale 1 is about 200 users, 100 folders and 1,000 secrets; scale N is N times that.

On top of a clean baseline the generator plants the problems the audit notebooks exist to find
(folders the service account cannot see, a grant to a disabled user, an IGA group whose name
differs only in case, ...). ``expected_findings(data)`` then derives the findings from the data
itself, so the list is complete by construction, not a record of what was meant to be planted.
``write_demo`` writes ``tenant.yaml``, ``iga_export.csv`` and ``expected_findings.json``, each
atomically. ``docs/demo-data.md`` describes the files and every planted problem.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import itertools
import json
import os
import random
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from .tenantfile import derived_secret_role

TENANT = "acme"
DOMAIN = f"{TENANT}.com"
SERVICE_USER = "u-scim"
SERVICE_USER_NAME = f"scim.integration@{DOMAIN}"
SCIM_OWNERS = "SCIM Owners"
# When the groups that missed their Platform Groups Sync were made: long before any demo runs.
MISSED_SYNC_CREATED = "2024-01-08T09:00:00Z"

TENANT_FILE = "tenant.yaml"
IGA_EXPORT = "iga_export.csv"
FINDINGS_FILE = "expected_findings.json"

IGA_SOURCE = "Delinea Platform (SCIM)"
IGA_ATTRIBUTE = "groups"
IGA_COLUMNS = (
    "Identity Name",
    "Email",
    "Source Name",
    "Entitlement Attribute",
    "Entitlement Value",
    "Entitlement Display Name",
)

# The order findings are listed in, and the order docs/demo-data.md describes them.
FINDING_CODES = (
    "PARTIAL_FOLDER_VISIBILITY",
    "NO_VISIBLE_SECRETS",
    "FOLDER_NOT_VISIBLE",
    "SECRETS_NOT_VISIBLE",
    "SECRET_NOT_OWNED",
    "FOLDER_WITHOUT_OWNER",
    "GRANT_TO_DISABLED_USER",
    "GRANT_TO_EMPTY_GROUP",
    "RIGHTS_TRUNCATED",
    "DIRECT_USER_GRANT",
    "GROUP_NOT_IN_SECRET_SERVER",
    "GROUP_SYNC_PENDING",
    "GROUP_NOT_ON_PLATFORM",
    "GROUP_NOT_IN_IGA",
    "GROUP_NAME_MISMATCH",
    "GROUP_MEMBERSHIP_DIFFERS",
)

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dept:
    name: str
    code: str  # short code used in host names
    weight: int  # share of the teams (and so of people and folders)
    technical: bool  # technical teams get Prod/Test/Dev folders, the others business folders
    teams: tuple[str, ...]
    apps: tuple[str, ...]  # web applications the department keeps passwords for


_DEPTS = (
    _Dept("IT", "it", 18, True,
          ("Infrastructure", "Networking", "Databases", "Service Desk", "Identity", "Messaging",
           "Storage", "Backup", "Virtualization", "End User Computing", "Monitoring", "Cloud"),
          ("vCenter", "Azure Portal", "AWS Console", "ServiceNow", "Intune", "Okta Admin")),
    _Dept("Engineering", "eng", 22, True,
          ("Platform", "Payments", "Mobile", "Web", "Data", "Search", "Billing", "DevOps", "QA",
           "Integrations", "Machine Learning", "API Gateway"),
          ("GitHub", "Jenkins", "Artifactory", "Datadog", "PagerDuty", "Docker Hub")),
    _Dept("Security", "sec", 6, True,
          ("SOC", "PKI", "Vulnerability Management", "Incident Response", "Identity Governance"),
          ("Splunk", "CrowdStrike", "Qualys", "SailPoint", "Proofpoint")),
    _Dept("Operations", "ops", 10, True,
          ("Facilities", "Logistics", "Supply Chain", "Warehouse", "Fleet", "Manufacturing"),
          ("SAP Logon", "Building Access", "Fleet Tracker", "UPS Portal", "Maximo")),
    _Dept("Finance", "fin", 10, False,
          ("Accounts Payable", "Accounts Receivable", "Payroll", "Treasury", "Tax", "FP&A",
           "Procurement", "Internal Audit"),
          ("Bank Portal", "ADP", "Coupa", "Concur", "NetSuite", "Avalara")),
    _Dept("HR", "hr", 6, False,
          ("Recruiting", "Benefits", "HRIS", "Learning", "Employee Relations"),
          ("Workday", "Greenhouse", "LinkedIn Recruiter", "Benefits Portal", "Cornerstone")),
    _Dept("Sales", "sales", 14, False,
          ("Sales Operations", "Inside Sales", "Partners", "Pre-Sales", "Enterprise Accounts",
           "CRM"),
          ("Salesforce", "Gong", "ZoomInfo", "DocuSign", "Partner Portal")),
    _Dept("Marketing", "mkt", 6, False,
          ("Web Content", "Analytics", "Social Media", "Events", "Brand"),
          ("WordPress", "Google Analytics", "HubSpot", "Hootsuite", "Canva")),
    _Dept("Legal", "legal", 3, False,
          ("Contracts", "Compliance", "Privacy"),
          ("Ironclad", "OneTrust", "Westlaw")),
    _Dept("Customer Support", "cs", 5, False,
          ("Tier 1", "Tier 2", "Tooling", "Knowledge Base"),
          ("Zendesk", "Statuspage", "Twilio", "Intercom")),
)

# Large companies have the same team in several places; the site qualifies the team's name.
_SITES = (
    "London", "Berlin", "Chicago", "Singapore", "Sydney", "Toronto", "Mumbai", "São Paulo",
    "Tokyo", "Dublin", "Austin", "Paris", "Madrid", "Warsaw", "Prague", "Seattle", "Denver",
    "Atlanta", "Boston", "Dallas", "Amsterdam", "Zurich", "Milan", "Stockholm", "Oslo",
    "Helsinki", "Copenhagen", "Vienna", "Lisbon", "Manila", "Seoul", "Auckland", "Cape Town",
    "Nairobi", "Dubai", "Mexico City", "Bogotá", "Santiago", "Montreal", "Vancouver",
)

_FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark",
    "Sandra", "Paul", "Ashley", "Steven", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
    "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Timothy", "Deborah", "Ryan",
    "Laura", "Jacob", "Rebecca", "Nicholas", "Sharon", "Eric", "Cynthia", "Jonathan", "Amy",
    "Stephen", "Anna", "Larry", "Angela", "Justin", "Helen", "Scott", "Olivia", "Brandon",
    "Emma", "Benjamin", "Sophia", "Samuel", "Grace", "Alexander", "Chloe", "Patrick", "Isabel",
    "Raymond", "Hannah", "Frank", "Julia", "Gregory", "Victoria", "Priya", "Aisha", "Wei",
    "Mei", "Hiroshi", "Yuki", "Arjun", "Fatima", "Omar", "Leila", "Mateo", "Lucía", "José",
    "Sofía", "Chiara", "Luca", "Björn", "Ingrid", "Zoë", "Noémie", "François", "Søren",
    "Dmitri", "Olga", "Kwame", "Amara", "Chen", "Ravi", "Ananya", "Tomasz", "Agnieszka",
    "Siobhán", "Seán", "Niamh", "Ahmed", "Yara", "Kenji", "Min-jun", "Ji-woo", "Thabo",
)

_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Shah", "Kumar", "Singh",
    "Chen", "Wang", "Li", "Zhang", "Liu", "Tanaka", "Suzuki", "Sato", "Kim", "Park", "Choi",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Rossi", "Russo", "Ferrari", "Dubois",
    "Lefèvre", "Moreau", "García", "Fernández", "González", "Pérez", "Novák", "Kowalski",
    "Nowak", "Wiśniewski", "Andersson", "Johansson", "Nielsen", "Jensen", "Hansen", "Larsen",
    "O'Brien", "O'Connor", "Murphy", "Kelly", "Byrne", "Ng", "Okafor", "Mensah", "Osei",
    "Haddad", "Khalil", "Ivanov", "Petrova", "Silva", "Santos", "Oliveira", "Costa",
)

_ENVS = (("Prod", "prd"), ("Test", "tst"), ("Dev", "dev"), ("Staging", "stg"))
_PROD_SUBFOLDERS = ("Databases", "Servers", "Network Devices", "Service Accounts", "Certificates")
_BUSINESS_SUBFOLDERS = ("Applications", "Vendor Portals", "Shared Mailboxes", "Reports", "Archive")
_EMPTY_GROUP_NAMES = ("Project Phoenix", "Legacy Contractors", "Audit 2019", "Migration Wave 2",
                      "Offboarded Vendors", "Temp Access", "Pilot Users", "M&A Integration")
_WEB_ROLES = ("admin", "service user", "integration user", "billing", "read-only", "API key")
_SERVICES = ("backup", "sql", "iis", "sched", "etl", "report", "deploy", "monitor", "sync", "web")

# Secret templates by kind of folder; weights favour what such teams really keep.
_TECH_TEMPLATES = (("Windows Account", 5), ("Unix Account (SSH)", 5), ("SQL Server Account", 4),
                   ("Active Directory Account", 4), ("Web Password", 3), ("Oracle Account", 1),
                   ("Cisco Account (SSH / Telnet)", 1))
_BUSINESS_TEMPLATES = (("Web Password", 8), ("Active Directory Account", 2), ("Password", 2),
                       ("Windows Account", 1), ("SQL Server Account", 1))

# --------------------------------------------------------------------------------------------
# The company as it is built (objects; serialised to tenant-file dicts at the end)
# --------------------------------------------------------------------------------------------


@dataclass
class _Grant:
    kind: str  # "user" | "group"
    pid: str
    rights: list[str]
    secret_role: str | None = None  # None: derived from the folder role (tenant-file.md)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: self.pid, "rights": list(self.rights)}
        if self.secret_role is not None:
            out["secret_role"] = self.secret_role
        return out


@dataclass(eq=False)
class _Team:
    dept: _Dept
    name: str
    users: list[dict[str, Any]] = field(default_factory=list)
    group: dict[str, Any] = field(default_factory=dict)
    folder: _Folder | None = None


@dataclass(eq=False)
class _Folder:
    name: str
    parent: _Folder | None
    kind: str  # root | team | env | sub | special
    dept: _Dept | None = None
    team: _Team | None = None
    env: str = "prd"
    inherit: bool = True
    grants: list[_Grant] = field(default_factory=list)
    children: list[_Folder] = field(default_factory=list)
    owner_group: str = ""  # group id that owns the folder's department (or area)
    user_group: str = ""  # group id of the people who work in it
    id: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        self.path = f"{self.parent.path if self.parent else ''}/{self.name}"
        if self.parent is not None:
            self.parent.children.append(self)

    def walk(self) -> Iterator[_Folder]:
        yield self
        for child in self.children:
            yield from child.walk()

    def effective(self) -> list[_Grant]:
        f = self
        while f.inherit and f.parent is not None:
            f = f.parent
        return f.grants


# Letters that Unicode does not decompose into a base letter plus an accent.
_TRANSLITERATE = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ł": "l",
                                "Ł": "L", "đ": "d", "Đ": "D", "þ": "th"})


def _ascii(name: str) -> str:
    """'Lefèvre' → 'lefevre', "O'Brien" → 'obrien': the part of an address made from a name."""
    plain = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    plain = plain.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9-]", "", plain.lower())


# Leavers' grants one folder may hold. Most land on a department's root, which every folder of
# the department inherits: unbounded, a root's grants grew with the scale and the listed folder
# permissions with its square (6.3 million at scale 1,000). Up to scale 100 no folder holds more
# than 21, so smaller tenants are what they were.
LEAVERS_PER_FOLDER = 24


class _Builder:
    """Builds one company; every random choice comes from one seeded generator, in one order."""

    def __init__(self, scale: int, seed: int) -> None:
        self.scale = scale
        # A string seed is hashed with SHA-512 by random, so it is stable across runs and hosts.
        self.rng = random.Random(f"opskit-demodata/{scale}/{seed}")
        # Secret roles draw from a generator of their own, so the rest of the company stays
        # what it was before they were planted.
        self.secret_rng = random.Random(f"opskit-demodata/{scale}/{seed}/secret-roles")
        self.users: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = []
        self.roots: list[_Folder] = []
        self.teams: list[_Team] = []
        self.dept_staff: dict[str, dict[str, Any]] = {}
        self.dept_admins: dict[str, dict[str, Any]] = {}
        self.dept_users: dict[str, list[dict[str, Any]]] = {}
        self.secrets: list[dict[str, Any]] = []
        self.iga: list[dict[str, Any]] = []
        # The three company-wide groups, made first by make_tree.
        self.scim_owners: dict[str, Any] = {}
        self.ss_admins: dict[str, Any] = {}
        self.all_staff: dict[str, Any] = {}

    # ---- people ------------------------------------------------------------------------------

    def make_users(self) -> None:
        self.users.append({"id": SERVICE_USER, "userName": SERVICE_USER_NAME,
                           "displayName": "SCIM Service", "active": True})
        taken: dict[str, int] = {}
        for i in range(1, 200 * self.scale + 1):
            first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
            base = f"{_ascii(first)}.{_ascii(last)}"
            taken[base] = taken.get(base, 0) + 1
            # Names never contain digits, so 'ann.lee2' cannot collide with another person's base.
            local = base if taken[base] == 1 else f"{base}{taken[base]}"
            address = f"{local}@{DOMAIN}"
            self.users.append({"id": f"u{i}", "userName": address,
                               "displayName": f"{first} {last}", "active": True,
                               "email": address})
        people = self.users[1:]
        # About 3% are leavers whose accounts were disabled but not yet removed.
        for user in self.rng.sample(people, max(3, len(people) * 3 // 100)):
            user["active"] = False

    def active(self, users: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [u for u in users if u["active"]]

    # ---- groups ------------------------------------------------------------------------------

    def add_group(self, name: str, members: list[str] | None = None,
                  **flags: bool) -> dict[str, Any]:
        group: dict[str, Any] = {"id": f"g{len(self.groups) + 1}", "displayName": name,
                                 "members": list(members or [])}
        group.update(flags)
        self.groups.append(group)
        return group

    # ---- folder tree -------------------------------------------------------------------------

    def make_tree(self) -> None:
        target = 100 * self.scale
        self.scim_owners = self.add_group(SCIM_OWNERS, [SERVICE_USER])
        self.ss_admins = self.add_group("Secret Server Admins")
        self.all_staff = self.add_group("All Staff")
        for dept in _DEPTS:
            self.dept_staff[dept.name] = self.add_group(f"{dept.name} Staff")
            self.dept_admins[dept.name] = self.add_group(f"{dept.name} Admins")
            root = _Folder(dept.name, None, "root", dept=dept, inherit=False,
                           owner_group=self.dept_admins[dept.name]["id"],
                           user_group=self.dept_staff[dept.name]["id"])
            self.roots.append(root)
        self.make_special_roots()
        names = {d.name: self.team_names(d) for d in _DEPTS}
        count = sum(1 for r in self.roots for _ in r.walk())
        # Every department gets a team; then teams go to whichever department is furthest
        # below its share, until the folder budget is spent.
        per_dept = dict.fromkeys(names, 0)
        roots = {r.name: r for r in self.roots}
        while True:
            if min(per_dept.values()) == 0:
                dept = next(d for d in _DEPTS if per_dept[d.name] == 0)
            elif count >= target:
                break
            else:
                dept = min(_DEPTS, key=lambda d: (per_dept[d.name] + 1) / d.weight)
            per_dept[dept.name] += 1
            count += self.make_team(dept, next(names[dept.name]), roots[dept.name])

    def team_names(self, dept: _Dept) -> Iterator[str]:
        bases = list(dept.teams)
        self.rng.shuffle(bases)
        yield from bases
        sites = list(_SITES)
        self.rng.shuffle(sites)
        round_ = 1
        while True:  # more teams than names: qualify by site, then by site and number
            for site in sites:
                for base in bases:
                    yield f"{base} ({site})" if round_ == 1 else f"{base} ({site} {round_})"
            round_ += 1

    def make_special_roots(self) -> None:
        it_admins = self.dept_admins["IT"]["id"]
        ops = self.dept_admins["Operations"]["id"]
        shared = _Folder("Shared", None, "special", inherit=False, owner_group=it_admins,
                         user_group=self.all_staff["id"])
        # Break Glass is deliberately kept from everyone but the vault's own admins, including
        # the SCIM service account: a natural FOLDER_NOT_VISIBLE at the top level.
        glass = _Folder("Break Glass", None, "special", inherit=False,
                        owner_group=self.ss_admins["id"], user_group=self.ss_admins["id"])
        vendors = _Folder("Vendors", None, "special", inherit=False, owner_group=ops,
                          user_group=self.dept_staff["Operations"]["id"])
        for parent, kids in ((shared, ("Wi-Fi", "Printers", "Meeting Rooms")),
                             (glass, ("Domain", "Firewalls", "Cloud Root Accounts")),
                             (vendors, ("Logistics Partners", "Software Licenses"))):
            for name in kids:
                _Folder(name, parent, "sub", owner_group=parent.owner_group,
                        user_group=parent.user_group)
        self.roots += [shared, glass, vendors]

    def make_team(self, dept: _Dept, name: str, root: _Folder) -> int:
        """Create a team and its folder subtree; return how many folders were added."""
        team = _Team(dept, name)
        self.teams.append(team)
        rng = self.rng
        top = _Folder(name, root, "team", dept=dept, team=team, owner_group=root.owner_group)
        team.folder = top
        if dept.technical:
            envs = [_ENVS[0], _ENVS[1]]
            if rng.random() < 0.7:
                envs.append(_ENVS[2])
            if rng.random() < 0.2:
                envs.append(_ENVS[3])
            for env_name, code in envs:
                env = _Folder(env_name, top, "env", dept=dept, team=team, env=code,
                              owner_group=root.owner_group)
                if code == "prd":
                    for sub in rng.sample(_PROD_SUBFOLDERS, rng.choice((0, 1, 1, 2))):
                        _Folder(sub, env, "sub", dept=dept, team=team, env=code,
                                owner_group=root.owner_group)
        else:
            for sub in rng.sample(_BUSINESS_SUBFOLDERS, rng.choice((1, 2, 2, 3))):
                area = _Folder(sub, top, "sub", dept=dept, team=team,
                               owner_group=root.owner_group)
                if sub == "Applications" and rng.random() < 0.5:
                    for env_name, code in _ENVS[:2]:
                        _Folder(env_name, area, "env", dept=dept, team=team, env=code,
                                owner_group=root.owner_group)
        return sum(1 for _ in top.walk())

    # ---- people into teams and groups --------------------------------------------------------

    def staff_teams(self) -> None:
        people = self.users[1:]
        self.rng.shuffle(people)
        # Two people per team first (so every team group has members to compare), then the
        # rest spread unevenly, as real teams are.
        for i, team in enumerate(self.teams):
            team.users += people[2 * i:2 * i + 2]
        sizes = [self.rng.choice((1, 2, 3)) for _ in self.teams]
        # The running sums once, not per person (what `weights=` redoes on every call, which
        # made this quadratic: minutes at scale 1,000); the draws are the same.
        cumulative = list(itertools.accumulate(sizes))
        for user in people[2 * len(self.teams):]:
            self.rng.choices(self.teams, cum_weights=cumulative)[0].users.append(user)
        for team in self.teams:
            team.users.sort(key=lambda u: int(u["id"][1:]))
            self.dept_users.setdefault(team.dept.name, []).extend(team.users)
            # 'Sales Operations', not 'Sales Sales Operations'.
            prefix = "" if team.name.startswith(f"{team.dept.name} ") else f"{team.dept.name} "
            team.group = self.add_group(f"{prefix}{team.name}", [u["id"] for u in team.users])
            for f in team.folder.walk() if team.folder else ():
                f.user_group = team.group["id"]
        for dept in _DEPTS:
            staff = self.active(self.dept_users[dept.name])
            leads = self.rng.sample(staff, min(len(staff), self.rng.choice((1, 2, 3))))
            admins = self.rng.sample(staff, min(len(staff), self.rng.choice((2, 3))))
            # Department groups nest the team groups: membership is expanded transitively.
            self.dept_staff[dept.name]["members"] = (
                [u["id"] for u in leads]
                + [t.group["id"] for t in self.teams if t.dept is dept])
            self.dept_admins[dept.name]["members"] = [u["id"] for u in admins]
        self.all_staff["members"] = [self.dept_staff[d.name]["id"] for d in _DEPTS]
        it_people = self.active(self.dept_users["IT"])
        self.ss_admins["members"] = [u["id"] for u in self.rng.sample(it_people, 3)]

    # ---- permissions -------------------------------------------------------------------------

    def sa_grant(self, direct: bool | None = None) -> _Grant:
        """The service account's Owner grant: mostly through SCIM Owners, sometimes direct."""
        if direct is None:
            direct = self.rng.random() < 0.3
        if direct:
            return _Grant("user", SERVICE_USER, ["Owner"])
        return _Grant("group", self.scim_owners["id"], ["Owner"])

    def lead_of(self, team: _Team) -> dict[str, Any]:
        return self.active(team.users)[0] if self.active(team.users) else team.users[0]

    def grant_folders(self) -> None:
        rng = self.rng
        # Exactly three departments grant the service account directly, so both ways always
        # occur at the top level whatever the seed.
        direct = set(rng.sample([r.name for r in self.roots if r.kind == "root"], 3))
        for root in self.roots:
            if root.kind == "root":
                root.grants = [_Grant("group", root.owner_group, ["Owner"]),
                               self.sa_grant(direct=root.name in direct),
                               _Grant("group", root.user_group, ["View"])]
                head = self.dept_staff[root.name]["members"][0]
                # A department head who insisted on a personal grant (leads come first).
                if head.startswith("u") and rng.random() < 0.3:
                    root.grants.append(_Grant("user", head, ["Owner"]))
            for f in root.walk():
                if f.kind == "team" and rng.random() < 0.3:
                    self.break_inheritance(f, direct=rng.random() < 0.25, right="Edit")
                elif f.kind == "env" and f.env == "prd" and rng.random() < 0.35:
                    self.break_inheritance(f, direct=rng.random() < 0.15, right="View")
        shared, glass, vendors = self.roots[-3:]
        shared.grants = [_Grant("group", shared.owner_group, ["Owner"]), self.sa_grant(False),
                         _Grant("group", shared.user_group, ["View"])]
        glass.grants = [_Grant("group", glass.owner_group, ["Owner"])]
        # The IGA sent the service account's grant as [View, Owner]; the cloud keeps only View,
        # so the folder is hidden: RIGHTS_TRUNCATED and FOLDER_NOT_VISIBLE on one folder.
        vendors.grants = [_Grant("user", SERVICE_USER, ["View", "Owner"]),
                          _Grant("group", vendors.owner_group, ["Owner"]),
                          _Grant("group", vendors.user_group, ["View"])]

    def break_inheritance(self, f: _Folder, direct: bool, right: str) -> None:
        """Give a folder its own permissions, as Secret Server does: the owners are copied."""
        f.inherit = False
        f.grants = [_Grant("group", f.owner_group, ["Owner"]), self.sa_grant(),
                    _Grant("group", f.user_group, ["Edit"])]
        if direct and f.team is not None:
            f.grants.append(_Grant("user", self.lead_of(f.team)["id"], [right]))

    # ---- planted problems --------------------------------------------------------------------

    def count(self, per_scale: float, least: int = 1) -> int:
        return max(least, round(per_scale * self.scale))

    def all_folders(self) -> list[_Folder]:
        return [f for r in self.roots for f in r.walk()]

    def visible(self, f: _Folder) -> bool:
        sa = {("user", SERVICE_USER), ("group", self.scim_owners["id"])}
        return any(g.rights[0] == "Owner" and (g.kind, g.pid) in sa for g in f.effective())

    def quiet_subtree_candidates(self, used: set[int]) -> list[_Folder]:
        """Visible department folders below the root whose descendants all inherit.

        Re-permissioning such a folder changes exactly its own subtree, so a planted problem
        never makes a deeper, separately permissioned folder visible inside a hidden one.
        """
        return [f for f in self.all_folders()
                if f.kind in ("team", "env", "sub") and f.team is not None and id(f) not in used
                and self.visible(f) and all(c.inherit for c in list(f.walk())[1:])]

    def pick_apart(self, pool: list[_Folder], n: int, used: set[int]) -> list[_Folder]:
        """Up to n folders from pool, none inside another, none inside or above a used one.

        Each planted folder is then the root of its own problem subtree, and counts come out
        as planned (a hidden folder inside another hidden one would not be a separate root).
        """
        chosen: list[_Folder] = []
        for f in self.rng.sample(pool, len(pool)):
            if len(chosen) >= n:
                break
            if id(f) in used:
                continue
            chosen.append(f)
            used.update(id(d) for d in f.walk())
            p = f.parent
            while p is not None:
                used.add(id(p))
                p = p.parent
        return chosen

    def plant(self) -> None:
        rng = self.rng
        used: set[int] = set()
        # FOLDER_NOT_VISIBLE deep in the tree: someone broke inheritance and left out the
        # service account. Chosen first so later plants land only on visible folders.
        for f in self.pick_apart(self.quiet_subtree_candidates(used), self.count(1.0), used):
            f.inherit = False
            f.grants = [_Grant("group", f.owner_group, ["Owner"]),
                        _Grant("group", f.user_group, ["Edit"])]
        # FOLDER_WITHOUT_OWNER: the only Owner left is the service account.
        for f in self.pick_apart(self.quiet_subtree_candidates(used), self.count(0.5),
                                  used):
            f.inherit = False
            f.grants = [self.sa_grant(), _Grant("group", f.user_group, ["Edit"])]
        own = [f for f in self.all_folders() if not f.inherit and self.visible(f)
               and f.kind != "special"]
        self.plant_disabled_grants(own)
        # GRANT_TO_EMPTY_GROUP: project groups emptied long ago but still granted.
        for i, f in enumerate(self.rng.sample(own, min(len(own), self.count(0.5)))):
            base = _EMPTY_GROUP_NAMES[i % len(_EMPTY_GROUP_NAMES)]
            round_ = i // len(_EMPTY_GROUP_NAMES)
            suffix = f" {round_ + 1}" if round_ else ""
            name = f"{f.dept.name if f.dept else 'IT'} {base}{suffix}"
            empty = self.add_group(name, [])
            f.grants.append(_Grant("group", empty["id"], [rng.choice(("View", "Edit"))]))
        # RIGHTS_TRUNCATED: a group grant sent as [View, Edit]; the cloud keeps View.
        editable = [f for f in own if any(g.rights == ["Edit"] and g.kind == "group"
                                          for g in f.grants)]
        for f in self.rng.sample(editable, min(len(editable), self.count(1.0))):
            grant = next(g for g in f.grants if g.rights == ["Edit"] and g.kind == "group")
            grant.rights = ["View", "Edit"]

    def plant_disabled_grants(self, own: list[_Folder]) -> None:
        """GRANT_TO_DISABLED_USER: a leaver keeps a direct grant on their team's folder."""
        disabled = [u for u in self.users if not u["active"]]
        team_of = {u["id"]: t for t in self.teams for u in t.users}
        own_ids = {id(f) for f in own}
        planted = 0
        on: dict[int, int] = {}  # leavers' grants per folder
        for user in self.rng.sample(disabled, len(disabled)):
            team = team_of.get(user["id"])
            f = team.folder if team else None
            while f is not None and f.inherit:
                f = f.parent
            if f is None or id(f) not in own_ids:
                continue
            if any(g.kind == "user" and g.pid == user["id"] for g in f.grants):
                continue
            if on.get(id(f), 0) >= LEAVERS_PER_FOLDER:
                continue
            f.grants.append(_Grant("user", user["id"], [self.rng.choice(("View", "Edit"))]))
            on[id(f)] = on.get(id(f), 0) + 1
            planted += 1
            if planted >= self.count(1.0):
                break

    # ---- secrets -----------------------------------------------------------------------------

    def make_secrets(self) -> None:
        rng = self.rng
        folders = self.all_folders()
        weight = {"root": 1, "special": 2, "team": 2, "env": 5, "sub": 4}
        picks = rng.choices(range(len(folders)), weights=[weight[f.kind] for f in folders],
                            k=1000 * self.scale)
        per_folder = [0] * len(folders)
        for i in picks:
            per_folder[i] += 1
        own_candidates: list[dict[str, Any]] = []
        for f, n in zip(folders, per_folder, strict=True):
            names: set[str] = set()
            visible = self.visible(f)
            for _ in range(n):
                secret = self.make_secret(f, names)
                if visible:
                    own_candidates.append(secret)
                    # Some secrets carry their own permissions, with the service account kept.
                    if rng.random() < 0.02:
                        secret["permissions"] = [self.sa_grant().as_dict(),
                                                 {"group": f.user_group, "rights": ["Edit"]}]
        # SECRET_NOT_OWNED: own permissions that leave the service account out.
        plain = [s for s in own_candidates if "permissions" not in s]
        for secret in rng.sample(plain, min(len(plain), self.count(2.0))):
            folder: _Folder = secret["folder"]  # still the object; ids are given in to_data
            secret["permissions"] = [{"group": folder.owner_group, "rights": ["Owner"]},
                                     {"group": folder.user_group, "rights": ["View"]}]

    # ---- secret roles ------------------------------------------------------------------------

    def plant_secret_roles(self) -> None:
        """Secret roles apart from folder roles: people who edit a folder but only view (or
        list) its secrets, and SECRETS_NOT_VISIBLE: a subtree whose permission makes the
        service account folder Owner with secret role View, so the cloud returns its folders
        and none of its secrets."""
        rng = self.secret_rng
        sa = {("user", SERVICE_USER), ("group", self.scim_owners["id"])}
        lower = {"Edit": "View", "View": "List"}
        others = [g for f in self.all_folders() if f.parent is None or not f.inherit
                  for g in f.grants if (g.kind, g.pid) not in sa and g.rights[0] in lower]
        for g in rng.sample(others, len(others) // 5):
            g.secret_role = lower[g.rights[0]]
        own_secrets = {id(s["folder"]) for s in self.secrets if "permissions" in s}
        holding = {id(s["folder"]) for s in self.secrets}

        def fits(f: _Folder) -> bool:
            subtree = list(f.walk())
            return (all(c.inherit for c in subtree[1:])
                    and any(id(c) in holding for c in subtree)
                    and not any(id(c) in own_secrets for c in subtree))

        owned = [f for f in self.all_folders() if f.kind in ("team", "env", "sub")
                 and not f.inherit and self.visible(f) and fits(f)
                 and any(g.kind == "group" and g.pid == f.owner_group for g in f.grants)]
        if not owned:  # no such folder at this seed: give one of its own permissions
            quiet = [f for f in self.all_folders() if f.kind in ("team", "env", "sub")
                     and f.inherit and self.visible(f) and fits(f)]
            owned = rng.sample(quiet, 1)
            owned[0].inherit = False
            owned[0].grants = [_Grant("group", owned[0].owner_group, ["Owner"]),
                               _Grant("user", SERVICE_USER, ["Owner"]),
                               _Grant("group", owned[0].user_group, ["Edit"])]
        for f in rng.sample(owned, min(len(owned), self.count(0.25))):
            for g in f.grants:
                if (g.kind, g.pid) in sa:
                    g.secret_role = "View"

    def make_secret(self, f: _Folder, names: set[str]) -> dict[str, Any]:
        rng = self.rng
        technical = f.dept.technical if f.dept else f.name != "Shared"
        templates = _TECH_TEMPLATES if technical else _BUSINESS_TEMPLATES
        template = rng.choices([t for t, _ in templates], weights=[w for _, w in templates])[0]
        name = self.secret_name(template, f)
        if name in names:  # unique within the folder, so 'folder path/name' names one secret
            k = 2
            while f"{name} ({k})" in names:
                k += 1
            name = f"{name} ({k})"
        names.add(name)
        secret: dict[str, Any] = {"id": f"s{len(self.secrets) + 1}", "name": name,
                                  "folder": f, "template": template}
        self.secrets.append(secret)
        return secret

    def secret_name(self, template: str, f: _Folder) -> str:
        rng = self.rng
        code = f.dept.code if f.dept else "corp"
        env = f.env
        n = rng.randint(1, 60)
        apps = f.dept.apps if f.dept else ("Meraki", "PaperCut", "Robin", "Okta Admin")
        if template == "Windows Account":
            return f"win-{code}-{env}-{n:03d} {rng.choice(('Administrator', 'svc_backup'))}"
        if template == "Unix Account (SSH)":
            return f"lnx-{code}-{env}-{n:03d} {rng.choice(('root', 'deploy', 'ansible'))}"
        if template == "SQL Server Account":
            return f"sql-{code}-{env}-{n:02d} {rng.choice(('sa', 'app_rw', 'reporting'))}"
        if template == "Oracle Account":
            return f"ora-{code}-{env}-{n:02d} {rng.choice(('SYSTEM', 'app_owner'))}"
        if template == "Cisco Account (SSH / Telnet)":
            return f"core-sw-{code}-{n:02d} enable"
        if template == "Active Directory Account":
            return f"svc_{rng.choice(_SERVICES)}_{code}_{env}"
        if template == "Web Password":
            return f"{rng.choice(apps)} - {rng.choice(_WEB_ROLES)}"
        return f"{rng.choice(('Alarm code', 'Safe combination', 'Wi-Fi', 'Voicemail PIN'))} {n}"

    # ---- the IGA's view ----------------------------------------------------------------------

    def make_iga(self) -> None:
        """The IGA knows the groups it provisioned, with their direct user members."""
        rng = self.rng
        user_name = {u["id"]: u["userName"] for u in self.users}
        local = {self.scim_owners["id"], self.ss_admins["id"]}  # made by hand on the Platform
        team_groups = [t.group for t in self.teams if len(t.users) >= 2]
        chosen = rng.sample(team_groups, min(len(team_groups),
                                             self.count(0.25) + self.count(0.5, least=3)
                                             + self.count(0.5)))
        n_missing, n_renamed = self.count(0.25), self.count(0.5, least=3)
        missing = {g["id"] for g in chosen[:n_missing]}
        renamed = {g["id"]: i for i, g in enumerate(chosen[n_missing:n_missing + n_renamed])}
        differs = {g["id"] for g in chosen[n_missing + n_renamed:]}
        active = [u["userName"] for u in self.active(self.users[1:])]
        place = {name: i for i, name in enumerate(active)}
        # GROUP_NOT_IN_SECRET_SERVER: contractor groups the IGA created on the Platform that
        # were never synced to Secret Server (so no permission can name them).
        for team in rng.sample(self.teams, min(len(self.teams), self.count(0.25))):
            self.add_group(f"{team.group['displayName']} Contractors",
                           [u["id"] for u in team.users[:2]], secret_server=False)
        for g in self.groups:
            if g["id"] in local or g["id"] in missing:
                continue
            members = [user_name[m] for m in g["members"] if m in user_name]
            name = g["displayName"]
            if g["id"] in renamed:
                name = _variant(name, renamed[g["id"]])
            if g["id"] in differs:
                members = self.differ(members, active, place)
            self.iga.append({"name": name, "members": members})
        # GROUP_NOT_ON_PLATFORM: approver groups requested in the IGA, never provisioned.
        for team in rng.sample(self.teams, min(len(self.teams), self.count(0.25))):
            self.iga.append({"name": f"{team.group['displayName']} Approvers",
                             "members": [user_name[u["id"]] for u in team.users[:1]]})

    # ---- Platform Groups Sync ----------------------------------------------------------------

    def plant_group_sync(self, rng: random.Random) -> None:
        """The demo tenant is old enough to need manual syncs: the groups Secret Server lacks
        so far were made long ago and missed their timed sync (GROUP_NOT_IN_SECRET_SERVER).
        On-call groups the IGA provisioned as the tenant is served are saved within the sync
        interval, so the timer will bring them (GROUP_SYNC_PENDING). Its own random stream,
        so the rest of the company is the same with or without it."""
        for g in self.groups:
            if not g.get("secret_server", True):
                g["created"] = MISSED_SYNC_CREATED
        user_name = {u["id"]: u["userName"] for u in self.users}
        for team in rng.sample(self.teams, min(len(self.teams), self.count(0.25))):
            members = [u["id"] for u in self.active(team.users)[:2]]
            group = self.add_group(f"{team.group['displayName']} On-Call", members,
                                   secret_server=False)
            self.iga.append({"name": group["displayName"],
                             "members": [user_name[m] for m in members]})

    def differ(self, members: list[str], active: list[str], place: dict[str, int]
               ) -> list[str]:
        """Drop one member and add a person from elsewhere: a difference on each side.
        ``active``: every active person's userName, in order; ``place``: its index there."""
        # The n-th active person not among the members, n drawn as `choice(outsiders)` would,
        # without listing every outsider for each group (quadratic at scale 1,000).
        inside = sorted({place[m] for m in members if m in place})
        dropped = self.rng.choice(members)
        n = self.rng.choice(range(len(active) - len(inside)))
        for i in inside:  # step over the members placed before it
            if i > n:
                break
            n += 1
        return [*(m for m in members if m != dropped), active[n]]

    # ---- output ------------------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        folders = self.all_folders()
        for i, f in enumerate(folders, 1):
            f.id = f"f{i}"
        out_folders: list[dict[str, Any]] = []
        permissions: list[dict[str, Any]] = []
        for f in folders:
            rec: dict[str, Any] = {"id": f.id, "name": f.name,
                                   "parent": f.parent.id if f.parent else None}
            if f.parent is not None and not f.inherit:
                rec["inherit_permissions"] = False
            out_folders.append(rec)
            if f.parent is None or not f.inherit:
                permissions += [{"folder": f.id, **g.as_dict()} for g in f.grants]
        for secret in self.secrets:
            secret["folder"] = secret["folder"].id
        return {
            "tenant": TENANT,
            "service_account": {"user": SERVICE_USER, "client_id": SERVICE_USER_NAME,
                                "client_secret": "practice-only"},
            "onprem": {"token": "practice-onprem-token"},
            "users": self.users,
            "groups": self.groups,
            "folders": out_folders,
            "permissions": permissions,
            "secrets": self.secrets,
            "iga": {"groups": self.iga},
        }


def _variant(name: str, i: int) -> str:
    """An IGA spelling of a group name that matches only after normalisation."""
    kind = i % 3
    if kind == 0:  # 'HR HRIS' is already upper case: then the IGA has it in lower case
        return name.upper() if name.upper() != name else name.lower()
    if kind == 1:
        return name.replace(" ", "  ", 1)
    return f"{TENANT.upper()}\\{name}"


def generate(scale: int = 1, seed: int = 0) -> dict[str, Any]:
    """Tenant data for a realistic company of about 200·scale people, with planted problems.

    The same (scale, seed) always gives the same data.
    """
    if scale < 1:
        raise ValueError("scale must be 1 or more")
    b = _Builder(scale, seed)
    b.make_users()
    b.make_tree()
    b.staff_teams()
    b.grant_folders()
    b.plant()
    b.make_secrets()
    b.plant_secret_roles()
    b.make_iga()
    b.plant_group_sync(random.Random(f"opskit-demodata/{scale}/{seed}/platform-groups-sync"))
    return b.to_data()


def new_platform_tenant(data: dict[str, Any]) -> dict[str, Any]:
    """The same company on a Platform tenant new enough that its Secret Server searches Platform
    groups directly: no sync is ever needed, so every Platform group is in Secret Server and
    none is a sync finding (docs/demo-data.md)."""
    out = copy.deepcopy(data)
    out["platform_groups_sync"] = {"platform_groups_searched_directly": True}
    for g in out["groups"]:
        if g.get("platform", True):
            g.pop("secret_server", None)
    return out


# --------------------------------------------------------------------------------------------
# Expected findings, derived from the data
# --------------------------------------------------------------------------------------------


def normalise_group_name(name: str) -> str:
    """Group name as compared across systems: no 'DOMAIN\\' prefix, single spaces, no case."""
    name = re.sub(r"^[^\\]*\\", "", name)
    return " ".join(name.split()).casefold()


class _Index:
    """Lookups over tenant data for the findings below."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.sa = data["service_account"]["user"]
        self.users = {u["id"]: u for u in data.get("users", [])}
        self.groups = {g["id"]: g for g in data.get("groups", [])}
        self.folders = {f["id"]: f for f in data.get("folders", [])}
        self.grants: dict[str, list[dict[str, Any]]] = {}
        for p in data.get("permissions", []):
            self.grants.setdefault(p["folder"], []).append(p)
        self.children: dict[str, list[str]] = {}
        for f in self.folders.values():
            if f.get("parent") is not None:
                self.children.setdefault(f["parent"], []).append(f["id"])
        self._paths: dict[str, str] = {}
        self._users_of: dict[str, frozenset[str]] = {}
        self.sa_groups = self._groups_containing(self.sa)
        self._visible: dict[str, bool] = {}

    def inherits(self, fid: str) -> bool:
        f = self.folders[fid]
        if f.get("parent") is None:
            return False
        flag = f.get("inherit_permissions")
        return True if flag is None else bool(flag)

    def path(self, fid: str) -> str:
        if fid not in self._paths:
            f = self.folders[fid]
            parent = f.get("parent")
            self._paths[fid] = f"{self.path(parent) if parent else ''}/{f['name']}"
        return self._paths[fid]

    def source(self, fid: str) -> str:
        """The folder whose own permissions apply to fid (itself, or the nearest that doesn't
        inherit)."""
        while self.inherits(fid):
            fid = self.folders[fid]["parent"]
        return fid

    def users_of(self, gid: str) -> frozenset[str]:
        """Every user in a group, through nested groups."""
        if gid not in self._users_of:
            out: set[str] = set()
            stack, seen = [gid], {gid}
            while stack:
                for m in self.groups[stack.pop()].get("members", []):
                    if m in self.groups:
                        if m not in seen:
                            seen.add(m)
                            stack.append(m)
                    else:
                        out.add(m)
            self._users_of[gid] = frozenset(out)
        return self._users_of[gid]

    def _groups_containing(self, uid: str) -> set[str]:
        return {gid for gid in self.groups if uid in self.users_of(gid)}

    def is_sa(self, grant: dict[str, Any]) -> bool:
        return grant.get("user") == self.sa or grant.get("group") in self.sa_groups

    def visible(self, fid: str) -> bool:
        """The service account holds Owner (first right) in the folder's effective permissions."""
        src = self.source(fid)
        if src not in self._visible:
            self._visible[src] = any(g["rights"][0] == "Owner" and self.is_sa(g)
                                     for g in self.grants.get(src, []))
        return self._visible[src]

    def descendants(self, fid: str) -> Iterator[str]:
        for child in self.children.get(fid, []):
            yield child
            yield from self.descendants(child)

    def principal(self, grant: dict[str, Any]) -> str:
        if "user" in grant and grant["user"] is not None:
            return self.users[grant["user"]]["userName"]
        return self.groups[grant["group"]]["displayName"]


def _finding(code: str, subject: str, why: str) -> dict[str, str]:
    return {"code": code, "subject": subject, "why": why}


def _rights(rights: list[str]) -> str:
    return "[" + ", ".join(rights) + "]"


def _folder_findings(ix: _Index, tenant: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    hidden = [fid for fid in ix.folders if not ix.visible(fid)]
    # A hidden folder needs its own fix when it tops a hidden subtree, or when it has
    # permissions of its own: fixing the folder above does not reach it.
    roots = [fid for fid in hidden
             if ix.folders[fid].get("parent") is None or ix.visible(ix.folders[fid]["parent"])
             or not ix.inherits(fid)]
    total = len(ix.folders)
    out.append(_finding(
        "PARTIAL_FOLDER_VISIBILITY", tenant,
        f"the service account is Owner of {total - len(hidden)} of {total} folders; "
        f"{len(hidden)} hidden folders need {len(roots)} fixes"))
    for fid in roots:
        below = list(ix.descendants(fid))
        inheriting = sum(1 for d in below if ix.inherits(d))
        truncated = [g for g in ix.grants.get(fid, []) if ix.is_sa(g) and "Owner" in g["rights"]]
        cause = (f"the service account's grant was sent as {_rights(truncated[0]['rights'])} and "
                 "the cloud keeps only the first right" if truncated else
                 "no Owner grant for the service account, directly or through a group, in "
                 "its own permissions")
        tail = (f"; {len(below)} folders below it are hidden too ({inheriting} inherit)"
                if len(below) > 1 else
                f"; 1 folder below it is hidden too ({inheriting} inherit)" if below else "")
        out.append(_finding("FOLDER_NOT_VISIBLE", ix.path(fid),
                            f"{cause}, so the cloud connector does not return it{tail}"))
    for fid in ix.folders:
        if ix.inherits(fid) or not ix.visible(fid):
            continue
        owners = [g for g in ix.grants.get(fid, []) if g["rights"][0] == "Owner"]
        humans = [g for g in owners if not ix.is_sa(g)
                  and ("user" in g or ix.users_of(g["group"]) - {ix.sa})]
        if not humans:
            out.append(_finding("FOLDER_WITHOUT_OWNER", ix.path(fid),
                                "its own permissions make only the service account Owner; "
                                "no person or group can manage the folder"))
    return out


def _sa_secret_roles(ix: _Index, fid: str) -> list[str]:
    """The secret roles the service account's permissions on a folder give it (secret_role,
    else the one of the same name as the first right; Add Secret gives View)."""
    return [g.get("secret_role") or derived_secret_role(g["rights"][0])
            for g in ix.grants.get(ix.source(fid), []) if ix.is_sa(g)]


def _owns_secret(ix: _Index, s: dict[str, Any]) -> bool:
    """The service account's secret role on the secret is Owner: through the secret's own
    permissions if it has them, else through its folder's permissions' secret roles."""
    own = s.get("permissions")
    if own is not None:
        return any(g["rights"][0] == "Owner" and ix.is_sa(g) for g in own)
    return "Owner" in _sa_secret_roles(ix, s["folder"])


def _secret_findings(ix: _Index, data: dict[str, Any]) -> list[dict[str, str]]:
    secrets = data.get("secrets", [])
    owned = [_owns_secret(ix, s) for s in secrets]
    visible = [fid for fid in ix.folders if ix.visible(fid)]
    out: list[dict[str, str]] = []
    if visible and secrets and not any(owned):
        out.append(_finding("NO_VISIBLE_SECRETS", data["tenant"],
                            f"the service account sees {len(visible)} folders but owns none of "
                            f"the {len(secrets)} secrets"))
    # A subtree is a visible folder with permissions of its own and the folders inheriting
    # them; one holding secrets none of which the service account owns hides them all.
    per_top: dict[str, list[bool]] = {}
    for s, mine in zip(secrets, owned, strict=True):
        if ix.visible(s["folder"]):
            per_top.setdefault(ix.source(s["folder"]), []).append(mine)
    dark = {top for top, mine in per_top.items() if not any(mine)}
    for top in dark:
        below = [d for d in ix.descendants(top) if ix.source(d) == top]
        roles = sorted(set(_sa_secret_roles(ix, top)))
        where = f"it and its {len(below)} inheriting subfolders" if below else "it"
        out.append(_finding("SECRETS_NOT_VISIBLE", ix.path(top),
                            f"the service account is folder Owner but its secret role is "
                            f"{' / '.join(roles)}: none of the {len(per_top[top])} secrets in "
                            f"{where} is returned"))
    for s, mine in zip(secrets, owned, strict=True):
        if mine or not ix.visible(s["folder"]) or ix.source(s["folder"]) in dark:
            continue
        own = s.get("permissions")
        if own is not None:
            holders = ", ".join(f"{ix.principal(g)} {_rights(g['rights'])}" for g in own)
            why = f"has its own permissions ({holders}) without the service account as Owner"
        else:
            why = (f"inherits its folder's permissions, where the service account's secret "
                   f"role is {' / '.join(sorted(set(_sa_secret_roles(ix, s['folder']))))}")
        out.append(_finding("SECRET_NOT_OWNED", f"{ix.path(s['folder'])}/{s['name']}",
                            f"the secret {why}, so its privileged data is not returned "
                            "although the folder is"))
    return out


def _grant_findings(ix: _Index, data: dict[str, Any]) -> list[dict[str, str]]:
    by_user: dict[str, list[str]] = {}
    empty: dict[str, list[str]] = {}
    truncated: dict[str, list[str]] = {}
    for p in data.get("permissions", []):
        where = f"{_rights(p['rights'])} on {ix.path(p['folder'])}"
        if p.get("user") is not None and p["user"] != ix.sa:
            by_user.setdefault(p["user"], []).append(where)
        if p.get("group") is not None and not ix.groups[p["group"]].get("members"):
            empty.setdefault(p["group"], []).append(where)
        if len(p["rights"]) > 1:
            truncated.setdefault(p["folder"], []).append(
                f"{ix.principal(p)} sent {_rights(p['rights'])}, kept {p['rights'][0]}")
    out: list[dict[str, str]] = []
    for uid, wheres in by_user.items():
        user = ix.users[uid]
        if not user.get("active", True):
            out.append(_finding("GRANT_TO_DISABLED_USER", user["userName"],
                                f"disabled user still holds {'; '.join(wheres)}"))
    for gid, wheres in empty.items():
        out.append(_finding("GRANT_TO_EMPTY_GROUP", ix.groups[gid]["displayName"],
                            f"group has no members but holds {'; '.join(wheres)}"))
    for fid, notes in truncated.items():
        out.append(_finding("RIGHTS_TRUNCATED", ix.path(fid),
                            f"{'; '.join(notes)} (the cloud keeps only the first right)"))
    for uid, wheres in by_user.items():
        out.append(_finding("DIRECT_USER_GRANT", ix.users[uid]["userName"],
                            f"granted directly, not through a group: {'; '.join(wheres)}"))
    return out


def _sync_findings(data: dict[str, Any], platform: list[dict[str, Any]]) -> list[dict[str, str]]:
    """A Platform group Secret Server lacks: made before the tenant was served (it has a
    `created` time, always long past in the demo), it missed its timed sync; made as the tenant
    is served, the timer brings it within one interval. A tenant whose Secret Server searches
    Platform groups directly lacks none."""
    if (data.get("platform_groups_sync") or {}).get("platform_groups_searched_directly"):
        return []
    out: list[dict[str, str]] = []
    for g in platform:
        if g.get("secret_server", True):
            continue
        if g.get("created") is not None:
            out.append(_finding("GROUP_NOT_IN_SECRET_SERVER", g["displayName"],
                                f"on the Platform since {g['created']} but not in Secret "
                                "Server: it missed its timed sync, so it needs selecting and "
                                "Sync Now; no folder or secret permission can name it"))
        else:
            out.append(_finding("GROUP_SYNC_PENDING", g["displayName"],
                                "saved on the Platform as the tenant is served: the timed "
                                "Platform Groups Sync brings it to Secret Server within one "
                                "interval"))
    return out


def _group_findings(ix: _Index, data: dict[str, Any]) -> list[dict[str, str]]:
    platform = [g for g in ix.groups.values() if g.get("platform", True)]
    out = _sync_findings(data, platform)
    exact = {g["displayName"]: g for g in platform}
    loose = {normalise_group_name(g["displayName"]): g for g in platform}
    matched: set[str] = set()
    for ig in (data.get("iga") or {}).get("groups", []):
        name = ig["name"]
        g = exact.get(name)
        if g is None:
            g = loose.get(normalise_group_name(name))
            if g is None:
                out.append(_finding("GROUP_NOT_ON_PLATFORM", name,
                                    "in the IGA export but no Platform group has this name, "
                                    "even after normalisation: never provisioned"))
                continue
            out.append(_finding("GROUP_NAME_MISMATCH", name,
                                f"the IGA's name matches Platform group {g['displayName']!r} "
                                "only after normalising case, spaces and domain prefix"))
        matched.add(g["id"])
        platform_members = {ix.users[m]["userName"].casefold()
                            for m in g.get("members", []) if m in ix.users}
        iga_members = {m.casefold() for m in ig.get("members", [])}
        if platform_members != iga_members:
            out.append(_finding(
                "GROUP_MEMBERSHIP_DIFFERS", name,
                f"direct user members differ from Platform group {g['displayName']!r}: "
                f"only in the IGA {sorted(iga_members - platform_members)}, "
                f"only on the Platform {sorted(platform_members - iga_members)}"))
    for g in platform:
        if g["id"] not in matched:
            out.append(_finding("GROUP_NOT_IN_IGA", g["displayName"],
                                "a Platform group the IGA does not know (made by hand, or "
                                "removed from the IGA): nobody reviews its membership"))
    return out


def expected_findings(data: dict[str, Any]) -> list[dict[str, str]]:
    """The findings a correct audit gives for tenant data, each as {code, subject, why}.

    Rules (docs/demo-data.md spells them out): a folder's effective permissions are its own
    unless it inherits, then its parent's; a grant's effective right is its first listed right;
    the service account sees a folder when it is Owner there, directly or through any group that
    contains it transitively, and a secret when its secret role on it is Owner: through the
    secret's own permissions, else through the secret roles its folder's permissions give. IGA
    groups are compared to Platform groups on their direct user members.
    """
    ix = _Index(data)
    found = (_folder_findings(ix, data["tenant"]) + _secret_findings(ix, data)
             + _grant_findings(ix, data) + _group_findings(ix, data))
    order = {code: i for i, code in enumerate(FINDING_CODES)}
    return sorted(found, key=lambda f: (order[f["code"]], f["subject"]))


# --------------------------------------------------------------------------------------------
# Writing the files
# --------------------------------------------------------------------------------------------

_BaseDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):
    """Flow style for small records (one user, folder or grant per line), block for the rest."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # never &id001 anchors, even if a list object were shared


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = all(_is_scalar(v) or (isinstance(v, list) and all(_is_scalar(x) for x in v))
               for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)


def _atomic_write(path: Path, write: Callable[[IO[str]], object], encoding: str = "utf-8",
                  newline: str | None = None) -> None:
    """Write through a temporary file in the same folder and rename it into place.

    A crash leaves at worst a hidden '.name.*.tmp' file, never a half-written file under the
    real name; the rename is atomic on one file system.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, "w", encoding=encoding, newline=newline) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary shareable files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_yaml(data: dict[str, Any], f: IO[str]) -> None:
    f.write(f"# opskit practice tenant '{data['tenant']}': generated demo data, "
            "see docs/demo-data.md\n")
    yaml.dump(data, f, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def iga_rows(data: dict[str, Any]) -> Iterator[list[str]]:
    """The IGA export: one row per identity × entitlement; an entitlement nobody holds gets one
    row with empty identity columns, so the export lists every group the IGA knows."""
    names = {u["userName"].casefold(): u.get("displayName") or u["userName"]
             for u in data.get("users", [])}
    for ig in (data.get("iga") or {}).get("groups", []):
        tail = [IGA_SOURCE, IGA_ATTRIBUTE, ig["name"], ig["name"]]
        if not ig.get("members"):
            yield ["", "", *tail]
        for member in ig.get("members", []):
            yield [names.get(member.casefold(), member), member, *tail]


def write_iga_csv(data: dict[str, Any], f: IO[str]) -> None:
    """The IGA export in the SailPoint layout (docs/demo-data.md); the caller picks the file's
    encoding (UTF-8 with a BOM, as spreadsheet exports are)."""
    writer = csv.writer(f, lineterminator="\r\n")
    writer.writerow(IGA_COLUMNS)
    writer.writerows(iga_rows(data))


def write_demo(out_dir: str | os.PathLike[str], scale: int = 1, seed: int = 0,
               on_new_platform: bool = False) -> dict[str, Path]:
    """Generate demo data and write tenant.yaml, iga_export.csv and expected_findings.json;
    ``on_new_platform``: the company on a tenant that needs no Platform Groups Sync.

    Returns the paths by role: ``tenant``, ``iga_export``, ``findings``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = generate(scale, seed)
    if on_new_platform:
        data = new_platform_tenant(data)
    findings = expected_findings(data)
    paths = {"tenant": out / TENANT_FILE, "iga_export": out / IGA_EXPORT,
             "findings": out / FINDINGS_FILE}
    _atomic_write(paths["tenant"], lambda f: _write_yaml(data, f))
    # utf-8-sig writes the BOM that spreadsheet exports carry (and Excel needs for 'São Paulo').
    _atomic_write(paths["iga_export"], lambda f: write_iga_csv(data, f), encoding="utf-8-sig",
                  newline="")
    _atomic_write(paths["findings"],
                  lambda f: f.write(json.dumps(findings, indent=2, ensure_ascii=False) + "\n"))
    return paths
