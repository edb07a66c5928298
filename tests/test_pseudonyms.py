"""Keyed pseudonyms keep every name comparison opskit makes, and nothing of the name."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opskit._pseudonyms import Pseudonyms, new_key
from opskit.groupgap._match import name_differences, normalise_name

PAIRS = [("DBA", "dba"), ("ACME\\Finance", "Finance"), ("finance@acme.com", "Finance"),
         ("Ｆinance  Team", "finance team"), (" Payroll", "Payroll"), ("Ops", "Dev"),
         ("alice@acme.com", "ALICE@ACME.COM"), ("Tier 1", "Tier 2"),
         ("Weiß", "Weiss"), ("Straße", "STRASSE"), ("οδος", "οδοσ"), ("ΟΔΟΣ", "οδος"),
         ("ACME＼Finance", "Finance"), ("bob﹫acme.com", "bob@acme.com"), ("Ǆemal", "ǆemal"),
         ("svc﹍sql", "svc_sql"), ("alice․ng", "alice.ng")]
# Names that differ exactly must keep differing, whatever marks case-folding or NFKC would
# need (several ß, a ß beside an ss, two compatibility characters): those stay apart exactly.
APART = [("Schloßstraße", "Schlossstraße"), ("Großfuß", "Großfuss"), ("σοφος", "ςοφος"),
         ("Ｆinance", "Fｉnance"), ("Ｆinance", "Ｆｉnance")]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_comparisons_survive(a: str, b: str) -> None:
    names = Pseudonyms(new_key())
    pa, pb = names.name(a), names.name(b)
    assert (pa == pb) == (a == b)
    assert (normalise_name(pa) == normalise_name(pb)) == (normalise_name(a) == normalise_name(b))
    assert name_differences(pa, pb) == name_differences(a, b)


def test_same_key_same_pseudonyms_and_no_word_survives() -> None:
    key = "5e" * 32
    text = "Alice Ng <alice.ng@acme.com> ACME\\Payroll Admins"
    first, again, other = (Pseudonyms(k).name(text) for k in (key, key, "a7" * 32))
    assert first == again != other
    words = set(re.split(r"[^a-z]+", first.casefold()))
    assert not words & {"alice", "ng", "acme", "payroll", "admins", "com"}
    assert first.count("@") == 1 and first.count("\\") == 1


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonyms("abcd")


def test_key_file_is_made_once_and_private(tmp_path) -> None:
    from opskit._pseudonyms import key_from_file
    from opskit.errors import ConfigError
    path = tmp_path / "keys" / "twin.key"
    key, made = key_from_file(path)
    assert made and (path.stat().st_mode & 0o777) == 0o600
    assert key_from_file(path) == (key, False)
    path.write_text("not hex")
    with pytest.raises(ConfigError, match="does not hold a key") as caught:
        key_from_file(path)
    assert key not in str(caught.value)
    with pytest.raises(ConfigError, match="does not exist"):
        key_from_file(tmp_path / "missing.key", create=False)


@pytest.mark.parametrize(("a", "b"), APART)
def test_different_names_never_share_a_pseudonym(a: str, b: str) -> None:
    names = Pseudonyms("3c" * 32)
    assert names.name(a) != names.name(b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="aAsSßẞςσΣfＦｆ ._\\@﹍․", min_size=1, max_size=6),
                min_size=2, max_size=6, unique=True))
def test_names_share_a_pseudonym_only_when_equal(names_given: list[str]) -> None:
    names = Pseudonyms("3c" * 32)
    assert len({names.name(n) for n in names_given}) == len(names_given)
