"""Open Badges credentials, checked as a verifier would: with PyJWT (not the library that
signs them) and nothing but the published JWKS. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlmodel import Session

from ecampus.accounts.models import Role
from ecampus.certificates import keys, status
from ecampus.certificates import service as certificates
from tests import factories
from tests.conftest import SECRET

COURSE = "demo-course"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": " igm ", "q5": 7}
BASE = "http://testserver"


def generate_key(client: TestClient) -> str:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        key, _created = keys.generate(session, secret=SECRET)
        return key.kid


def rotate_key(client: TestClient) -> str:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        key, _retired = keys.rotate(session, secret=SECRET)
        return key.kid


def completed(client: TestClient) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A learner who completed the fixture course: (certificate code, auth, profile)."""
    data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    for lesson in ("leccion-1", "leccion-2", "leccion-3"):
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    result = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    code = result["progress"]["certificate"]
    assert code, result
    return code, auth, data


def verify(token: str, key_set: dict[str, Any], **options: Any) -> dict[str, Any]:
    """What a verifier does: the key the header names, from the JWKS alone; ES256 only."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(key_set)[kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["ES256"],
        options={"require": ["iss", "sub", "nbf", "jti"], **options},
    )
    return claims


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def status_bit(client: TestClient, credential: dict[str, Any], key_set: dict[str, Any]) -> bool:
    entry = credential["credentialStatus"]
    response = client.get(entry["statusListCredential"].removeprefix(BASE))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vc+jwt"
    assert response.headers["cache-control"] == "public, max-age=60"
    listing = verify(response.text, key_set, require=["iss", "jti", "exp"])
    assert listing["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listing["jti"] == entry["statusListCredential"]
    subject = listing["credentialSubject"]
    assert (subject["type"], subject["statusPurpose"]) == ("BitstringStatusList", "revocation")
    assert subject["encodedList"].startswith("u")
    bits = status.decode(subject["encodedList"])
    assert len(bits) * 8 == status.LIST_SIZE
    return status.is_set(bits, int(entry["statusListIndex"]))


def test_a_credential_verifies_with_only_the_published_keys(client: TestClient) -> None:
    kid = generate_key(client)
    code, _auth, data = completed(client)
    published = client.get("/.well-known/jwks.json")
    assert published.status_code == 200
    assert published.headers["content-type"] == "application/jwk-set+json"
    assert published.headers["cache-control"] == "public, max-age=300"
    key_set = published.json()
    assert [(k["kid"], k["kty"], k["crv"], k["alg"]) for k in key_set["keys"]] == [
        (kid, "EC", "P-256", "ES256")
    ]
    assert not any("d" in k for k in key_set["keys"])  # never the private half

    response = client.get(f"/api/v1/certificates/{code}/credential")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vc+jwt"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="credential-{code}.jwt"'
    )
    token = response.text
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": kid, "typ": "vc+jwt"}
    claims = verify(token, key_set)

    assert claims["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert claims["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert claims["iss"] == claims["issuer"]["id"] == BASE
    assert claims["issuer"]["type"] == ["Profile"]
    assert claims["jti"] == claims["id"] == f"{BASE}/verify/{code}"
    subject = claims["credentialSubject"]
    assert claims["sub"] == subject["id"]
    assert claims["sub"].startswith("urn:uuid:")
    assert data["email"] not in json.dumps(claims)  # the learner, never by email
    assert subject["identifier"][0]["identityHash"] == data["full_name"]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        certificate = certificates.by_code(session, code)
    assert certificate is not None
    issued = certificate.issued_at.replace(tzinfo=certificate.issued_at.tzinfo or UTC)
    assert claims["nbf"] == int(issued.timestamp())
    assert claims["validFrom"] == issued.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"]
    assert achievement["name"] == "Curso de prueba"
    assert achievement["creditsAvailable"] == subject["creditsEarned"] == 2
    assert achievement["criteria"]["narrative"] == (
        "A small course the tests rely on; sample content, not advice."
    )
    assert subject["result"] == [
        {"type": ["Result"], "resultDescription": f"{achievement['id']}#score", "value": "100"}
    ]
    assert achievement["resultDescription"][0]["resultType"] == "Percent"
    entry = claims["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusPurpose"] == "revocation"
    assert certificate.id is not None
    assert entry["statusListIndex"] == str(certificate.id % 131_072)
    assert entry["statusListCredential"] == (
        f"{BASE}/api/v1/credentials/status/{certificate.id // 131_072}"
    )
    # The same learner is the same subject in every credential; another learner is not.
    code2, _auth2, _data2 = completed(client)
    other = verify(client.get(f"/api/v1/certificates/{code2}/credential").text, key_set)
    assert other["sub"] != claims["sub"]
    again = verify(client.get(f"/api/v1/certificates/{code}/credential").text, key_set)
    assert again["sub"] == claims["sub"]


def test_a_diploma_credential_lists_the_courses_it_counts(client: TestClient) -> None:
    generate_key(client)
    _code, auth, _data = completed(client)
    mine = client.get("/api/v1/me/certificates", headers=auth).json()
    diploma = next(c for c in mine if c["kind"] == "programme")
    token = client.get(f"/api/v1/certificates/{diploma['code']}/credential").text
    claims = verify(token, client.get("/.well-known/jwks.json").json())
    achievement = claims["credentialSubject"]["achievement"]
    assert (achievement["achievementType"], achievement["name"]) == (
        "Diploma",
        "Programa de prueba",
    )
    assert achievement["creditsAvailable"] == 10
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        diploma_row = certificates.by_code(session, diploma["code"])
        assert diploma_row is not None
        counted = diploma_row.courses
    for course in counted or []:
        assert course["title"] in achievement["criteria"]["narrative"]
        assert f"{BASE}/verify/{course['code']}" in [e["id"] for e in claims["evidence"]]


def test_tampering_other_keys_and_other_algorithms_are_refused(client: TestClient) -> None:
    generate_key(client)
    code, _auth, _data = completed(client)
    key_set = client.get("/.well-known/jwks.json").json()
    token = client.get(f"/api/v1/certificates/{code}/credential").text
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))

    # More hours than earned, the signature left as it was.
    claims["credentialSubject"]["achievement"]["creditsAvailable"] = 200
    tampered = ".".join([header, b64(json.dumps(claims).encode()), signature])
    with pytest.raises(jwt.InvalidSignatureError):
        verify(tampered, key_set)

    # Signed by a key of someone else's, claiming our key's kid.
    forger = ec.generate_private_key(ec.SECP256R1())
    kid = jwt.get_unverified_header(token)["kid"]
    forged = jwt.encode(claims, forger, algorithm="ES256", headers={"kid": kid})
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, key_set)

    # No signature at all.
    unsigned = ".".join(
        [
            b64(json.dumps({"alg": "none", "kid": kid}).encode()),
            b64(json.dumps(claims).encode()),
            "",
        ]
    )
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(unsigned, key_set)

    # HS256 keyed with the public key (the old algorithm-confusion attack).
    public_pem = jwt.PyJWKSet.from_dict(key_set)[kid].key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = ".".join(
        [b64(json.dumps({"alg": "HS256", "kid": kid}).encode()), b64(json.dumps(claims).encode())]
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(f"{signing_input}.{b64(mac)}", key_set)

    # The genuine credential still verifies.
    assert verify(token, key_set)["jti"] == f"{BASE}/verify/{code}"


def test_a_credential_signed_by_a_retired_key_still_verifies(client: TestClient) -> None:
    first = generate_key(client)
    code, _auth, _data = completed(client)
    old_token = client.get(f"/api/v1/certificates/{code}/credential").text
    second = rotate_key(client)
    assert second != first
    key_set = client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in key_set["keys"]] == [first, second]
    assert verify(old_token, key_set)["jti"] == f"{BASE}/verify/{code}"
    new_token = client.get(f"/api/v1/certificates/{code}/credential").text
    assert jwt.get_unverified_header(new_token)["kid"] == second
    assert verify(new_token, key_set)["jti"] == f"{BASE}/verify/{code}"
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        stored = {k.kid: k for k in keys.all_keys(session)}
        assert stored[first].retired_at is not None
        assert stored[second].retired_at is None
        assert "ENCRYPTED PRIVATE KEY" in stored[second].private_pem
        # generate is idempotent: a current key exists.
        assert keys.generate(session, secret=SECRET) == (stored[second], False)


def test_revoking_sets_the_bit_in_the_status_list(client: TestClient) -> None:
    generate_key(client)
    code, _auth, _data = completed(client)
    other_code, _other_auth, _other = completed(client)
    key_set = client.get("/.well-known/jwks.json").json()
    credential = verify(client.get(f"/api/v1/certificates/{code}/credential").text, key_set)
    other = verify(client.get(f"/api/v1/certificates/{other_code}/credential").text, key_set)
    assert status_bit(client, credential, key_set) is False

    coordinator = factories.staff(client, Role.coordinator)
    revoked = client.post(
        f"/api/v1/certificates/{code}/revoke", headers=coordinator, json={"reason": "fraud"}
    )
    assert revoked.status_code == 200
    assert status_bit(client, credential, key_set) is True
    assert status_bit(client, other, key_set) is False  # only the revoked one
    # No new credential is signed for a revoked certificate.
    gone = client.get(f"/api/v1/certificates/{code}/credential")
    assert gone.status_code == 410
    assert "revoked" in gone.json()["detail"]


def test_a_superseded_certificate_is_set_and_points_to_its_replacement(
    client: TestClient,
) -> None:
    generate_key(client)
    code, _auth, _data = completed(client)
    key_set = client.get("/.well-known/jwks.json").json()
    old = verify(client.get(f"/api/v1/certificates/{code}/credential").text, key_set)
    coordinator = factories.staff(client, Role.coordinator)
    reissued = client.post(f"/api/v1/certificates/{code}/reissue", headers=coordinator)
    assert reissued.status_code == 200, reissued.text
    new_code = reissued.json()["code"]
    assert new_code != code
    assert status_bit(client, old, key_set) is True
    gone = client.get(f"/api/v1/certificates/{code}/credential")
    assert gone.status_code == 410
    assert gone.json() == {"detail": f"This certificate was replaced by {new_code}"}
    new = verify(client.get(f"/api/v1/certificates/{new_code}/credential").text, key_set)
    assert new["sub"] == old["sub"]  # the same learner
    assert new["credentialStatus"]["statusListIndex"] != old["credentialStatus"]["statusListIndex"]
    assert status_bit(client, new, key_set) is False


def test_without_a_key_credentials_are_unavailable_not_broken(client: TestClient) -> None:
    code, _auth, _data = completed(client)
    assert client.get("/.well-known/jwks.json").json() == {"keys": []}
    missing = client.get(f"/api/v1/certificates/{code}/credential")
    assert missing.status_code == 503
    assert "signing key" in missing.json()["detail"]
    assert client.get("/api/v1/credentials/status/0").status_code == 503
    # A key stored under another secret (the secret key was changed) is not used.
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        keys.generate(session, secret="another-secret-key-that-is-long-enough-000")
    assert client.get(f"/api/v1/certificates/{code}/credential").status_code == 503


def test_bad_requests_get_clear_answers(client: TestClient) -> None:
    generate_key(client)
    unknown = client.get("/api/v1/certificates/AAAA-BBBB-CCCC/credential")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "No certificate has this code"}
    for bad in ("-1", "x", "99999999999999999999999"):
        assert client.get(f"/api/v1/credentials/status/{bad}").status_code == 422
    assert client.get("/certificates/AAAA-BBBB-CCCC/credential").status_code == 404
    # A list no certificate is in yet is simply all clear.
    empty = client.get("/api/v1/credentials/status/7")
    assert empty.status_code == 200
    claims = jwt.decode(empty.text, options={"verify_signature": False})
    assert not any(status.decode(claims["credentialSubject"]["encodedList"]))


def test_the_learner_downloads_and_reads_the_credential(client: TestClient) -> None:
    generate_key(client)
    code, auth, data = completed(client)
    client.cookies.set("ecampus_session", auth["Authorization"].removeprefix("Bearer "))
    mine = client.get("/me", headers={"accept-language": "es"})
    assert f'href="/api/v1/certificates/{code}/credential" hx-boost="false" download>' in mine.text
    assert "Credencial digital (.jwt)" in mine.text
    assert f'href="/certificates/{code}/credential">ver qué dice</a>' in mine.text
    page = client.get(f"/certificates/{code}/credential", headers={"accept-language": "es"})
    assert page.status_code == 200
    assert f'href="/api/v1/certificates/{code}/credential"' in page.text
    assert "&#34;OpenBadgeCredential&#34;" in page.text or '"OpenBadgeCredential"' in page.text
    assert data["full_name"] in page.text
    client.cookies.clear()  # an employer, not signed in, reading English
    english = client.get(f"/certificates/{code}/credential", headers={"accept-language": "en"})
    assert "How an employer checks a digital credential" in english.text
    verify_page = client.get(f"/verify/{code}", headers={"accept-language": "es"})
    assert "Cómo comprueba un empleador una credencial digital" in verify_page.text
    assert f"{BASE}/.well-known/jwks.json" in verify_page.text


def test_status_list_encoding_matches_the_specification() -> None:
    assert status.position(0) == (0, 0)
    assert status.position(131_073) == (1, 1)
    bits = status.decode(status.encode([0, 9, 131_071]))
    assert (bits[0], bits[1], bits[-1]) == (0x80, 0x40, 0x01)  # bit 0 is the left-most
    assert [i for i in range(status.LIST_SIZE) if status.is_set(bits, i)] == [0, 9, 131_071]
    with pytest.raises(ValueError, match="outside"):
        status.encode([131_072])
    assert status.encode([]) == status.encode([])  # the same statuses, the same text
