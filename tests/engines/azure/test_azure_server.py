"""The test vault itself, over raw HTTPS: it must follow the Key Vault REST API to be trusted."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import ssl
from urllib.parse import urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from tests.engines.azure.helpers import APP, READER, READER_SECRET, SECRET, fresh_vault

API = "api-version=2025-07-01"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Rest:
    """One HTTPS connection to the test vault, trusting only its certificate."""

    def __init__(self, server):
        self.server = server
        context = ssl.create_default_context(cafile=str(server.ca_bundle))
        self.conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        self.token: str | None = None

    def __call__(self, method, path, body=None, *, query=API, token=None, form=None):
        headers = {}
        token = token if token is not None else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if form is not None:
            data, headers["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        self.conn.request(method, f"{path}?{query}" if query else path, body=data, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, response.headers, json.loads(raw) if raw else None

    def sign_in(self, client=APP, secret=SECRET) -> str:
        status, _, body = self(
            "POST", f"/{self.server.tenant_id}/oauth2/v2.0/token", query=None,
            form={"grant_type": "client_credentials", "client_id": client, "client_secret": secret,
                  "scope": "https://vault.azure.net/.default"},
        )
        assert status == 200, body
        self.token = body["access_token"]
        return self.token


@pytest.fixture
def rest(server):
    client = Rest(server)
    yield client
    client.conn.close()


def test_bearer_challenge_and_bad_tokens(server, rest):
    status, headers, body = rest("GET", "/keys")
    assert status == 401 and body["error"]["code"] == "Unauthorized"
    assert headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.com/{server.tenant_id}", '
        'resource="https://vault.azure.net"'
    )
    for token in ("not-a-token", "Basic dXNlcjpwdw=="):
        status, headers, _ = rest("GET", "/keys", token=token)
        assert status == 401 and "WWW-Authenticate" in headers
    rest.sign_in()
    assert rest("GET", "/keys")[0] == 200
    assert rest("GET", "/keys", query="")[0] == 400  # api-version is required
    server.identity.revoke_all()
    assert rest("GET", "/keys")[0] == 401


def test_authority_endpoints(server, rest):
    status, _, config = rest("GET", f"/{server.tenant_id}/v2.0/.well-known/openid-configuration", query=None)
    assert status == 200 and config["token_endpoint"] == f"{server.url}/{server.tenant_id}/oauth2/v2.0/token"
    assert rest("GET", "/other-tenant/v2.0/.well-known/openid-configuration", query=None)[2]["error"] == "invalid_tenant"
    status, _, body = rest("POST", f"/{server.tenant_id}/oauth2/v2.0/token", query=None,
                           form={"grant_type": "client_credentials", "client_id": APP, "client_secret": "wrong"})
    assert status == 401 and body["error"] == "invalid_client" and body["error_codes"] == [7000215]


def test_listing_is_paged_with_next_link(server, rest):
    fresh_vault(server, page_size=2)
    rest.sign_in()
    names = {f"key-{i}" for i in range(5)}
    for name in names:
        assert rest("POST", f"/keys/{name}/create", {"kty": "EC", "crv": "P-256"})[0] == 200
    seen, query, pages = [], f"{API}&maxresults=2", 0
    while query is not None:
        status, _, body = rest("GET", "/keys", query=query)
        assert status == 200 and len(body["value"]) <= 2
        seen += [item["kid"].rsplit("/", 1)[1] for item in body["value"]]
        pages += 1
        query = urlsplit(body["nextLink"]).query if body["nextLink"] else None
    assert (sorted(seen), pages) == (sorted(names), 3)
    assert rest("GET", "/keys", query=f"{API}&maxresults=26")[0] == 400


def test_sign_verify_with_real_crypto(server, rest):
    rest.sign_in()
    status, _, bundle = rest("POST", "/keys/ec-key/create", {"kty": "EC", "crv": "P-256", "key_ops": ["sign"]})
    assert status == 200 and "d" not in bundle["key"]
    kid = urlsplit(bundle["key"]["kid"]).path
    numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64u(bundle["key"]["x"]), "big"),
                                            int.from_bytes(unb64u(bundle["key"]["y"]), "big"), ec.SECP256R1())
    digest = hashlib.sha256(b"m").digest()
    status, _, signed = rest("POST", f"{kid}/sign", {"alg": "ES256", "value": b64u(digest)})
    raw = unb64u(signed["value"])
    assert status == 200 and len(raw) == 64  # r||s
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    numbers.public_key().verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    for alg, value, code in (("ES384", hashlib.sha384(b"m").digest(), 400), ("ES256", digest[:31], 400),
                             ("RS256", digest, 400), ("HS256", digest, 400)):
        status, _, body = rest("POST", f"{kid}/sign", {"alg": alg, "value": b64u(value)})
        assert (status, body["error"]["code"]) == (code, "BadParameter")
    assert rest("POST", f"{kid}/verify", {"alg": "ES256", "digest": b64u(digest), "value": signed["value"]})[0] == 403
    rest("PATCH", kid, {"key_ops": ["sign", "verify"]})
    for value, valid in ((signed["value"], True), (b64u(raw[::-1]), False)):
        status, _, body = rest("POST", f"{kid}/verify", {"alg": "ES256", "digest": b64u(digest), "value": value})
        assert (status, body["value"]) == (200, valid)


def test_import_versions_tags_and_soft_delete(server, rest):
    rest.sign_in()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = private.private_numbers()
    ints = {"n": n.public_numbers.n, "e": n.public_numbers.e, "d": n.d, "p": n.p, "q": n.q}
    jwk = {"kty": "RSA", **{k: b64u(v.to_bytes((v.bit_length() + 7) // 8, "big")) for k, v in ints.items()}}
    assert rest("PUT", "/keys/imported", {"key": {k: v for k, v in jwk.items() if k != "d"}})[0] == 400
    status, _, first = rest("PUT", "/keys/imported", {"key": jwk, "tags": {"x-lamassu-id": "abc"}})
    assert status == 200 and first["key"]["n"] == jwk["n"] and first["tags"] == {"x-lamassu-id": "abc"}
    status, _, second = rest("PUT", "/keys/IMPORTED", {"key": jwk})  # names are case-insensitive: a new version
    assert second["key"]["kid"] != first["key"]["kid"] and rest("GET", "/keys/imported/")[2]["key"] == second["key"]
    assert rest("GET", urlsplit(first["key"]["kid"]).path)[2]["tags"] == {"x-lamassu-id": "abc"}
    status, _, deleted = rest("DELETE", "/keys/imported")
    assert status == 200 and deleted["recoveryId"].endswith("/deletedkeys/imported") and deleted["deletedDate"]
    assert rest("GET", "/keys/imported")[2]["error"]["code"] == "KeyNotFound"
    assert rest("POST", "/keys/imported/create", {"kty": "EC"})[0] == 409
    assert rest("GET", "/deletedkeys/imported")[0] == 200
    assert rest("POST", "/deletedkeys/imported/recover")[2]["key"]["n"] == jwk["n"]
    rest("DELETE", "/keys/imported")
    assert rest("DELETE", "/deletedkeys/imported")[0] == 204
    assert rest("GET", "/deletedkeys/imported")[0] == 404
    assert rest("POST", "/keys/bad_name!/create", {"kty": "EC"})[0] == 400
    assert rest("POST", "/keys/sym/create", {"kty": "oct"})[0] == 400


def test_permissions(server, rest):
    rest.sign_in(READER, READER_SECRET)
    status, _, body = rest("POST", "/keys/k/create", {"kty": "EC"})
    assert status == 403 and body["error"]["code"] == "Forbidden" and "create permission" in body["error"]["message"]
    assert rest("GET", "/keys")[0] == 200
