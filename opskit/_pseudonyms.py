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
- a word whose Unicode form differs from its NFKC form (``Ｆinance``) keeps a compatibility
  character, so a match "after Unicode normalisation" stays one;
- domain prefixes and suffixes (``ACME\\Finance``, ``alice@acme.com``) keep their shape.

Pseudonyms are at least eight letters: among the ~10^6 words of the largest tenants a chance
collision is about one in a hundred thousand, and one is detected and lengthened away.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from pathlib import Path

from . import _redact
from ._localfile import UnreadableFile, read_regular_file
from .errors import ConfigError

# What separates the words of a name: kept verbatim, so a name's shape survives.
_SEPARATORS = re.compile(r"(\s+|[\\/@._\-,:;()\[\]])")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_MIN_LENGTH = 8
KEY_BYTES = 32


def new_key() -> str:
    """A fresh key, as hex text: the operator keeps it to make pseudonyms that line up."""
    return secrets.token_hex(KEY_BYTES)


def default_key_path() -> Path:
    """Where the operator's key lives unless a command is told otherwise: in the user's own
    configuration folder, never beside a twin or a capture (which are made to be handed on)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opskit" / "pseudonym.key"


def key_from_file(path: Path, create: bool = True) -> tuple[str, bool]:
    """The key kept in ``path`` (hex text), and whether it was made now: a missing file is
    created with a new key, readable by its owner only, where ``create``. The key never shows
    in a message or a log line."""
    if create and not path.exists():
        key = new_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
        _redact.remember(key)
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
        compared = unicodedata.normalize("NFKC", word).casefold()
        letters = self._words.get(compared)
        if letters is None:
            letters = self._letters(compared)
            self._words[compared] = letters
        return _shaped(letters, word)

    def _letters(self, compared: str) -> str:
        digest = hmac.new(self._key, compared.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).digest()
        length = max(_MIN_LENGTH, len(compared))
        while True:
            # Each byte picks a letter; past the digest, more rounds of HMAC extend it.
            stream = digest
            while len(stream) < length:
                stream += hmac.new(self._key, stream, hashlib.sha256).digest()
            letters = "".join(_LETTERS[b % 26] for b in stream[:length])
            owner = self._taken.setdefault(letters, compared)
            if owner == compared:
                return letters
            length += 4  # a chance collision: a longer pseudonym for the later word


def _shaped(letters: str, word: str) -> str:
    """``letters`` with ``word``'s case pattern and, where NFKC changes the word, a
    compatibility form of the first letter (fullwidth), which NFKC maps back."""
    pattern = [c.isupper() for c in word if c.isalpha()]
    tail = bool(pattern) and all(pattern)  # past the word's own letters: upper if it was all
    shaped = "".join(c.upper() if (pattern[i] if i < len(pattern) else tail) else c
                     for i, c in enumerate(letters))
    if unicodedata.normalize("NFKC", word) != word:
        first = shaped[0]
        shaped = chr(ord(first) - ord("a") + 0xFF41 if first.islower()
                     else ord(first) - ord("A") + 0xFF21) + shaped[1:]
    return shaped
