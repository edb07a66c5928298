"""Profiles: which tenant to talk to and how, with secrets only by reference.

A profile file is ``opskit.toml`` in the working directory, else ``$OPSKIT_CONFIG``, else the
nearest ``opskit.toml`` in a folder above the working directory, else
``~/.config/opskit/opskit.toml``. Two profiles are built in: ``sandbox`` (the practice tenant's
cloud flavor) and ``sandbox-onprem`` (its on-prem flavor) of the demo company, or of the tenant
file ``OPSKIT_SANDBOX_DATA`` names; both start the practice tenant for the duration of the call,
or use the one ``OPSKIT_SANDBOX_URL`` names.

Each kind is its own type (:class:`CloudProfile`, :class:`OnPremProfile`,
:class:`PracticeProfile`; ``Profile`` is any of them). :func:`connect` turns a profile into an
``Endpoint``, a tenant to talk to: a cloud or on-prem profile as it is, or the practice tenant
serving a practice profile (:class:`PracticeEndpoint`), reached through ``opskit.sandbox.entry``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx

from ._localfile import FileTooLarge, UnreadableFile, read_regular_file
from ._redact import logger, remember
from .errors import ConfigError, SecretError
from .limits import DEFAULT as DEFAULT_LIMITS
from .limits import Limits, env_limit, parse_limits

Kind = Literal["cloud", "onprem", "sandbox"]
Flavor = Literal["cloud", "onprem"]
TOKEN_PATH = "/identity/api/oauth2/token/xpmplatform"
CLOUD_SCIM_PATH = "/scim/v2"
DEFAULT_SCOPE = "xpm.platform"
SECRET_SCHEMES = ("env:", "keyring:", "file:")
BUILTIN = ("sandbox", "sandbox-onprem")
_TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
SECRET_FILE_LIMIT = 64 * 1024
SECRET_FILE_LIMIT_ENV = "OPSKIT_SECRET_FILE_LIMIT"
CONFIG_NAME = "opskit.toml"
CONFIG_ENV = "OPSKIT_CONFIG"
SANDBOX_DATA_ENV = "OPSKIT_SANDBOX_DATA"  # the tenant file the built-in profiles serve
USER_CONFIG = "~/.config/opskit/opskit.toml"
log = logger("opskit.config")


@dataclass(frozen=True)
class SecretRef:
    """A secret named by reference (``env:``, ``keyring:``, ``file:``), resolved at use time.

    Its repr shows the reference, never the value; the value exists only inside ``resolve()``.
    """

    ref: str
    _practice: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def practice(cls, value: str, label: str) -> SecretRef:
        """A practice tenant's known credential (never read from a user's file)."""
        return cls(f"practice:{label}", value)

    def resolve(self) -> str:
        value = self._resolve()
        remember(value)
        return value

    def _resolve(self) -> str:
        if self._practice is not None:
            return self._practice
        scheme, _, rest = self.ref.partition(":")
        if scheme == "env":
            value = os.environ.get(rest)
            if not value:
                raise SecretError(f"the environment variable {rest} is not set (or empty)",
                                  f"export {rest}=… in the environment that runs opskit, or "
                                  "point the profile at another secret reference")
            return value
        if scheme == "file":
            return _secret_file(Path(rest).expanduser())
        if scheme == "keyring":
            service, _, name = rest.rpartition("/")
            try:
                import keyring
                value = keyring.get_password(service, name)
            except Exception as exc:  # any keyring backend failure is a configuration problem
                raise SecretError(f"the keyring could not be read for {rest} "
                                  f"({type(exc).__name__})",
                                  "check the keyring backend, or use env: or file:") from None
            if not value:
                raise SecretError(f"no keyring entry for service {service!r}, name {name!r}",
                                  f"store it: keyring set {service} {name}")
            return value
        raise SecretError(f"unknown secret reference {self.ref!r}",
                          "use env:NAME, keyring:SERVICE/NAME or file:PATH")


def secret_file_limit() -> int:
    """The largest secret file read, in bytes: 64 KiB unless OPSKIT_SECRET_FILE_LIMIT says."""
    return env_limit(SECRET_FILE_LIMIT_ENV, SECRET_FILE_LIMIT, "bytes")


def _secret_file(path: Path) -> str:
    """The first line of a secret file, read without blocking (a FIFO) or filling memory
    (/dev/zero): a regular file of at most secret_file_limit() bytes."""
    limit = secret_file_limit()
    try:
        raw = read_regular_file(path, limit)
    except UnreadableFile as exc:
        remedy = (f"keep only the secret in it, on its first line (or raise "
                  f"{SECRET_FILE_LIMIT_ENV})" if isinstance(exc, FileTooLarge)
                  else "point file: at a regular file (mode 600) with the secret on its first "
                  "line, or fix the path in the profile")
        raise SecretError(f"the secret file {path} {exc}", remedy) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # never quote the bytes: they may be the secret
        raise SecretError(f"the secret file {path} is not UTF-8 text",
                          "write the secret into it as text, on its first line") from None
    lines = text.splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise SecretError(f"the secret file {path} has nothing on its first line",
                          "write the secret on the first line")
    return value


DEFAULT_SYNC_HOURS = 24.0  # Delinea documents the setting, not its default: see group-gap.md


@dataclass(frozen=True)
class PlatformGroupsSync:
    """How the tenant's Platform groups reach its Secret Server, as the operator knows it: the
    interval of Platform Groups Sync's timer (Secret Server: Settings > Platform Groups Sync >
    Configuration), and whether Secret Server searches Platform groups directly (a Platform
    tenant new enough that no sync is needed). ``given``: said by the profile or the tenant,
    not opskit's default."""

    interval_hours: float = DEFAULT_SYNC_HOURS
    platform_groups_searched_directly: bool = False
    given: bool = False


class _Absent:
    """What a profile kind does not hold reads as absent (empty, None, the default), so code
    that reads any profile or endpoint needs no test of its kind."""

    base_url: str = ""
    token_url: str = ""
    client_id: str = ""
    client_secret: SecretRef | None = None
    scope: str = DEFAULT_SCOPE
    token: SecretRef | None = None
    verify: bool | str = True
    tenant_name: str | None = None  # the tenant's own name, where the profile knows it
    platform_groups_sync: PlatformGroupsSync = PlatformGroupsSync()
    expect: str | None = None  # the finding code a rehearsal profile's runs are meant to give


@dataclass(frozen=True)
class CloudProfile(_Absent):
    """The SCIM Cloud Connector of a Delinea Platform tenant: OAuth2 client credentials."""

    kind: ClassVar[Literal["cloud"]] = "cloud"
    flavor: ClassVar[Literal["cloud"]] = "cloud"
    name: str
    base_url: str = ""
    token_url: str = ""
    client_id: str = ""
    client_secret: SecretRef | None = None
    scope: str = DEFAULT_SCOPE
    verify: bool | str = True
    # The tenant's other views, for reports that compare: a profile that sees every folder
    # (the on-prem connector of the same Secret Server), and the IGA's group export (path/URL).
    reference: str | None = None
    iga_export: str | None = None
    tenant_name: str | None = None
    limits: Limits = DEFAULT_LIMITS  # time budgets and size ceilings (opskit.limits)
    expect: str | None = None
    platform_groups_sync: PlatformGroupsSync = PlatformGroupsSync()

    @property
    def profile(self) -> CloudProfile:
        return self  # a real tenant's profile is its own endpoint


@dataclass(frozen=True)
class OnPremProfile(_Absent):
    """The On-Prem SCIM Connector in front of Secret Server: a static bearer token."""

    kind: ClassVar[Literal["onprem"]] = "onprem"
    flavor: ClassVar[Literal["onprem"]] = "onprem"
    name: str
    base_url: str = ""
    token: SecretRef | None = None
    verify: bool | str = True
    reference: str | None = None
    iga_export: str | None = None
    limits: Limits = DEFAULT_LIMITS
    expect: str | None = None

    @property
    def profile(self) -> OnPremProfile:
        return self


@dataclass(frozen=True)
class PracticeProfile(_Absent):
    """The practice tenant (opskit.sandbox) in one flavor: a tenant file, or the demo company,
    served while a :func:`connect` block runs."""

    kind: ClassVar[Literal["sandbox"]] = "sandbox"
    name: str
    flavor: Flavor = "cloud"
    data: str | None = None  # a tenant file; None: the built-in demo company
    rehearsal: str | None = None  # serve the tenant in this broken state
    reference: str | None = None
    iga_export: str | None = None
    limits: Limits = DEFAULT_LIMITS
    expect: str | None = None


# A profile as opskit.toml (or the built-ins) define it. Secrets stay references until a
# request needs them.
Profile = CloudProfile | OnPremProfile | PracticeProfile


@dataclass(frozen=True)
class PracticeEndpoint:
    """A practice profile connected: the practice tenant serving it, as its flavor's client
    reaches it. The tenant's own name, IGA export and group sync are what the tenant says."""

    kind: ClassVar[Literal["sandbox"]] = "sandbox"
    profile: PracticeProfile  # the profile it came from
    url: str  # the practice tenant serving it (both flavors answer there)
    name: str
    flavor: Flavor
    base_url: str
    token_url: str = ""
    client_id: str = ""
    client_secret: SecretRef | None = None
    token: SecretRef | None = None
    reference: str | None = None
    iga_export: str | None = None
    tenant_name: str | None = None
    limits: Limits = DEFAULT_LIMITS
    platform_groups_sync: PlatformGroupsSync = PlatformGroupsSync()
    scope: ClassVar[str] = DEFAULT_SCOPE
    verify: ClassVar[bool | str] = True


# A tenant to talk to, as connect() yields it: a cloud or on-prem profile as it is (it names a
# reachable tenant), or the practice tenant serving a practice profile.
Endpoint = CloudProfile | OnPremProfile | PracticeEndpoint


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_USERINFO = re.compile(r"(?<=://)[^/?#]*@")


def _shown(raw: str) -> str:
    """A URL as an error message may quote it: any user:password@ part masked."""
    return repr(_USERINFO.sub("***@", raw))


def _url(raw: Any, where: str) -> httpx.URL:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where}: a URL is required", "give the tenant's https:// URL")
    if raw != raw.strip() or any(c.isspace() for c in raw):
        raise ConfigError(f"{where}: {_shown(raw)} contains spaces",
                          "remove the spaces; a tenant URL looks like https://acme.delinea.app")
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"{where}: {_shown(raw)} is not a valid URL ({exc})",
                          "write it as https://host[:port]/path") from None
    if url.scheme not in ("http", "https"):
        raise ConfigError(f"{where}: {_shown(raw)} is not an https:// URL",
                          "write it as https://host[:port]/path")
    if not url.host:
        raise ConfigError(f"{where}: {_shown(raw)} has no host",
                          "write it as https://host[:port]/path")
    if url.userinfo:
        raise ConfigError(f"{where}: {_shown(raw)} carries a user name or password",
                          "remove it from the URL; credentials go in client_secret or token, "
                          "by reference")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigError(f"{where}: {_shown(raw)} uses http:// to a host that is not this "
                          "machine", "use https:// (plain http is only for the practice tenant "
                          "on 127.0.0.1)")
    return url


def cloud_urls(tenant: str, where: str = "tenant") -> tuple[str, str]:
    """(SCIM base, token URL) of a cloud tenant given by name or by URL."""
    if "://" not in tenant:
        if not _TENANT_NAME.fullmatch(tenant or ""):  # `$` would let "acme\n" through
            raise ConfigError(f"{where}: {tenant!r} is neither a tenant name nor a URL",
                              "give the tenant name (acme) or its URL (https://acme.delinea.app)")
        origin = f"https://{tenant.lower()}.delinea.app"
    else:
        url = _url(tenant, where)
        port = f":{url.port}" if url.port else ""
        host = f"[{url.host}]" if ":" in url.host else url.host  # an IPv6 address
        origin = f"{url.scheme}://{host}{port}"
        path = url.path.rstrip("/")
        if path not in ("", CLOUD_SCIM_PATH):
            raise ConfigError(f"{where}: {_shown(tenant)} has the path {path!r}",
                              "give the tenant's origin (https://acme.delinea.app) or its SCIM "
                              "base (…/scim/v2); opskit derives the token URL from it")
    return origin + CLOUD_SCIM_PATH, origin + TOKEN_PATH


def _secret(raw: Any, where: str) -> SecretRef:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{where} is missing",
                          "give it by reference: env:NAME, keyring:SERVICE/NAME or file:PATH")
    if not raw.startswith(SECRET_SCHEMES):
        # Never echo the value: it may be the secret itself.
        raise ConfigError(f"{where} holds a literal value; profiles take secrets only by "
                          "reference", "replace it with env:NAME, keyring:SERVICE/NAME or "
                          "file:PATH, and rotate the secret if the file was shared")
    return SecretRef(raw)


def parse_profile(name: str, raw: dict[str, Any], source: str = "opskit.toml") -> Profile:
    where = f"{source}: profiles.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a table", "write it as [profiles.NAME] with keys")
    kind = raw.get("kind")
    views = {"reference", "iga_export"}
    common = {"kind", "limits", "expect", *views}
    allowed = {"cloud": {"tenant", "client_id", "client_secret", "scope", "verify",
                         "platform_groups_sync", *common},
               "onprem": {"base_url", "token", "verify", *common},
               "sandbox": {"data", "flavor", "rehearsal", *common}}
    if kind not in allowed:
        raise ConfigError(f"{where}.kind is {kind!r}", "set kind = \"cloud\", \"onprem\" or "
                          "\"sandbox\"")
    unknown = sorted(set(raw) - allowed[kind])
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} for kind {kind!r}",
                          f"keys for {kind}: {', '.join(sorted(allowed[kind]))}")
    verify = raw.get("verify", True)
    if not isinstance(verify, bool | str):
        raise ConfigError(f"{where}.verify must be true, false or a CA bundle path")
    for key in views:
        if not isinstance(raw.get(key, ""), str):
            raise ConfigError(f"{where}.{key} must be text", "reference: a profile name; "
                              "iga_export: a CSV path or URL")
    prof = replace(_parse_kind(name, kind, raw, where, verify),
                   reference=raw.get("reference") or None,
                   iga_export=raw.get("iga_export") or None,
                   limits=parse_limits(raw.get("limits"), f"{where}.limits"))
    if "expect" in raw or (isinstance(prof, PracticeProfile) and prof.rehearsal):
        prof = replace(prof, expect=_expected_code(raw.get("expect"), prof, where))
    if isinstance(prof, CloudProfile) and "platform_groups_sync" in raw:
        prof = replace(prof, platform_groups_sync=_groups_sync(
            raw["platform_groups_sync"], f"{where}.platform_groups_sync"))
    return prof


def _expected_code(raw: Any, prof: Profile, where: str) -> str:
    """The finding code a rehearsal profile exists to give: ``expect``, else its rehearsal's."""
    from .findings import REGISTRY

    if raw is None and isinstance(prof, PracticeProfile) and prof.rehearsal:
        from .sandbox.entry import REHEARSALS

        return REHEARSALS[prof.rehearsal].code
    if not isinstance(raw, str) or raw not in REGISTRY:
        raise ConfigError(f"{where}.expect is {raw!r}, not a finding code",
                          'name the code this profile\'s runs are meant to give, e.g. '
                          'expect = "TOKEN_INVALID_CLIENT" (docs/findings.md lists them)')
    return raw


def _groups_sync(raw: Any, where: str) -> PlatformGroupsSync:
    keys = ("interval_hours", "platform_groups_searched_directly")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a table", f"write it as [{where.split(': ')[-1]}] "
                          f"with {' and/or '.join(keys)}")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}",
                          f"keys: {', '.join(keys)}")
    hours = raw.get("interval_hours", DEFAULT_SYNC_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 8784:
        raise ConfigError(f"{where}.interval_hours must be a number of hours above 0",
                          "copy the sync interval from Secret Server (Settings > Platform "
                          "Groups Sync > Configuration, days and hours): 24 for one day")
    directly = raw.get("platform_groups_searched_directly", False)
    if not isinstance(directly, bool):
        raise ConfigError(f"{where}.platform_groups_searched_directly must be true or false",
                          "true only on a Platform tenant whose Secret Server searches "
                          "Platform groups directly (no Platform Groups Sync needed)")
    return PlatformGroupsSync(float(hours), directly, given=True)


def _parse_kind(name: str, kind: str, raw: dict[str, Any], where: str,
                verify: bool | str) -> Profile:
    if kind == "cloud":
        tenant = raw.get("tenant", "")
        if not isinstance(tenant, str):  # `tenant = 123` is a number in TOML, not a name
            raise ConfigError(f"{where}.tenant must be text, not {type(tenant).__name__}",
                              'write it in quotes: tenant = "acme" or tenant = '
                              '"https://acme.delinea.app"')
        base, token_url = cloud_urls(tenant, f"{where}.tenant")
        client_id = raw.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise ConfigError(f"{where}.client_id is missing",
                              "set it to the service user's name, e.g. scim.integration@acme.com")
        scope = raw.get("scope", DEFAULT_SCOPE)
        if not isinstance(scope, str) or not scope or any(c.isspace() for c in scope):
            raise ConfigError(f"{where}.scope {scope!r} is not a scope", "use xpm.platform")
        return CloudProfile(name, base, token_url, client_id,
                            _secret(raw.get("client_secret"), f"{where}.client_secret"), scope,
                            verify=verify, tenant_name=None if "://" in tenant else tenant.lower())
    if kind == "onprem":
        url = _url(raw.get("base_url"), f"{where}.base_url")
        base = str(url).rstrip("/")
        if not base.lower().endswith("/v2"):
            raise ConfigError(f"{where}.base_url {base!r} does not end in /v2",
                              "the on-prem connector's SCIM base is "
                              "https://<host>/SCIMConnector/v2")
        return OnPremProfile(name, base, token=_secret(raw.get("token"), f"{where}.token"),
                             verify=verify)
    flavor = raw.get("flavor")
    if flavor not in (None, "cloud", "onprem"):
        raise ConfigError(f"{where}.flavor is {flavor!r}", "use \"cloud\" or \"onprem\"")
    data = raw.get("data")
    if data is not None and not isinstance(data, str):
        raise ConfigError(f"{where}.data must be a tenant file path")
    rehearsal = raw.get("rehearsal")
    if rehearsal is not None and not isinstance(rehearsal, str):
        raise ConfigError(f"{where}.rehearsal must be a rehearsal's name",
                          "e.g. rehearsal = \"no-folder\" (docs/profiles.md)")
    if rehearsal is not None:
        from .sandbox.entry import REHEARSALS

        if rehearsal not in REHEARSALS:
            raise ConfigError(f"{where}.rehearsal is {rehearsal!r}",
                              f"use one of {', '.join(REHEARSALS)} (docs/profiles.md)")
        # A rehearsal breaks one connector: the profile looks at that one.
        broken = REHEARSALS[rehearsal].flavor
        if flavor not in (None, broken):
            raise ConfigError(f"{where}.flavor is {flavor!r}, but rehearsal {rehearsal!r} "
                              f"breaks the {broken} connector",
                              f"set flavor = \"{broken}\", or leave flavor out")
        flavor = broken
    return PracticeProfile(name, flavor or "cloud", data=data, rehearsal=rehearsal)


def config_path() -> Path | None:
    """The profile file in use, by the documented order; None when there is none."""
    here = Path(CONFIG_NAME)
    if here.is_file():
        return here
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    # A kernel JupyterLab starts in a checkout's opskit/notebooks/ finds the root's file, as
    # git and ruff find theirs: the nearest one above (see _folders_above for how far).
    for folder in _folders_above():
        candidate = folder / CONFIG_NAME
        if candidate.is_file() and _own_file(candidate):
            return candidate
    home = Path(USER_CONFIG).expanduser()
    return home if home.is_file() else None


def _folders_above() -> list[Path]:
    """The folders above the working one that may hold the profile file: up to the project's
    root (a folder with .git or pyproject.toml) and never above the home folder, nor into or
    past a folder anyone may write to (/tmp): a file there could be anyone's, and its profiles
    would be sent this user's secrets."""
    try:
        parents = list(Path.cwd().parents)
    except OSError:  # the working directory was deleted: there is nothing above it to search
        return []
    home = Path.home()
    found: list[Path] = []
    for folder in parents:
        try:
            if folder.stat().st_mode & stat.S_IWOTH:
                break
        except OSError:
            break
        found.append(folder)
        if folder == home or (folder / ".git").exists() or (folder / "pyproject.toml").is_file():
            break
    return found


def _own_file(path: Path) -> bool:
    """Whether this user owns ``path`` (a profile file found above is used only if so)."""
    try:
        return path.stat().st_uid == os.getuid()
    except OSError:
        return False


def searched_places() -> str:
    """Where config_path() looks, in its order, as one line for an error message."""
    env = os.environ.get(CONFIG_ENV)
    above = ", ".join(str(folder) for folder in _folders_above()) or "none"
    return (f"{Path(CONFIG_NAME).absolute()}; ${CONFIG_ENV} ({env or 'not set'}); "
            f"{CONFIG_NAME} in each folder above ({above}); {Path(USER_CONFIG).expanduser()}")


def _profile_text(path: Path) -> str:
    """The profile file's text; a FIFO, a folder or a file that is not UTF-8 is refused."""
    try:
        raw = read_regular_file(path)
    except UnreadableFile as exc:
        remedy = ("create it, or unset OPSKIT_CONFIG" if not path.exists() else
                  "give the path of an opskit.toml file (OPSKIT_CONFIG, if set, must name one)")
        raise ConfigError(f"the profile file {path} {exc}", remedy) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"the profile file {path} is not UTF-8 text (line {line})",
                          "save it as UTF-8, as TOML requires") from None


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Every profile: the built-in ones, then those of the profile file."""
    data = os.environ.get(SANDBOX_DATA_ENV) or None  # None: the demo company
    profiles: dict[str, Profile] = {
        "sandbox": PracticeProfile("sandbox", "cloud", data=data, reference="sandbox-onprem"),
        "sandbox-onprem": PracticeProfile("sandbox-onprem", "onprem", data=data)}
    path = path or config_path()
    if path is None:
        return profiles
    raw = _profile_toml(path)
    tables = raw.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table", "write [profiles.NAME] tables")
    for name, table in tables.items():
        if name in BUILTIN:
            raise ConfigError(f"{path}: profiles.{name} shadows a built-in profile",
                              "give it another name")
        profiles[name] = parse_profile(name, table, str(path))
    for prof in profiles.values():
        if prof.reference is not None and prof.reference not in profiles:
            raise ConfigError(f"{path}: profiles.{prof.name}.reference names {prof.reference!r}, "
                              "which is not a profile",
                              f"known profiles: {', '.join(sorted(profiles))}")
    return profiles


@dataclass(frozen=True)
class AirflowSettings:
    """The ``[airflow]`` table: which tenants the scheduled DAG runs, and how (opskit.airflow).
    Paths are the profile file's folder's when relative: a scheduler's working folder is not."""

    source: Path  # the profile file it came from, absolute; each run reads it too
    profiles: tuple[str, ...]
    notebooks: tuple[str, ...] = ("permission_audit", "group_gap_report")
    dag_id: str = "opskit_reports"
    schedule: str | None = "15 6 * * *"
    out: Path = Path("reports")
    timeout: float = 3600.0  # seconds for one notebook run, kernel start to last cell
    retries: int = 2  # of a run that failed for a passing reason (a timeout, a dead kernel)
    retry_delay: float = 600.0
    fail_on: str = "high"


_AIRFLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")  # a task id's part: no dots
_AIRFLOW_KEYS = ("profiles", "notebooks", "dag_id", "schedule", "out", "timeout", "retries",
                 "retry_delay", "fail_on")


def load_airflow(path: Path | None = None) -> AirflowSettings:
    """The profile file's ``[airflow]`` table, checked against its profiles."""
    path = path or config_path()
    if path is None:
        raise ConfigError("no profile file found for the Airflow DAG",
                          f"write one with an [airflow] table and set {CONFIG_ENV} to its path")
    path = path.absolute()
    profiles = load_profiles(path)
    raw = _profile_toml(path).get("airflow")
    where = f"{path}: airflow"
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} has no [airflow] table",
                          'add one: [airflow] profiles = ["acme"] (docs/scheduling.md)')
    unknown = sorted(set(raw) - set(_AIRFLOW_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}",
                          f"keys: {', '.join(_AIRFLOW_KEYS)}")

    def names(key: str, example: str) -> tuple[str, ...] | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and _AIRFLOW_NAME.fullmatch(v) for v in value):
            raise ConfigError(f"{where}.{key} must be a list of names", f"e.g. {key} = {example}")
        return tuple(value)

    def seconds(key: str, default: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{where}.{key} must be a number of seconds above 0",
                              f"e.g. {key} = {int(default)}")
        return float(value)

    tenants = names("profiles", '["acme", "globex-eu"]')
    if tenants is None:
        raise ConfigError(f"{where}.profiles is missing", 'name the tenants: profiles = ["acme"]')
    for name in tenants:
        if name not in profiles:
            raise ConfigError(f"{where}.profiles names {name!r}, which is not a profile",
                              f"known profiles: {', '.join(sorted(profiles))}")
    settings = AirflowSettings(path, tenants, timeout=seconds("timeout", 3600),
                               retry_delay=seconds("retry_delay", 600))
    notebooks = names("notebooks", '["permission_audit", "group_gap_report"]')
    retries = raw.get("retries", settings.retries)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ConfigError(f"{where}.retries must be a whole number from 0 to 10", "e.g. 2")
    for key in ("dag_id", "schedule", "out", "fail_on"):
        if key in raw and not (isinstance(raw[key], str) and raw[key].strip()):
            raise ConfigError(f"{where}.{key} must be text", f"e.g. {key} = "
                              f'"{getattr(settings, key)}"')
    from .findings import SEVERITIES

    if raw.get("fail_on", settings.fail_on) not in SEVERITIES:
        raise ConfigError(f"{where}.fail_on is {raw['fail_on']!r}",
                          f"use one of {', '.join(SEVERITIES)}")
    out = Path(raw.get("out", settings.out)).expanduser()
    return replace(settings, notebooks=notebooks or settings.notebooks, retries=retries,
                   dag_id=raw.get("dag_id", settings.dag_id),
                   schedule=raw.get("schedule", settings.schedule),
                   out=out if out.is_absolute() else path.parent / out,
                   fail_on=raw.get("fail_on", settings.fail_on))


def get_profile(name: str | None = None, path: Path | None = None, *,
                profiles: Mapping[str, Profile] | None = None) -> Profile:
    """A profile by name (default: sandbox), from ``profiles`` when the caller has loaded them
    already, else from the profile file."""
    profiles = load_profiles(path) if profiles is None else profiles
    name = name or "sandbox"
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        source = path or config_path()
        read = f"not in {source}" if source else "no profile file found"
        raise ConfigError(f"unknown profile {name!r} ({read})",
                          f"known profiles: {known}. The profile file is the first found of: "
                          f"{searched_places()}. Define [profiles.{name}] in such a file, set "
                          f"{CONFIG_ENV} to the path of the file that has it, or use the "
                          "built-in sandbox")
    prof = profiles[name]
    note = insecure_note(prof)
    if note and prof.name not in _warned:  # once per process: every command selects it here
        _warned.add(prof.name)
        log.warning(note)
    return prof


_warned: set[str] = set()


def insecure_note(prof: Profile | Endpoint) -> str | None:
    """What a run must say about a profile that turns TLS checks off; None when it does not."""
    if prof.verify is not False:
        return None
    return (f"profile {prof.name!r} has verify = false: TLS certificates are not checked, so "
            "anyone on the network path can pose as the tenant and receive its credentials; "
            "set verify = true, or to the CA bundle that signs the tenant's certificate")


@contextmanager
def connect(profile: Profile | Endpoint | str | None = None) -> Iterator[Endpoint]:
    """A tenant to talk to: a cloud or on-prem profile as it is; for a practice profile, the
    practice tenant running for the block's duration (or the one ``OPSKIT_SANDBOX_URL`` names;
    a rehearsal always gets one of its own)."""
    prof = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    if not isinstance(prof, PracticeProfile):  # a real tenant, or a practice one connected
        yield prof
        return
    external = os.environ.get("OPSKIT_SANDBOX_URL")
    with _practice(prof, external if external and not prof.rehearsal else None) as endpoint:
        yield endpoint


@contextmanager
def connect_view(view: Profile | Endpoint | str, beside: Endpoint) -> Iterator[Endpoint]:
    """Another view of the tenant ``beside`` is connected to, such as its ``reference``.

    A practice profile named beside a running practice tenant (same tenant data, neither a
    rehearsal) is served by that same tenant, so both views see one state: a group created
    through one shows in the other. Anything else connects as :func:`connect` does.
    """
    prof = get_profile(view) if isinstance(view, str) else view
    if (isinstance(prof, PracticeProfile) and isinstance(beside, PracticeEndpoint)
            and not prof.rehearsal and not beside.profile.rehearsal
            and prof.data == beside.profile.data):
        with _practice(prof, beside.url) as endpoint:
            yield endpoint
        return
    with connect(prof) as connected:
        yield connected


@contextmanager
def _practice(prof: PracticeProfile, url: str | None) -> Iterator[PracticeEndpoint]:
    """The practice tenant serving ``prof`` (at ``url`` when one runs there already)."""
    # The practice tenant is a separate wing, imported only when used, through its one door.
    from .sandbox.entry import practice

    with practice(prof.data, prof.flavor, rehearsal=prof.rehearsal, url=url) as served:
        yield PracticeEndpoint(
            profile=prof, url=served.url, name=prof.name, flavor=prof.flavor,
            base_url=served.scim_url, token_url=served.token_url, client_id=served.client_id,
            client_secret=None if served.client_secret is None else
            SecretRef.practice(served.client_secret, "client_secret"),
            token=None if served.token is None else SecretRef.practice(served.token,
                                                                       "onprem_token"),
            reference=prof.reference, iga_export=prof.iga_export or served.iga_export_url,
            tenant_name=served.tenant, limits=prof.limits,
            platform_groups_sync=PlatformGroupsSync(  # the practice tenant says how they sync
                served.sync_interval_hours, served.platform_groups_searched_directly,
                given=True))


def alerts_table(path: Path | None = None) -> dict[str, Any] | None:
    """The ``[alerts]`` table of the profile file (read as the profiles are), None without one;
    ``opskit.alerts`` gives it meaning."""
    path = path or config_path()
    if path is None:
        return None
    table = _profile_toml(path).get("alerts")
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: 'alerts' must be a table", "write it as [alerts]")
    return table


def _profile_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_profile_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the line it names") from None
