"""Keyed pseudonyms: names replaced by stand-ins that keep every comparison opskit makes.

A twin of a tenant and a capture of a server's answers carry no real name, e-mail or display
name, yet must give the same findings. So a name is pseudonymised word by word: separators
(spaces, ``@``, ``.``, ``\\``, ``-``, ``_``) stay where they were, and each word becomes letters
drawn from HMAC-SHA256 of the key and the word's compared form (Unicode NFKC, case-folded).
Hence:

- the same key gives the same pseudonym everywhere (a twin and a capture of one tenant, or two
  twins made months apart, line up), and a different key gives unrelated ones;
- names equal ignoring case stay equal ignoring case, and their case pattern is kept, so
  ``DBA`` and ``dba`` stay one group to a case-blind comparison and two to an exact one;
- a word whose Unicode form differs from its NFKC form in its first character only
  (``Ｆinance``) keeps a compatibility character there, so a match "after Unicode
  normalisation" stays one; a word NFKC changes elsewhere (``Fｉnance``, ``Ǆemal``) is kept
  apart exactly instead (still marked as not in NFKC form), since two such words must never
  share a pseudonym;
- words that case-fold alike yet differ in lower case (``Weiß``, ``Weiss``) stay apart: the
  letters of a word whose compared form holds ``ss`` end in ``ss``, written ``ß`` where the word
  had one (and ``σ``/``ς`` likewise) where that one letter is the whole difference; other
  such words (two ß, a ß beside an ss, rarer letters) are kept apart exactly, at the cost of a
  case-blind match;
- domain prefixes and suffixes (``ACME\\Finance``, ``alice@acme.com``, also in their fullwidth
  forms) keep their shape.

A word's pseudonym is at least twelve letters, its length rounded up to a multiple of four (a
name's length says little). Among the ~10^6 words of the largest tenants a chance collision is
then about one in 10^5 runs; one is detected and lengthened away (which pseudonym is lengthened
then depends on which word came first).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from . import _redact
from ._localfile import UnreadableFile, read_regular_file
from .errors import ConfigError

# What separates the words of a name, and every compatibility form of one (fullwidth ＼, small
# ﹫, ․), which NFKC maps to it: kept verbatim, so a name's shape survives.
_SEPARATOR_CHARS = "\\/@._-,:;()[]"
_SEPARATOR_CHARS += "".join(  # every character NFKC maps to one of them (~15 ms, once)
    c for c in map(chr, range(0xA0, 0x10000))
    if c not in _SEPARATOR_CHARS and unicodedata.normalize("NFKC", c) in _SEPARATOR_CHARS)
_SEPARATORS = re.compile(r"(\s+|[" + re.escape(_SEPARATOR_CHARS) + "])")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_MIN_LENGTH = 12
KEY_BYTES = 32


def new_key() -> str:
    """A fresh key, as hex text: the operator keeps it to make pseudonyms that line up."""
    return secrets.token_hex(KEY_BYTES)


def default_key_path() -> Path:
    """Where the operator's key lives unless a command is told otherwise: in the user's own
    configuration folder, never beside a twin or a capture (which are made to be handed on)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opskit" / "pseudonym.key"


def write_key(path: Path, key: str) -> None:
    """Keep a new key in ``path``, readable by its owner only (never over an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    _redact.remember(key)


def key_from_file(path: Path, create: bool = True) -> tuple[str, bool]:
    """The key kept in ``path`` (hex text), and whether it was made now: a missing file is
    created with a new key, readable by its owner only, where ``create``. The key never shows
    in a message or a log line."""
    if create and not path.exists():
        key = new_key()
        write_key(path, key)
        return key, True
    try:
        text = read_regular_file(path, limit=4096).decode("ascii").strip()
        bytes.fromhex(text)
    except UnreadableFile as exc:
        raise ConfigError(f"the pseudonym key file {path} {exc}",
                          "name the file that holds the key of this tenant's twins "
                          "(--key-file)") from None
    except ValueError:
        raise ConfigError(f"the pseudonym key file {path} does not hold a key (hex text)",
                          "name the file opskit wrote (or delete it to start a new key; "
                          "earlier twins then no longer line up)") from None
    if len(text) < 32:
        raise ConfigError(f"the pseudonym key in {path} is shorter than 32 hex digits",
                          "use a key opskit made (a missing file gets a new one)")
    _redact.remember(text)
    return text, False


class Pseudonyms:
    """Names → pseudonyms under one key. ``mapping`` remembers each name given and its pseudonym
    (for the operator's own lookup, never written into a twin or a capture)."""

    def __init__(self, key: str | bytes) -> None:
        raw = bytes.fromhex(key) if isinstance(key, str) else key
        if len(raw) < 16:
            raise ValueError("a pseudonym key needs at least 16 bytes (32 hex digits)")
        self._key = raw
        self.mapping: dict[str, str] = {}
        self._words: dict[str, str] = {}  # compared form of a word → its letters
        self._taken: dict[str, str] = {}  # letters → the compared form they stand for

    def name(self, value: str) -> str:
        """The pseudonym of a name, e-mail, display name, group, folder or secret name, path or
        external id. Empty text stays empty."""
        known = self.mapping.get(value)
        if known is None:
            known = "".join(part if i % 2 else self._word(part)
                            for i, part in enumerate(_SEPARATORS.split(value)))
            self.mapping[value] = known
        return known

    def _word(self, word: str) -> str:
        if not word:
            return word
        normal = unicodedata.normalize("NFKC", word)
        compared, lowered = normal.casefold(), normal.lower()
        if normal != word and not _first_only(word, normal):
            # NFKC changes more than the first character, which alone a mark keeps: kept
            # apart exactly (a key no compared form has), not equal after normalisation.
            return _compatible(_shaped(self._letters_of("\0" + word.lower()), word))
        if lowered != compared and not _one_mark(lowered, compared):
            return _shaped(self._letters_of("\0" + lowered), word)  # likewise, for case
        marked = _shaped(self._letters_of(compared), word)
        if normal != word:
            marked = _compatible(marked)
        return _marked(marked, lowered)

    def _letters_of(self, compared: str) -> str:
        letters = self._words.get(compared)
        if letters is None:
            letters = self._letters(compared)
            self._words[compared] = letters
        return letters

    def _letters(self, compared: str) -> str:
        digest = hmac.new(self._key, compared.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).digest()
        length = max(_MIN_LENGTH, -(-len(compared) // 4) * 4)
        # Marks a case-folding needs (see _marked) end the letters.
        tail = ("ss" if "ss" in compared else "") + ("σ" if "σ" in compared else "")
        while True:
            # Each byte picks a letter; past the digest, more rounds of HMAC extend it.
            stream = digest
            while len(stream) < length:
                stream += hmac.new(self._key, stream, hashlib.sha256).digest()
            letters = "".join(_LETTERS[b % 26] for b in stream[:length - len(tail)]) + tail
            owner = self._taken.setdefault(letters, compared)
            if owner == compared:
                return letters
            length += 4  # a chance collision: a longer pseudonym for the later word


def longest_first(texts: Iterable[str]) -> str:
    """A pattern matching any of ``texts``, the longest first (a path before the folder names
    it holds, a team's name before its department's); equal lengths in text order, so one
    text gives one result."""
    return "|".join(map(re.escape, sorted(texts, key=lambda t: (-len(t), t))))


def _first_only(word: str, normal: str) -> bool:
    """Whether NFKC changes only the word's first character, into one other: the change a
    compatibility form of the pseudonym's first letter keeps."""
    return len(word) == len(normal) and word[1:] == normal[1:]


def _one_mark(lowered: str, compared: str) -> bool:
    """Whether case-folding differs from lower case by one ß (or one ς) alone, and the folded
    word has no other ss (σ): the difference the pseudonym's last letters can mark."""
    if lowered.replace("ß", "ss").replace("ς", "σ") != compared:
        return False
    sharp, final = lowered.count("ß"), lowered.count("ς")
    if (sharp, final) == (1, 0):
        return compared.count("ss") == 1
    return (sharp, final) == (0, 1) and compared.count("σ") == 1


def _compatible(shaped: str) -> str:
    """The first letter in its fullwidth form, which NFKC maps back."""
    first = shaped[0]
    return chr(ord(first) - ord("a") + 0xFF41 if first.islower()
               else ord(first) - ord("A") + 0xFF21) + shaped[1:]


def _marked(shaped: str, lowered: str) -> str:
    """A word that held ``ß`` (``ς``) has the ``ss`` (``σ``) its letters end in written so:
    equal to the ``ss`` spelling case-blind, apart from it exactly."""
    if "ς" in lowered and shaped[-1:] in ("σ", "Σ"):
        shaped = shaped[:-1] + "ς"
    if "ß" in lowered:
        end = len(shaped) - (1 if shaped[-1:] in ("σ", "Σ", "ς") else 0)
        if shaped[end - 2:end].casefold() == "ss":
            shaped = shaped[:end - 2] + "ß" + shaped[end:]
    return shaped


def _shaped(letters: str, word: str) -> str:
    """``letters`` with ``word``'s case pattern."""
    pattern = [c.isupper() for c in word if c.isalpha()]
    tail = bool(pattern) and all(pattern)  # past the word's own letters: upper if it was all
    return "".join(c.upper() if (pattern[i] if i < len(pattern) else tail) else c
                   for i, c in enumerate(letters))
