"""Evidence for auditors: a real run's manifest, `opskit verify` on the run folder and on its
bundle (untouched, one altered byte in each kind of file, a file removed or added), `opskit
bundle` (and its PDF where Chromium is installed), and no secret in any of it.

One notebook run (tests/notebooks/figure.ipynb, whose report links the shared plotly.js) into
one output folder; each test alters its own copy."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opskit._redact import MASK, remember
from opskit._run import evidence, isolation
from opskit._run.evidence import MANIFEST_FILE, UNREADABLE, NotABundle, Problem, verify
from opskit.cli import main
from opskit.runner import RunResult, run_notebook

from .test_runner import closed_port_url, write_config

NOTEBOOK = Path(__file__).parent / "notebooks" / "figure.ipynb"
SECRET = "s3cr3t-Value-for-the-evidence-test"

pytestmark = pytest.mark.slow  # one notebook run


@dataclass(frozen=True)
class Run:
    out: Path
    result: RunResult

    @property
    def rel(self) -> Path:
        return self.result.run_dir.relative_to(self.out)

    def copy(self, where: Path) -> Path:
        """A copy of the whole output folder; the copy's run folder."""
        shutil.copytree(self.out, where / "out")
        return where / "out" / self.rel


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    out = tmp_path_factory.mktemp("out")
    config = write_config(tmp_path_factory.mktemp("config") / "opskit.toml",
                          audited=closed_port_url())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPSKIT_CONFIG", str(config))
        mp.setenv("OPSKIT_TEST_SECRET", SECRET)
        result = run_notebook(NOTEBOOK, profile="audited", out_dir=out, single_file=False)
    assert result.status == "ok", result.error
    yield Run(out, result)


def _flip_byte(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if at is None else at
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def _static(run_dir: Path) -> str:
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    [url] = manifest["static"]
    return str(url)


# --------------------------------------------------------------------------- the manifest
def test_the_manifest_covers_every_file_the_linked_static_file_and_the_run(run: Run) -> None:
    run_dir = run.result.run_dir
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    assert sorted(manifest["files"]) == ["figure.ipynb", "findings.csv", "report.html",
                                         "results.json"]
    for name, entry in manifest["files"].items():
        assert entry == evidence.file_digest(run_dir / name), name
        assert entry["size"] == (run_dir / name).stat().st_size
    [(url, entry)] = manifest["static"].items()
    assert url.startswith("../../../_static/plotly-") and url in run.result.report.read_text()
    assert entry == evidence.file_digest(run_dir / url)
    results = json.loads((run_dir / "results.json").read_text())
    assert manifest["run"] == {"notebook": "figure", "profile": "audited",
                               "started_at": results["started_at"],
                               "finished_at": results["finished_at"], "status": "ok",
                               "fail_on": "high", "fleet_run": None}
    assert manifest["parameters"] == {"profile": "audited"}
    packages = manifest["versions"]["packages"]
    for name in ("opskit", "papermill", "nbclient", "ipykernel", "pandas", "httpx",
                 "scim2-models", "plotly"):
        assert packages[name], name
    assert manifest["versions"]["python"].count(".") == 2
    assert manifest["inventory"] == {"snapshot_in_run_folder": False, "read": [],
                                     "saved": None}  # this notebook reads no inventory


def test_the_manifest_digest_is_in_the_run_summary_and_the_index(run: Run) -> None:
    digest = evidence.sha256_bytes((run.result.run_dir / MANIFEST_FILE).read_bytes())
    assert run.result.summary()["manifest_sha256"] == digest
    [entry] = json.loads((run.out / "index.json").read_text())["runs"]
    assert entry["manifest_sha256"] == digest


def test_no_secret_in_the_manifest_or_the_bundle(run: Run, tmp_path: Path) -> None:
    assert SECRET not in (run.result.run_dir / MANIFEST_FILE).read_text()
    zipped = tmp_path / "run.zip"
    evidence.bundle(run.result.run_dir, zipped)
    with zipfile.ZipFile(zipped) as archive:
        for name in archive.namelist():
            assert SECRET.encode() not in archive.read(name), name


def test_a_secret_in_the_recorded_parameters_is_masked_in_the_manifest(tmp_path: Path) -> None:
    remember("a-Parameter-Secret-5Jt1")
    (tmp_path / "results.json").write_text("{}")
    evidence.write_manifest(tmp_path, {"parameters": {"note": "a-Parameter-Secret-5Jt1"}})
    text = (tmp_path / MANIFEST_FILE).read_text()
    assert "a-Parameter-Secret-5Jt1" not in text and MASK in text


# --------------------------------------------------------------------------- verify a folder
def test_an_untouched_run_folder_verifies(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    checked = verify(run.result.run_dir)
    assert checked.problems == [] and checked.checked == 5
    digest = run.result.summary()["manifest_sha256"]
    assert main(["verify", str(run.result.run_dir), "--digest", digest]) == 0
    assert capsys.readouterr().out == (f"ok: 5 file(s) match the recorded digest (manifest "
                                       f"SHA-256 {digest})\n")


def test_one_altered_byte_in_each_kind_of_file_is_named(run: Run, tmp_path: Path) -> None:
    static = _static(run.result.run_dir)
    for i, name in enumerate(["figure.ipynb", "report.html", "results.json", "findings.csv",
                              static]):
        run_dir = run.copy(tmp_path / str(i))
        _flip_byte(run_dir / name)
        assert verify(run_dir).problems == [
            Problem("altered", name, "its SHA-256 differs from the manifest")], name


def test_an_altered_manifest_is_named_against_the_recorded_digest(
        run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = run.result.summary()["manifest_sha256"]
    run_dir = run.copy(tmp_path)
    # Altered with the file it covers, so that only the recorded digest can tell.
    _flip_byte(run_dir / "findings.csv", at=0)
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    manifest["files"]["findings.csv"] = evidence.file_digest(run_dir / "findings.csv")
    (run_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    assert verify(run_dir).problems == []
    assert main(["verify", str(run_dir), "--digest", digest]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"altered: {MANIFEST_FILE} (its SHA-256 is ")
    assert captured.out.count("\n") == 1 and f"not the recorded {digest})" in captured.out
    assert captured.err == f"opskit: {run_dir} does not match its manifest: 1 difference(s)\n"


def test_a_removed_and_an_added_file_are_named(run: Run, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = run.copy(tmp_path)
    static = _static(run_dir)
    (run_dir / "findings.csv").unlink()
    (run_dir / static).unlink()
    (run_dir / "notes.txt").write_text("added later\n")
    assert main(["verify", str(run_dir)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"missing: {static}", "missing: findings.csv", "added: notes.txt"]


def test_a_linked_file_missing_when_the_manifest_was_written_is_named_missing(
        run: Run, tmp_path: Path) -> None:
    run_dir = run.copy(tmp_path)
    static = _static(run_dir)
    (run_dir / static).unlink()
    evidence.refresh_manifest(run_dir)  # records the link with no digest
    assert json.loads((run_dir / MANIFEST_FILE).read_text())["static"][static] == {
        "sha256": None, "size": None}
    (run_dir / "findings.csv").write_text("changed\n")
    assert verify(run_dir).problems == [
        Problem("missing", static, "not there when the manifest was written"),
        Problem("altered", "findings.csv", "its SHA-256 differs from the manifest")]


def test_a_manifest_opskit_did_not_write_is_named_and_checks_nothing(
        run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = run.copy(tmp_path)
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    # A name that leaves the run folder (not a link into _static/) is not one opskit writes.
    broken = {"not JSON": "{", "outside": json.dumps(
        {**manifest, "files": {"../../../index.json": manifest["files"]["results.json"]}}),
        "not entries": json.dumps({**manifest, "static": {"_static/x.js": "abc"}})}
    for why, text in broken.items():
        (run_dir / MANIFEST_FILE).write_text(text)
        assert main(["verify", str(run_dir)]) == 1, why
        assert capsys.readouterr().out == (f"altered: {MANIFEST_FILE} (not a manifest opskit "
                                           "wrote)\n"), why


def test_what_is_not_a_bundle_is_refused_in_one_line(run: Run, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain.txt").write_text("hello")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("manifest.json", '{"schema_version": 2, "files": {}}')  # a snapshot's
    cases = {run.out: "has no manifest.json", tmp_path / "plain.txt": "neither a folder nor a zip",
             tmp_path / "other.zip": "it holds no run manifest",
             tmp_path / "missing": "does not exist"}
    for path, why in cases.items():
        with pytest.raises(NotABundle):
            verify(path)
        assert main(["verify", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err and " → give " in err, err
    assert main(["verify", str(run.result.run_dir), "--digest", "abc"]) == 2
    assert "is not a SHA-256" in capsys.readouterr().err


# --------------------------------------------------------------------------- bundles
def test_the_bundle_verifies_and_a_tampered_one_is_named(run: Run, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    zipped = tmp_path / "run.zip"
    assert main(["bundle", str(run.result.run_dir), "--out", str(zipped)]) == 0
    digest = run.result.summary()["manifest_sha256"]
    assert capsys.readouterr().out == f"bundle: {zipped} (manifest SHA-256 {digest})\n"
    rel = run.rel.as_posix()
    with zipfile.ZipFile(zipped) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    static = f"_static/{Path(_static(run.result.run_dir)).name}"
    assert sorted(entries) == sorted([*(f"{rel}/{n}" for n in (
        "figure.ipynb", "findings.csv", "report.html", "results.json", MANIFEST_FILE)),
        static, "bundle.json"])
    assert verify(zipped).problems == []
    assert main(["verify", str(zipped), "--digest", digest]) == 0
    capsys.readouterr()

    def rezip(name: str, changed: dict[str, bytes | None]) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for entry, data in {**entries, **changed}.items():
                if data is not None:
                    archive.writestr(entry, data)
        return path

    report = entries[f"{rel}/report.html"]
    tampered = report[:100] + bytes([report[100] ^ 1]) + report[101:]
    assert main(["verify", str(rezip("t.zip", {f"{rel}/report.html": tampered}))]) == 1
    assert capsys.readouterr().out == (f"altered: {rel}/report.html (its SHA-256 differs from "
                                       "the manifest)\n")
    assert verify(rezip("s.zip", {static: entries[static] + b"\n"})).problems == [
        Problem("altered", static, "its SHA-256 differs from the manifest")]
    assert verify(rezip("m.zip", {f"{rel}/findings.csv": None, "extra.txt": b"x"})
                  ).problems == [Problem("missing", f"{rel}/findings.csv"),
                                 Problem("added", "extra.txt")]


def _flip_in_zip(zipped: Path, name: str, into: Path) -> Path:
    """A copy of the zip with one raw byte changed in the middle of ``name``'s stored data."""
    with zipfile.ZipFile(zipped) as archive:
        info = archive.getinfo(name)
    data = zipped.read_bytes()
    # The entry's data follows its 30-byte local header, file name and extra field.
    start = info.header_offset + 30 + int.from_bytes(data[info.header_offset + 26:
                                                          info.header_offset + 28], "little") \
        + int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    shutil.copy(zipped, into)
    _flip_byte(into, start + info.compress_size // 2)
    return into


def test_one_raw_byte_changed_in_the_zip_names_the_entry(run: Run, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    zipped = tmp_path / "run.zip"
    evidence.bundle(run.result.run_dir, zipped)
    rel = run.rel.as_posix()
    for name in ("report.html", "figure.ipynb", "findings.csv"):
        flipped = _flip_in_zip(zipped, f"{rel}/{name}", tmp_path / f"{name}.zip")
        assert main(["verify", str(flipped)]) == 1, name
        assert capsys.readouterr().out == f"altered: {rel}/{name} ({UNREADABLE})\n", name
    flipped = _flip_in_zip(zipped, f"{rel}/{MANIFEST_FILE}", tmp_path / "manifest.zip")
    assert verify(flipped).problems == [Problem("altered", f"{rel}/{MANIFEST_FILE}",
                                                UNREADABLE)]
    # The zip's list of files (its central directory) damaged: one line, exit 2.
    with zipfile.ZipFile(zipped) as archive:
        directory = archive.start_dir
    broken = tmp_path / "directory.zip"
    shutil.copy(zipped, broken)
    _flip_byte(broken, directory)
    assert main(["verify", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a damaged zip" in err and " → give " in err, err


def _rezip(zipped: Path, into: Path, changed: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(zipped) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(into, "w") as archive:
        for name, data in {**entries, **changed}.items():
            archive.writestr(name, data)
    return into


def test_bundle_json_accounts_only_for_the_pdf_and_names_the_manifest(
        run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zipped = tmp_path / "run.zip"
    evidence.bundle(run.result.run_dir, zipped)
    with zipfile.ZipFile(zipped) as archive:
        record = json.loads(archive.read("bundle.json"))
    evil = b"<script>alert(1)</script>"
    listed = {**record, "extras": {"evil.html": {"sha256": evidence.sha256_bytes(evil),
                                                 "size": len(evil)}}}
    assert verify(_rezip(zipped, tmp_path / "evil.zip", {
        "evil.html": evil, "bundle.json": json.dumps(listed).encode()})).problems == [
        Problem("altered", "bundle.json", "not the JSON `opskit bundle` writes"),
        Problem("added", "evil.html")]
    other = {**record, "manifest_sha256": "0" * 64}
    assert verify(_rezip(zipped, tmp_path / "other.zip", {
        "bundle.json": json.dumps(other).encode()})).problems == [
        Problem("altered", "bundle.json",
                "its manifest_sha256 is not the SHA-256 of the bundle's manifest")]
    # A PDF listed as `opskit bundle` lists it verifies, and its SHA-256 is printed.
    pdf = b"%PDF-1.4 a report\n"
    with_pdf = {**record, "extras": {"report.pdf": evidence.file_digest(
        _write(tmp_path / "report.pdf", pdf))}}
    good = _rezip(zipped, tmp_path / "pdf.zip", {"report.pdf": pdf,
                                                 "bundle.json": json.dumps(with_pdf).encode()})
    assert verify(good).pdf_sha256 == evidence.sha256_bytes(pdf)
    assert main(["verify", str(good)]) == 0
    assert capsys.readouterr().out.endswith(
        f"; report.pdf SHA-256 {evidence.sha256_bytes(pdf)})\n")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_bundle_prints_the_pdf_digest(run: Run, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A stand-in for Chromium (a real process) that prints a fixed PDF."""
    fake = _write(tmp_path / "chromium", b"#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in "
                  b"--print-to-pdf=*) printf '%%PDF-1.4 fake' > \"${a#--print-to-pdf=}\";; "
                  b"esac; done\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    zipped = tmp_path / "run.zip"
    assert main(["bundle", str(run.result.run_dir), "--out", str(zipped), "--pdf"]) == 0
    pdf_sha = evidence.sha256_bytes(b"%PDF-1.4 fake")
    assert capsys.readouterr().out.endswith(f"; report.pdf SHA-256 {pdf_sha})\n")
    assert verify(zipped).problems == [] and verify(zipped).pdf_sha256 == pdf_sha


def test_a_run_folder_that_does_not_match_is_not_bundled(run: Run, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    run_dir = run.copy(tmp_path)
    _flip_byte(run_dir / "results.json")
    assert main(["bundle", str(run_dir), "--out", str(tmp_path / "run.zip")]) == 2
    err = capsys.readouterr().err
    assert "does not match its manifest: altered: results.json" in err and "opskit verify" in err
    assert not (tmp_path / "run.zip").exists()
    inside = run.result.run_dir / "run.zip"
    assert main(["bundle", str(run.result.run_dir), "--out", str(inside)]) == 2
    assert "is inside the run folder" in capsys.readouterr().err and not inside.exists()


def test_a_manifest_rewritten_after_the_fleet_masked_a_secret_verifies(run: Run,
                                                                       tmp_path: Path) -> None:
    """What the fleet does when a run's own scrubbing missed a secret (fleet.run_tenant)."""
    run_dir = run.copy(tmp_path)
    before = evidence.manifest_digest(run_dir)
    results = run_dir / "results.json"
    results.write_text(results.read_text().replace('"audited"', '"missed-Secret-8Fw2"', 1))
    remember("missed-Secret-8Fw2")
    assert isolation.scrub_files(run_dir) == [results]
    assert verify(run_dir).problems == [
        Problem("altered", "results.json", "its SHA-256 differs from the manifest")]
    after = evidence.refresh_manifest(run_dir)
    assert after == evidence.manifest_digest(run_dir) != before
    assert verify(run_dir).problems == []
    assert "missed-Secret-8Fw2" not in (run_dir / MANIFEST_FILE).read_text()


def test_without_chromium_the_bundle_says_there_is_no_pdf(run: Run, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium to be found
    zipped = tmp_path / "run.zip"
    assert main(["bundle", str(run.result.run_dir), "--out", str(zipped), "--pdf"]) == 0
    assert capsys.readouterr().err == (
        "opskit: warning: no report.pdf: headless Chromium is not installed here (Debian: "
        "apt-get install chromium); the bundle holds the rest\n")
    assert verify(zipped).problems == []
    with zipfile.ZipFile(zipped) as archive:
        assert "report.pdf" not in archive.namelist()


@pytest.mark.browser
def test_the_bundle_holds_a_pdf_of_the_report_where_chromium_is_installed(
        run: Run, tmp_path: Path) -> None:
    if evidence.find_chromium() is None:
        pytest.skip("no chromium here: the bundle then says there is no report.pdf")
    zipped = tmp_path / "run.zip"
    made = evidence.bundle(run.result.run_dir, zipped, pdf=True)
    assert made.notes == []
    with zipfile.ZipFile(zipped) as archive:
        pdf = archive.read("report.pdf")
        entries = {name: archive.read(name) for name in archive.namelist()}
    assert pdf.startswith(b"%PDF-")
    assert verify(zipped).problems == []
    tampered = tmp_path / "t.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data + b"%" if name == "report.pdf" else data)
    assert verify(tampered).problems == [
        Problem("altered", "report.pdf", "its SHA-256 differs from bundle.json")]
