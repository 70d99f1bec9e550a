"""Hostile bytes and text against every parser an operator's input reaches.

Key files (arbitrary bytes, and real keys in every format mutated byte by byte),
passphrases, ECDSA signature encodings, the CLI's hex/base64 decoders and
PKCS#11 URIs: whatever comes in, the only thing that may come out besides a
result is a typed ``KmsError``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engines.keys as K
from engines import algorithms as A
from engines.errors import InvalidInput, KmsError, WrongPassphrase
from engines.pkcs11.uri import build_uri, parse_uri
from kms_tui.cli.key_cmds import _decode
from tests.reliability.fixtures_hostile import PASSPHRASE, count, key_material

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

TRIED: Counter[str] = Counter()
MATERIAL = key_material()
PLAIN = sorted(name for name in MATERIAL if "encrypted" not in name)
ENCRYPTED = sorted(name for name in MATERIAL if "encrypted" in name)


@pytest.fixture(autouse=True)
def _figures(request):
    before = Counter(TRIED)
    yield
    for kind, n in (TRIED - before).items():  # summed over every test and worker at the end of the run
        count(request, f"hostile parser inputs tried ({kind})", n)


def parse_or_typed_error(data, passphrase=None):
    """parse_key's result, or None after a typed error; any other exception fails the test."""
    try:
        parsed = K.parse_key(data, passphrase)
    except KmsError as exc:
        assert exc.title and exc.message
        return None
    assert parsed.algorithm in A.KEY_ALGORITHMS and K.is_key_id(parsed.key_id)
    return parsed


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` after one to four random edits: flips, truncation, insertion, deletion, duplication."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "truncate", "insert", "delete", "duplicate", "set")))
        at = draw(st.integers(0, max(0, len(out) - 1)))
        if op == "flip" and out:
            out[at] ^= draw(st.integers(1, 255))
        elif op == "set" and out:
            out[at] = draw(st.sampled_from(b"\x00\xff\x30\x80\x02=-\n{}\"A"))
        elif op == "truncate":
            del out[at:]
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 16))]
        elif op == "duplicate":
            out[at:at] = out[at : at + draw(st.integers(1, 64))]
    return bytes(out)


@st.composite
def mutated_der_in_pem(draw) -> bytes:
    """A PEM whose base64 is intact but whose DER inside is damaged: reaches the ASN.1 decoder."""
    name = draw(st.sampled_from([n for n in PLAIN if n.split("/")[1].startswith("pem-")]))
    lines = MATERIAL[name].decode().strip().splitlines()
    der = base64.b64decode("".join(lines[1:-1]))
    body = base64.encodebytes(draw(mutated(der))).decode()
    return f"{lines[0]}\n{body}{lines[-1]}\n".encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def hostile_jwk(draw) -> bytes:
    """A real JWK with members replaced, dropped or retyped, and its kty/crv changed."""
    name = draw(st.sampled_from([n for n in PLAIN if "/jwk" in n]))
    jwk = json.loads(MATERIAL[name])
    for _ in range(draw(st.integers(1, 3))):
        member = draw(st.sampled_from(sorted(jwk) + ["kty", "crv", "d", "x", "y", "n", "e", "p", "q"]))
        how = draw(st.sampled_from(("drop", "value", "b64", "kty", "crv")))
        if how == "drop":
            jwk.pop(member, None)
        elif how == "value":
            jwk[member] = draw(json_values)
        elif how == "b64":
            jwk[member] = draw(st.text(alphabet="ABCxyz019-_=+/ %", max_size=700))
        elif how == "kty":
            jwk["kty"] = draw(st.sampled_from(("RSA", "EC", "OKP", "RSA-HSM", "EC-HSM", "oct", "", None)))
        else:
            jwk["crv"] = draw(st.sampled_from(("P-256", "P-384", "P-224", "P-521", "Ed25519", "X25519", "secp256k1")))
    return json.dumps(jwk).encode()


# ---------------------------------------------------------------- key parser


@FAST
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data):
    TRIED["arbitrary bytes"] += 1
    parse_or_typed_error(data)


@FAST
@given(st.sampled_from(("-----BEGIN PRIVATE KEY-----\n", "-----BEGIN PUBLIC KEY-----\n", "{", "ssh-ed25519 ",
                        "ecdsa-sha2-nistp256 ", "-----BEGIN OPENSSH PRIVATE KEY-----\n", "0\x82", "\x30\x81",
                        "-----BEGIN CERTIFICATE-----\n", "-----BEGIN ENCRYPTED PRIVATE KEY-----\n")),
       st.binary(max_size=512))
def test_arbitrary_bytes_behind_a_format_marker(prefix, tail):
    """Random bodies behind each format's opening, so every loader is reached, not just the first."""
    TRIED["marker + bytes"] += 1
    parse_or_typed_error(prefix.encode("latin-1") + tail)


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    TRIED["arbitrary text"] += 1
    parse_or_typed_error(text)


@SLOW
@given(st.data())
def test_mutated_real_keys(data):
    name = data.draw(st.sampled_from(PLAIN))
    TRIED["mutated keys"] += 1
    parsed = parse_or_typed_error(data.draw(mutated(MATERIAL[name])))
    if parsed is not None and parsed.has_private_key and parsed.algorithm != A.DSA:
        # Whatever was accepted is a usable key: it signs and verifies.
        alg = A.signing_algorithm(K.natural_algorithm(parsed.algorithm, parsed.size))
        signature = K.sign_with(parsed.private_key, alg, b"m", A.MessageType.RAW)
        assert K.verify_with(parsed.public_key, alg, b"m", A.MessageType.RAW, signature)


@SLOW
@given(mutated_der_in_pem())
def test_damaged_der_inside_intact_pem(data):
    TRIED["damaged DER in PEM"] += 1
    parse_or_typed_error(data)


@FAST
@given(hostile_jwk())
def test_hostile_jwk(data):
    TRIED["hostile JWK"] += 1
    parse_or_typed_error(data)


@FAST
@given(json_values)
def test_any_json_document(value):
    TRIED["JSON documents"] += 1
    parse_or_typed_error(json.dumps(value).encode())


def test_deeply_nested_json_is_a_typed_error():
    TRIED["JSON documents"] += 2
    for text in ("[" * 100_000, '{"kty": ' + "[" * 100_000 + "]" * 100_000 + "}"):
        with pytest.raises(KmsError):
            K.parse_key(text)


@settings(max_examples=40, deadline=None, database=None)
@given(st.sampled_from(ENCRYPTED), st.one_of(st.none(), st.binary(max_size=64), st.text(max_size=64)))
def test_wrong_passphrases(name, passphrase):
    TRIED["passphrases"] += 1
    if passphrase in (PASSPHRASE, PASSPHRASE.decode()):
        return
    with pytest.raises(WrongPassphrase):
        K.parse_key(MATERIAL[name], passphrase)


@pytest.mark.parametrize("name", ENCRYPTED)
def test_the_right_passphrase_opens_each_encrypted_form(name):
    TRIED["passphrases"] += 1
    assert K.parse_key(MATERIAL[name], PASSPHRASE.decode()).has_private_key


@settings(max_examples=20, deadline=None, database=None)
@given(st.sampled_from(ENCRYPTED), st.data())
def test_mutated_encrypted_keys(name, data):
    TRIED["mutated encrypted keys"] += 1
    parse_or_typed_error(data.draw(mutated(MATERIAL[name])), PASSPHRASE)


@pytest.mark.parametrize("name", PLAIN)
def test_every_unmutated_form_parses(name):
    """The mutation tests start from keys that do parse (else they would prove little)."""
    parsed = K.parse_key(MATERIAL[name])
    assert parsed.has_private_key == ("public" not in name and "spki" not in name)


# ---------------------------------------------------------------- signature decoders


@FAST
@given(st.binary(max_size=200), st.sampled_from(A.ECDSA_SIZES))
def test_ecdsa_der_to_raw_on_anything(data, size):
    TRIED["ECDSA DER"] += 1
    try:
        raw = K.ecdsa_der_to_raw(data, size)
    except InvalidInput:
        return
    assert len(raw) == 2 * ((size + 7) // 8)
    assert K.ecdsa_der_to_raw(K.ecdsa_raw_to_der(raw), size) == raw


@FAST
@given(st.binary(max_size=200))
def test_ecdsa_raw_to_der_on_anything(data):
    TRIED["ECDSA raw"] += 1
    try:
        der = K.ecdsa_raw_to_der(data)
    except InvalidInput:
        assert len(data) % 2 or not data
        return
    size = len(data) // 2 * 8
    assert K.ecdsa_der_to_raw(der, size) == data


@FAST
@given(st.sampled_from(("p256.pem/pem-spki", "rsa2048.pem/pem-spki", "ed25519.pem/pem-spki")),
       st.binary(max_size=600), st.sampled_from(("RAW", "DIGEST")))
def test_verify_with_garbage_signatures(name, signature, message_type):
    """A forged or garbled signature is a negative answer (or a typed misuse error), never a crash."""
    TRIED["signatures"] += 1
    public = K.parse_key(MATERIAL[name]).public_key
    algorithm, size = K.describe(public)
    alg = A.signing_algorithm(K.natural_algorithm(algorithm, size))
    message = b"m" * (alg.digest_size if message_type == "DIGEST" and alg.digest_size else 1)
    try:
        assert K.verify_with(public, alg, message, A.MessageType(message_type), signature) is False
    except KmsError:
        pass


@FAST
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
       st.sampled_from(("hex", "base64", "raw")))
def test_cli_input_decoders(data, encoding):
    TRIED["CLI decoders"] += 1
    try:
        out = _decode(data, encoding, "message")
    except InvalidInput as exc:
        assert encoding in exc.message
        return
    if encoding == "hex":
        assert out == binascii.unhexlify(data.strip())
    elif encoding == "base64":
        assert base64.b64encode(out) == data.strip()


@FAST
@given(st.one_of(st.text(max_size=200), st.integers(), st.none(), st.binary(max_size=20)))
def test_jwk_base64url_members(value):
    TRIED["base64url"] += 1
    try:
        K._b64u_decode(value)
    except KmsError:
        pass


# ---------------------------------------------------------------- PKCS#11 URIs


uri_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@FAST
@given(st.one_of(uri_text.map(lambda t: "pkcs11:" + t), uri_text,
                 st.text(alphabet="pkcs11:;?&=%0123456789abcdefABCDEFtokenidobjecttype-x./~ ", max_size=200)))
def test_parse_uri_on_anything(text):
    TRIED["pkcs11 URIs"] += 1
    try:
        attrs = parse_uri(text)
    except InvalidInput:
        return
    assert isinstance(attrs, dict)


@FAST
@given(st.one_of(st.none(), st.text(max_size=40)), st.binary(max_size=40), st.one_of(st.none(), st.text(max_size=40)),
       st.sampled_from(("public", "private")))
def test_built_uris_parse_back_exactly(token, object_id, label, object_type):
    TRIED["pkcs11 URI round trips"] += 1
    try:
        uri = build_uri(token, object_id, label, object_type)
    except KmsError:
        return
    attrs = parse_uri(uri)
    assert attrs["type"] == object_type
    if object_id:
        assert attrs["id"] == object_id
    if label:
        assert attrs["object"] == label
    if token:
        assert attrs["token"] == token


@FAST
@given(st.data())
def test_mutated_real_uris(data):
    TRIED["pkcs11 URIs"] += 1
    uri = build_uri("ca-root", bytes.fromhex("a1b2c3"), "key label/é", "private").encode()
    text = data.draw(mutated(uri)).decode("utf-8", "replace")
    try:
        parse_uri(text)
    except InvalidInput:
        pass


@pytest.mark.parametrize("value", [None, 42, b"pkcs11:id=%01", ["pkcs11:"], "pkcs11:" + "a" * 5000])
def test_parse_uri_refuses_what_is_not_a_uri_string(value):
    TRIED["pkcs11 URIs"] += 1
    with pytest.raises(InvalidInput):
        parse_uri(value)


# ---------------------------------------------------------------- size caps


@pytest.fixture
def parser_spy(monkeypatch):
    """Records every call that reaches the key loader or the signature check."""
    reached: list[str] = []
    monkeypatch.setattr(K, "_load", lambda *a, **k: reached.append("parse_key"))
    monkeypatch.setattr(K, "verify_with", lambda *a, **k: reached.append("verify_with"))
    return reached


def huge_sparse_file(path, size: int):
    with open(path, "wb") as f:
        f.truncate(size)  # sparse: costs nothing on disk, but st_size says it all
    return str(path)


def test_oversized_key_input_is_refused_before_parsing(kms, parser_spy, tmp_path):
    from kms_tui.cli.parser import build_parser
    from kms_tui.service.errors import KmsError

    big = b"-----BEGIN PRIVATE KEY-----\n" + b"A" * K.MAX_KEY_FILE_BYTES
    for call in (lambda: K.parse_key(big), lambda: kms.keys.import_key(big, "big"), lambda: kms.keys.inspect(big)):
        with pytest.raises(KmsError, match="limit"):
            call()
    for size in (K.MAX_KEY_FILE_BYTES + 1, 4 << 30):
        path = huge_sparse_file(tmp_path / f"key-{size}", size)
        args = build_parser().parse_args(["keys", "import", path, "--name", "big"])
        with pytest.raises(KmsError, match="limit"):
            args.handler(kms, args)
    message = tmp_path / "message"
    message.write_bytes(b"m")
    signature = huge_sparse_file(tmp_path / "signature", 1 << 30)
    args = build_parser().parse_args(["keys", "verify", "any", "--algorithm", "ED25519", "--in", str(message),
                                      "--signature", signature])
    with pytest.raises(KmsError, match="limit"):
        args.handler(kms, args)
    assert parser_spy == [] and kms.keys.list() == []
    TRIED["oversized inputs"] += 6
