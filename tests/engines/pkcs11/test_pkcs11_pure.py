"""Pure parts of the PKCS#11 engine: RFC 7512 URIs, error translation, key material as attributes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.errors import EngineUnavailable, InvalidInput, KeyNotFoundInEngine, KeyParseError, KmsError
from engines.pkcs11 import errors as PE
from engines.pkcs11 import objects as O
from engines.pkcs11.uri import build_uri, describe, parse_uri
from engines.testing import check_kms_error, spki_der

# ---------------------------------------------------------------- URIs

RFC_EXAMPLES = {  # RFC 7512 §3, each with what it must parse to
    "pkcs11:": {},
    "pkcs11:object=my-pubkey;type=public": {"object": "my-pubkey", "type": "public"},
    "pkcs11:object=my-key;type=private?pin-source=file:/etc/token": {
        "object": "my-key", "type": "private", "pin-source": "file:/etc/token"},
    "pkcs11:token=The%20Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;"
    "object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin": {
        "token": "The Software PKCS#11 softtoken", "manufacturer": "Snake Oil, Inc.", "model": "1.0",
        "object": "my-certificate", "type": "cert", "id": bytes.fromhex("69953e5cf4bdec91"), "serial": "",
        "pin-source": "file:/etc/token_pin"},
    "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11": {
        "object": "my-sign-key", "type": "private", "module-name": "mypkcs11"},
    "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin": {
        "token": "Software PKCS#11 softtoken", "manufacturer": "Snake Oil, Inc.", "pin-value": "the-pin"},
    "pkcs11:slot-description=Sun%20Metaslot": {"slot-description": "Sun Metaslot"},
    "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token;library-version=1": {
        "library-manufacturer": "Snake Oil, Inc.", "library-description": "Soft Token", "library-version": "1"},
    "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert": {
        "token": "A name with a substring %;", "object": "my-certificate", "type": "cert"},
    "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert": {
        "token": "Name with a small A with acute: á", "object": "my-certificate", "type": "cert"},
    "pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin"
    "&vendor-bbb=value-b": None,  # vendor attributes without the x- prefix: refused
}


@pytest.mark.parametrize("uri", list(RFC_EXAMPLES), ids=range(len(RFC_EXAMPLES)))
def test_rfc_7512_examples(uri):
    expected = RFC_EXAMPLES[uri]
    if expected is None:
        with pytest.raises(InvalidInput):
            parse_uri(uri)
    else:
        assert parse_uri(uri) == expected


@pytest.mark.parametrize("label", ["ca-root", "a;b?c&d=e%f", "Root CA 2031 (offline)", "ünïcödé ✓", "/slash\\back",
                                   "a" * 200])
def test_build_then_parse_round_trip(label):
    object_id = bytes(range(256))[::7]
    uri = build_uri("tok;en %", object_id, label)
    assert uri.isascii() and " " not in uri
    assert parse_uri(uri) == {"token": "tok;en %", "id": object_id, "object": label, "type": "private"}


HOSTILE = ["", "pkcs11", "http://x", "pkcs11:id=%", "pkcs11:id=%4", "pkcs11:id=%zz", "pkcs11:object", "pkcs11:=x",
           "pkcs11:object=a;object=b", "pkcs11:type=secret", "pkcs11:token=a?token=b", "pkcs11:object=a b",
           "pkcs11:object=\x00", "pkcs11:object=%ff%fe", "pkcs11:unknown=1", "pkcs11:?pin-value=1&pin-source=x",
           "pkcs11:" + "a=" * 3000, None, 42, b"pkcs11:object=x", "pkcs11:object=é"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_uris_raise_only_kms_errors(text):
    with pytest.raises(KmsError) as info:
        parse_uri(text)
    check_kms_error(info.value)


def test_pin_value_never_in_errors():
    with pytest.raises(InvalidInput) as info:
        parse_uri("pkcs11:object=x;object=y?pin-value=s3cret-pin")
    assert "s3cret" not in str(info.value)


def test_lamassu_token_id_and_other_tools_query_attributes():
    # Lamassu's form: lamassuiot/lamassuiot core/pkg/models/kms.go, Key.AfterFind.
    assert parse_uri("pkcs11:token-id=hsm-1;id=ab12;type=public?some-tool-setting=1&module-path=/m.so") == {
        "token-id": "hsm-1", "id": b"ab12", "type": "public", "module-path": "/m.so"}
    with pytest.raises(InvalidInput, match="unknown query attribute 'token'"):
        parse_uri("pkcs11:id=%01?token=a")  # a path attribute in the query is not ignored


def test_describe_shows_what_names_a_key_and_never_the_pin():
    attrs = parse_uri("pkcs11:model=m;object=ca;id=%01%FF;token=t;serial=s;type=cert?pin-value=s3cret-pin&x-v=1")
    assert describe(attrs) == "token 't', serial 's', object 'ca', id 01:ff, type 'cert'"
    assert describe(parse_uri("pkcs11:token-id=e;id=abc?pin-source=file:/p")) == "token-id 'e', id 'abc'"
    assert len(describe({"object": "x" * 500, "token": "y" * 500})) <= 200


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.text(alphabet="pkcs11:%;?&=abcdefxyz0123456789-", max_size=120).map(
    lambda s: "pkcs11:" + s))
def test_any_text_gives_attributes_or_a_kms_error(text):
    try:
        result = parse_uri(text)
    except KmsError as exc:
        check_kms_error(exc)
    else:
        assert isinstance(result, dict)
        assert all(isinstance(v, bytes if k == "id" else str) for k, v in result.items())


# ---------------------------------------------------------------- error translation


def test_pkcs11_exceptions_become_typed_errors():
    from pkcs11 import exceptions as X

    where = "token 'ca' of module /lib/p11.so"
    cases = {
        X.PinLocked: PE.PinLocked, X.PinIncorrect: PE.WrongPin, X.PinLenRange: PE.WrongPin,
        X.NoSuchKey: KeyNotFoundInEngine, X.ObjectHandleInvalid: KeyNotFoundInEngine,
        X.MechanismInvalid: PE.MechanismNotSupported, X.DeviceRemoved: EngineUnavailable,
        X.TokenNotPresent: EngineUnavailable, X.KeySizeRange: PE.UnsupportedKeyType,
    }
    for raised, expected in cases.items():
        translated = PE.translate(raised(), where, "sign", "CKM_ECDSA")
        assert type(translated) is expected, raised
        check_kms_error(translated)
        assert "\n" not in str(translated)
    assert "CKM_ECDSA" in PE.translate(X.MechanismInvalid(), where, "sign", "CKM_ECDSA").message
    assert "locked" in PE.translate(X.PinLocked(), where, "log in").message
    bug = ValueError("not a PKCS#11 error")
    assert PE.translate(bug, where, "sign") is bug  # a bug stays a bug, for the log
    assert PE.is_session_lost(X.SessionHandleInvalid()) and not PE.is_session_lost(X.PinIncorrect())


def test_pin_flag_notes():
    assert PE.pin_flag_note(0x0400) == ""
    assert "CKF_USER_PIN_COUNT_LOW" in PE.pin_flag_note(PE.CKF_USER_PIN_COUNT_LOW)
    assert "One try is left" in PE.pin_flag_note(PE.CKF_USER_PIN_COUNT_LOW | PE.CKF_USER_PIN_FINAL_TRY)
    assert "locked" in PE.pin_flag_note(PE.CKF_USER_PIN_LOCKED | PE.CKF_USER_PIN_FINAL_TRY)


# ---------------------------------------------------------------- key material


@pytest.mark.parametrize("size", [224, 256, 384, 521])
def test_ec_points_raw_or_der(size):
    curve = {224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}[size]()
    public = ec.generate_private_key(curve).public_key()
    from cryptography.hazmat.primitives import serialization

    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    params = O.EC_PARAMS_BY_SIZE[size]
    for stored in (O.der_octet_string(point), point):  # tokens differ; both are read
        got = O.public_key_of("EC", {"ec_params": params, "ec_point": stored})
        assert spki_der(got) == spki_der(public)
    with pytest.raises(KeyParseError):
        O.public_key_of("EC", {"ec_params": params, "ec_point": point[:-1]})


def test_ed25519_params_in_both_forms_and_unknown_curves():
    from cryptography.hazmat.primitives import serialization

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for params in O.ED25519_PARAM_FORMS:
        got = O.public_key_of("EC_EDWARDS", {"ec_params": params, "ec_point": O.der_octet_string(raw)})
        assert spki_der(got) == spki_der(public)
    with pytest.raises(O.UnsupportedKeyType):  # Ed448
        O.public_key_of("EC_EDWARDS", {"ec_params": bytes.fromhex("06032b6571"), "ec_point": raw})
    with pytest.raises(O.UnsupportedKeyType):  # secp256k1
        O.public_key_of("EC", {"ec_params": bytes.fromhex("06052b8104000a"), "ec_point": b"\x04" * 65})
    with pytest.raises(KeyParseError):
        O.public_key_of("RSA", {"modulus": None, "public_exponent": b"\x01\x00\x01"})
