"""Bitstring Status Lists (W3C): which certificates are revoked, as one bit each.

A certificate's place needs no column: list `id // LIST_SIZE`, bit `id % LIST_SIZE`.
Bit 0 is the left-most (most significant) bit of the first byte. A superseded certificate
(reissued under a new code) is also set: it no longer stands on its own, and the
verification page and JSON say which code replaced it.
"""

from __future__ import annotations

import base64
import gzip

from sqlalchemy import or_, select
from sqlmodel import Session, col

from ecampus.certificates.models import Certificate

# The specification's minimum (16 KiB): small lists would tell a watcher whose credential
# changed status; this size hides one among 131,072.
LIST_SIZE = 131_072
PURPOSE = "revocation"


def position(certificate_id: int) -> tuple[int, int]:
    """(list number, index in the list) of a certificate."""
    return divmod(certificate_id, LIST_SIZE)


def encode(indexes: list[int]) -> str:
    """`encodedList`: multibase base64url (prefix `u`, no padding) of the GZIP-compressed
    bitstring with these indexes set."""
    bits = bytearray(LIST_SIZE // 8)
    for index in indexes:
        if not 0 <= index < LIST_SIZE:
            raise ValueError(f"index {index} is outside the list")
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same statuses give the same bytes (and the same ETag-friendly output).
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode(encoded: str) -> bytes:
    """The bitstring of an `encodedList` (for tests and verifiers)."""
    if not encoded.startswith("u"):
        raise ValueError("not a multibase base64url value")
    data = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def is_set(bitstring: bytes, index: int) -> bool:
    return bool(bitstring[index // 8] & (0x80 >> (index % 8)))


def revoked_indexes(session: Session, *, list_number: int) -> list[int]:
    """The indexes set in a list: revoked or superseded certificates, one query."""
    first = list_number * LIST_SIZE
    ids = session.scalars(
        select(col(Certificate.id)).where(
            col(Certificate.id) >= first,
            col(Certificate.id) < first + LIST_SIZE,
            or_(
                col(Certificate.revoked_at).is_not(None),
                col(Certificate.superseded_at).is_not(None),
            ),
        )
    )
    return [certificate_id - first for certificate_id in ids if certificate_id is not None]
