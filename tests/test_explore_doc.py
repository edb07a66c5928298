"""docs/explore.md, the walkthrough on the demo: every image it shows is in the repository, and
every command it tells a person to type is one opskit (or the Makefile) takes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from opskit.cli import build_parser

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "explore.md"
# A command as typed: environment assignments first, then make or opskit.
COMMAND = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:make|(?:\.venv/bin/)?opskit) ")


def commands(text: str) -> list[str]:
    """The lines of its sh blocks (comments cut) and the inline code that reads as a command."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        found += [line.split(" #")[0].strip() for line in block.splitlines()]
    found += [span for span in re.findall(r"`([^`\n]+)`", text) if COMMAND.match(span)]
    return [c for c in found if c]


def test_every_image_the_walkthrough_shows_is_there_and_small() -> None:
    text = DOC.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 4
    for image in images:
        path = DOC.parent / image
        assert path.is_file(), image
        assert path.suffix == ".png" and path.stat().st_size < 200_000, image
    shipped = {p.name for p in (DOC.parent / "images").glob("*.png")}
    assert shipped == {Path(i).name for i in images}  # none left behind unreferenced


def test_every_command_the_walkthrough_shows_is_a_real_one() -> None:
    targets = set(re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(), re.M))
    shown = commands(DOC.read_text(encoding="utf-8"))
    ran = [c for c in shown if COMMAND.match(c + " ")]
    assert len(ran) >= 6 and any("compare" in c for c in ran)
    for line in shown:
        words = shlex.split(line)
        if words[0] == "export":  # a shell's own, setting what the next commands read
            assert re.fullmatch(r"[A-Z_]+=\S+", words[1]), line
            continue
        while "=" in words[0]:
            words.pop(0)
        if words[0] == "make":
            assert set(words[1:]) <= targets, line
            continue
        assert words[0] in ("opskit", ".venv/bin/opskit"), line
        try:
            build_parser().parse_args(words[1:])
        except SystemExit:
            pytest.fail(f"opskit does not take: {line}")
