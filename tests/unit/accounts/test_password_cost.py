"""Production hashes passwords with argon2id at its full cost (the suite uses a cheap one,
tests/conftest.py's `cheap_password_hashes`, which this module turns off)."""

from __future__ import annotations

import pytest

from ecampus.accounts import passwords


@pytest.fixture
def cheap_password_hashes() -> None:
    """The real hasher here."""


def test_production_hashes_are_argon2id_at_full_cost() -> None:
    hashed = passwords.hash_password("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), hashed
    assert passwords.verify_password("correct horse", hashed)
    assert not passwords.verify_password("wrong horse", hashed)


def test_a_cheap_hash_still_verifies_with_its_own_parameters() -> None:
    """Parameters travel in the hash: one made at another cost (as the suite makes them, or
    as older releases might have) still verifies."""
    from tests.cheap_passwords import cheap_hasher

    hashed = cheap_hasher().hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=8,t=1,p=1$"), hashed
    assert passwords.verify_password("correct horse", hashed)
    assert not passwords.verify_password("wrong horse", hashed)
