"""Evidence an auditor can check later: each run folder's ``manifest.json``, ``opskit verify``
and ``opskit bundle``.

The manifest holds the SHA-256 and size of every file in the run folder and of each shared
``_static`` file its report.html links, the run's own facts (notebook, profile, times, status,
redacted parameters), the inventory each run read (as the notebook recorded it), and the
versions of Python, opskit and the libraries that made the report. It is written last, before
the run folder is renamed into place, and its own SHA-256 is printed (``opskit run --json``)
and kept in index.json: that digest, recorded elsewhere, is what an auditor compares later.

A bundle is one zip: the run folder at its place (``<notebook>/<profile>/<stamp>/``), the
``_static`` files it links at theirs (``_static/…``), so every link in report.html holds inside
the unpacked zip, and optionally ``report.pdf`` (printed by headless Chromium), recorded with
its digest in the zip's ``bundle.json``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import posixpath
import re
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import OpskitError
from .assets import STATIC
from .files import atomic_write_bytes
from .secrets import scrub_tree

MANIFEST_FILE = "manifest.json"
BUNDLE_FILE, PDF_FILE = "bundle.json", "report.pdf"
FORMAT = "opskit-run-manifest"
FORMAT_VERSION = 1
REPORT_FILE, RESULTS_FILE = "report.html", "results.json"
# What made the report: the runner's stack, the tenant's client, the analysis, the pages.
PACKAGES = ("opskit", "papermill", "nbclient", "nbformat", "nbconvert", "ipykernel",
            "jupyter_client", "pandas", "pyarrow", "httpx", "scim2-models", "pydantic",
            "plotly", "itables")
# A link from report.html to a shared file: src="../../../_static/plotly-….min.js".
_STATIC_LINK = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"'#?]*?_static/[^"'#?]+)["']""")
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--no-pdf-header-footer")
PDF_TIMEOUT = 120.0  # seconds: a page that takes longer to print is stuck


class NotABundle(OpskitError):
    """``opskit verify`` was given something that is not a run folder or bundle (exit 2)."""


class _Unreadable(Exception):
    """A zip entry whose bytes cannot be read back (a changed byte in its compressed data)."""


UNREADABLE = "cannot be read from the zip"
# What zipfile raises for an entry whose stored bytes were changed: a bad CRC or header
# (BadZipFile), broken deflate data (zlib.error), data cut short (EOFError), a changed
# compression method or flag (NotImplementedError, RuntimeError).
_ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(read: Callable[[], Iterator[bytes]]) -> dict[str, Any]:
    h, size = hashlib.sha256(), 0
    for chunk in read():
        h.update(chunk)
        size += len(chunk)
    return {"sha256": h.hexdigest(), "size": size}


def file_digest(path: Path) -> dict[str, Any]:
    """``{"sha256": …, "size": …}`` of a file, read in chunks (an executed notebook is large)."""
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as fh:
            yield from iter(lambda: fh.read(1 << 20), b"")
    return _digest(chunks)


@cache  # what is installed does not change under a running process; ~50 ms to look up
def _installed() -> dict[str, Any]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return {"python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(terse=True), "packages": found}


def versions() -> dict[str, Any]:
    """Python's and each package's version (None where it is not installed)."""
    return copy.deepcopy(_installed())


def linked_static(report_html: str) -> list[str]:
    """The relative URLs of the shared ``_static`` files a report page links, in order."""
    return list(dict.fromkeys(_STATIC_LINK.findall(report_html)))


def _run_files(run_dir: Path) -> list[Path]:
    """Every regular file under the run folder but the manifest itself, sorted."""
    own = run_dir / MANIFEST_FILE
    return sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink()
                  and p != own)


def _static_entries(run_dir: Path) -> dict[str, dict[str, Any]]:
    report = run_dir / REPORT_FILE
    if not report.is_file():
        return {}
    entries = {}
    for url in linked_static(report.read_text(encoding="utf-8", errors="replace")):
        target = run_dir / url
        entries[url] = file_digest(target) if target.is_file() else {"sha256": None,
                                                                     "size": None}
    return entries


def inventory_identification(results: dict[str, Any]) -> dict[str, Any]:
    """What identifies the inventories the run read. The notebooks keep no snapshot in the run
    folder; the permission audit records each inventory it read (source, flavor, when fetched,
    rows per listing, complete) and the checksum of the grant history it saved beside the run
    folders, in its metrics: copied here (results.json's own checksum covers them too)."""
    metrics = results.get("metrics") or {}
    read, saved = metrics.get("inventory"), metrics.get("grant_history")
    return {"snapshot_in_run_folder": False,
            "read": read if isinstance(read, list) else [],
            "saved": saved if isinstance(saved, dict) else None}


def build_manifest(run_dir: Path, results: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a run folder whose files are all written (see the module docstring)."""
    files = {p.relative_to(run_dir).as_posix(): file_digest(p) for p in _run_files(run_dir)}
    return scrub_tree({
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "run": {key: results.get(key) for key in ("notebook", "profile", "started_at",
                                                  "finished_at", "status", "fail_on",
                                                  "fleet_run")},
        "parameters": results.get("parameters", {}),
        "versions": versions(),
        "inventory": inventory_identification(results),
        "files": files,
        "static": _static_entries(run_dir),
    })


def _encode(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")


def write_manifest(run_dir: Path, results: dict[str, Any]) -> str:
    """Write ``manifest.json`` into the run folder (last: it covers every other file there);
    return its SHA-256."""
    data = _encode(build_manifest(run_dir, results))
    atomic_write_bytes(run_dir / MANIFEST_FILE, data)
    return sha256_bytes(data)


def refresh_manifest(run_dir: Path) -> str | None:
    """Rewrite a run folder's manifest after its files were changed on purpose (the fleet
    masking a secret): the checksums anew, everything else as it was. None: no manifest."""
    path = run_dir / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    manifest["files"] = {p.relative_to(run_dir).as_posix(): file_digest(p)
                         for p in _run_files(run_dir)}
    manifest["static"] = _static_entries(run_dir)
    data = _encode(manifest)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def manifest_digest(run_dir: Path) -> str | None:
    """The SHA-256 of a run folder's manifest as it is now; None when it has none."""
    try:
        return sha256_bytes((run_dir / MANIFEST_FILE).read_bytes())
    except OSError:
        return None


# --------------------------------------------------------------------------- verifying
@dataclass(frozen=True)
class Problem:
    """One difference between a bundle and its manifest."""

    kind: str  # "altered", "missing" or "added"
    name: str  # as the bundle holds it: a path inside the run folder, or ``_static/…``
    detail: str = ""

    def line(self) -> str:
        return f"{self.kind}: {self.name}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Verified:
    """What ``verify`` found: the manifest's digest, how many files it checked, the problems."""

    manifest_sha256: str
    checked: int
    problems: list[Problem]
    pdf_sha256: str | None = None  # a bundle's report.pdf, as bundle.json records it


class _Folder:
    """A run folder's files by name (posix paths relative to it)."""

    def __init__(self, run_dir: Path):
        self.root = run_dir
        self.manifest_name = MANIFEST_FILE
        self.names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                      if p.is_file() or p.is_symlink()}

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def digest(self, name: str) -> dict[str, Any]:
        return file_digest(self.root / name)

    def run_name(self, name: str) -> str:
        return name

    def static_name(self, url: str) -> str:
        return url  # resolved from the run folder, where it lies

    def exists(self, name: str) -> bool:
        return name in self.names or (self.root / name).is_file()

    def extras(self, problems: list[Problem], manifest_sha256: str) -> set[str]:
        return set()


class _Zip:
    """A bundle's files by name (paths in the zip); the run folder is where its manifest is."""

    def __init__(self, path: Path, archive: zipfile.ZipFile):
        self.archive = archive
        self.names = {i.filename for i in archive.infolist() if not i.is_dir()}
        self.pdf_sha256: str | None = None
        found = [n for n in self.names
                 if posixpath.basename(n) == MANIFEST_FILE and self._may_be_manifest(n)]
        if len(found) != 1:
            why = "holds no run manifest" if not found else \
                f"holds {len(found)} run manifests (a bundle holds one run)"
            raise NotABundle(f"{path} is not an opskit bundle: it {why}",
                             "give a zip made by `opskit bundle`, or a run folder")
        self.manifest_name = found[0]
        self.prefix = posixpath.dirname(found[0])

    def _may_be_manifest(self, name: str) -> bool:
        try:
            return _is_manifest(self.read(name))
        except _Unreadable:  # a damaged manifest: verify says so
            return True

    def read(self, name: str) -> bytes:
        try:
            return self.archive.read(name)
        except _ZIP_READ_ERRORS as exc:
            raise _Unreadable(name) from exc

    def digest(self, name: str) -> dict[str, Any]:
        data = self.read(name)
        return {"sha256": sha256_bytes(data), "size": len(data)}

    def run_name(self, name: str) -> str:
        return posixpath.join(self.prefix, name) if self.prefix else name

    def static_name(self, url: str) -> str:
        return posixpath.normpath(posixpath.join(self.prefix, url))

    def exists(self, name: str) -> bool:
        return name in self.names

    def extras(self, problems: list[Problem], manifest_sha256: str) -> set[str]:
        """The bundle's own record (bundle.json) and what it lists (report.pdf, the one
        extra `opskit bundle` writes), checked against it; the names it accounts for.
        bundle.json is covered by no digest: it must name the manifest's, and list nothing
        but report.pdf (anything else it lists is named as added)."""
        if BUNDLE_FILE not in self.names:
            return set()
        try:
            record = json.loads(self.read(BUNDLE_FILE))
            extras = {str(k): v for k, v in dict(record.get("extras") or {}).items()}
            if not set(extras) <= {PDF_FILE}:
                raise ValueError("an extra opskit bundle does not write")
        except _Unreadable:
            problems.append(Problem("altered", BUNDLE_FILE, UNREADABLE))
            return {BUNDLE_FILE}
        except (ValueError, AttributeError, TypeError):
            problems.append(Problem("altered", BUNDLE_FILE, "not the JSON `opskit bundle` "
                                    "writes"))
            return {BUNDLE_FILE}
        if record.get("manifest_sha256") != manifest_sha256:
            problems.append(Problem("altered", BUNDLE_FILE, "its manifest_sha256 is not the "
                                    "SHA-256 of the bundle's manifest"))
        if PDF_FILE in extras:
            entry = extras[PDF_FILE]
            sha = entry.get("sha256") if isinstance(entry, dict) else None
            found = _check(self, PDF_FILE, sha, BUNDLE_FILE)
            if found is None:
                self.pdf_sha256 = sha
            else:
                problems.append(found)
        return {BUNDLE_FILE, *extras}


def _check(source: _Folder | _Zip, name: str, sha: Any, against: str) -> Problem | None:
    """None when ``name`` is there with the SHA-256 ``against`` records; else what differs."""
    if not source.exists(name):
        return Problem("missing", name)
    try:
        same = source.digest(name)["sha256"] == sha
    except _Unreadable:
        return Problem("altered", name, UNREADABLE)
    return None if same else Problem("altered", name, f"its SHA-256 differs from {against}")


def _is_manifest(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def _entries(manifest: Any) -> tuple[dict[str, str], dict[str, str | None]] | None:
    """The run files' and the shared files' recorded SHA-256 by name (None: a shared file
    the report linked was missing when the manifest was written); None when the manifest
    is not one opskit wrote (a name that leaves the run folder, other than a link into the
    report folder's _static/, is not)."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    found: list[dict[str, Any]] = []
    for key, recorded in (("files", (str,)), ("static", (str, type(None)))):
        section = manifest.get(key) or {}
        if not isinstance(section, dict) or not all(
                isinstance(e, dict) and isinstance(e.get("sha256"), recorded)
                for e in section.values()):
            return None
        found.append({str(name): e["sha256"] for name, e in section.items()})
    files, static = found
    inside = all(".." not in PurePosixPath(n).parts and not PurePosixPath(n).is_absolute()
                 for n in files)
    linked = all(not PurePosixPath(u).is_absolute() and STATIC in PurePosixPath(u).parts
                 for u in static)
    return (files, static) if inside and linked else None


def verify(path: Path, *, digest: str | None = None) -> Verified:
    """Check a run folder or a bundle zip against its manifest (and the manifest against
    ``digest``, a SHA-256 recorded when the run was made). Raises NotABundle when ``path`` is
    neither."""
    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST_FILE).is_file():
            raise NotABundle(f"{path} is not an opskit run folder or bundle: it has no "
                             f"{MANIFEST_FILE}",
                             "give a run folder (<out>/<notebook>/<profile>/<stamp>) written "
                             "by this opskit, or a zip made by `opskit bundle`")
        return _verify(_Folder(path), digest)
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise NotABundle(f"{path} is a damaged zip: its list of files cannot be read "
                             f"({exc})", "give an intact copy of the bundle") from None
        with archive:
            return _verify(_Zip(path, archive), digest)
    if not path.exists():
        raise NotABundle(f"{path} does not exist",
                         "give a run folder or a zip made by `opskit bundle`")
    raise NotABundle(f"{path} is not an opskit run folder or bundle (neither a folder nor a "
                     "zip)", "give a run folder or a zip made by `opskit bundle`")


def _verify(source: _Folder | _Zip, digest: str | None) -> Verified:
    try:
        raw = source.read(source.manifest_name)
    except _Unreadable:  # nothing can be checked against a manifest that cannot be read
        return Verified("", 0, [Problem("altered", source.manifest_name, UNREADABLE)])
    own = sha256_bytes(raw)
    problems: list[Problem] = []
    if digest is not None and digest.strip().lower() != own:
        problems.append(Problem("altered", source.manifest_name,
                                f"its SHA-256 is {own}, not the recorded {digest.strip()}"))
    try:
        entries = _entries(json.loads(raw))
    except ValueError:
        entries = None
    if entries is None:  # a manifest that cannot be read checks nothing: that alone is said
        return Verified(own, 0, [Problem("altered", source.manifest_name,
                                         "not a manifest opskit wrote")])
    files, static = entries
    expected: dict[str, str | None] = {source.run_name(n): sha for n, sha in files.items()}
    expected.update({source.static_name(u): sha for u, sha in static.items()})
    for name, sha in sorted(expected.items()):
        if sha is None:  # a linked shared file that was not there when the run was made
            problems.append(Problem("missing", name, "not there when the manifest was written"))
        elif found := _check(source, name, sha, "the manifest"):
            problems.append(found)
    known = {*expected, source.manifest_name, *source.extras(problems, own)}
    problems += [Problem("added", name) for name in sorted(source.names - known)]
    return Verified(own, len(expected), problems,
                    source.pdf_sha256 if isinstance(source, _Zip) else None)


# --------------------------------------------------------------------------- bundling
@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest_sha256: str
    notes: list[str]
    pdf_sha256: str | None = None  # report.pdf's, when the bundle holds one


def find_chromium() -> Path | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def print_pdf(report: Path, target: Path, chromium: Path) -> str | None:
    """Print report.html to a PDF with headless Chromium; None when done, else why not."""
    with tempfile.TemporaryDirectory(prefix="opskit-chromium-") as profile_dir:
        command = [str(chromium), *CHROMIUM_ARGS, f"--user-data-dir={profile_dir}",
                   f"--print-to-pdf={target}", report.resolve().as_uri()]
        try:
            proc = subprocess.run(command, capture_output=True, text=True,
                                  timeout=PDF_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return f"{chromium} did not print report.html within {PDF_TIMEOUT:.0f} s"
        except OSError as exc:
            return f"{chromium} could not start ({exc.strerror or exc})"
    if proc.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return f"{chromium} did not print report.html: {last}"
    return None


def bundle(run_dir: Path, out: Path, *, pdf: bool = False) -> Bundle:
    """Zip a run folder with the shared files its report links (and report.pdf with ``pdf``,
    where Chromium is installed). The run folder must match its manifest."""
    run_dir = Path(run_dir)
    if run_dir.resolve() in Path(out).resolve().parents:
        raise OpskitError(f"{out} is inside the run folder {run_dir}",
                          "write the bundle elsewhere: a file added to a run folder is named "
                          "by `opskit verify` as added")
    checked = verify(run_dir)
    if checked.problems:
        raise OpskitError(f"{run_dir} does not match its manifest: "
                          + "; ".join(p.line() for p in checked.problems),
                          "bundle only an untouched run folder (`opskit verify` says what "
                          "changed)")
    manifest = json.loads((run_dir / MANIFEST_FILE).read_bytes())
    # The run folder at its place under its report folder (<notebook>/<profile>/<stamp>), and
    # each shared file where the report's relative link (../../../_static/…) finds it.
    place = posixpath.join(*run_dir.resolve().parts[-3:])
    shared = {url: posixpath.normpath(posixpath.join(place, url))
              for url in manifest.get("static") or {}}
    if any(name.startswith("../") for name in shared.values()):
        raise OpskitError(f"the report in {run_dir} links shared files outside its report "
                          f"folder ({', '.join(shared)})",
                          "bundle a run folder where `opskit run` wrote it "
                          "(<out>/<notebook>/<profile>/<stamp>)")
    notes: list[str] = []
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="opskit-bundle-") as work:
        extras: dict[str, dict[str, Any]] = {}
        if pdf:
            chromium = find_chromium()
            if chromium is None:
                notes.append("no report.pdf: headless Chromium is not installed here "
                             "(Debian: apt-get install chromium); the bundle holds the rest")
            else:
                printed = Path(work) / PDF_FILE
                why = print_pdf(run_dir / REPORT_FILE, printed, chromium)
                if why is None:
                    extras[PDF_FILE] = file_digest(printed)
                else:
                    notes.append(f"no report.pdf: {why}")
        tmp = Path(work) / "bundle.zip"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in [*_run_files(run_dir), run_dir / MANIFEST_FILE]:
                archive.write(path, posixpath.join(place, path.relative_to(run_dir).as_posix()))
            for url, name in shared.items():
                archive.write(run_dir / url, name)
            if extras:
                archive.write(Path(work) / PDF_FILE, PDF_FILE)
            record = {"format": "opskit-bundle", "format_version": FORMAT_VERSION,
                      "run": place,
                      "manifest_sha256": checked.manifest_sha256, "extras": extras}
            archive.writestr(BUNDLE_FILE, json.dumps(record, indent=2) + "\n")
        atomic_write_bytes(out, tmp.read_bytes())
    pdf_sha = extras[PDF_FILE]["sha256"] if extras else None
    return Bundle(out, checked.manifest_sha256, notes, pdf_sha)
