"""Key references by meaning: every ``pkcs11:`` spelling of a recorded key resolves to it.

Resolution reads the store only (engine config, recorded URIs), so these tests record engines
and keys directly and open no token. Lamassu's form is ``pkcs11:token-id=<engine id>;id=<key
id>;type=private|public`` (lamassuiot/lamassuiot core/pkg/models/kms.go, ``Key.AfterFind``),
its CKA_ID the key id as ASCII (lamassuiot/lamassuiot engines/crypto/pkcs11/pkcs11.go,
``FindKeyPair([]byte(keyID), nil)``).
"""

from __future__ import annotations

import hashlib

import pytest

from engines.errors import InvalidInput, KmsError
from engines.pkcs11.uri import build_uri
from kms_tui.service.errors import AmbiguousReference, KeyNotFound
from kms_tui.service.key_names import resolve
from store import EngineRecord, KeyRecord, Store

PIN = "hunter2-pin"
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SERIAL_B = "0123456789abcdef"


def key_id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


ROOT = key_id("root")  # on hsm-a, Lamassu's layout: CKA_ID = CKA_LABEL = ASCII hex key id
ADOPTED = key_id("adopted")  # on hsm-a, made by another tool: CKA_ID 01 02
TWIN = key_id("twin")  # on hsm-b (registered by serial), the same CKA_ID 01 02
SOFT = key_id("soft")  # on a software engine
PUBLIC = key_id("public")  # on hsm-a, public key only


def pct(data: bytes, lower: bool = False) -> str:
    return "".join((f"%{b:02x}" if lower else f"%{b:02X}") for b in data)


def engine(engine_id: str, etype: str, config: dict[str, str]) -> EngineRecord:
    return EngineRecord(id=engine_id, type=etype, name=engine_id, provider="test", security_level=2, config=config)


def key(name: str, kid: str, engine_id: str, uri: str | None, native_ref: str | None, private: bool = True):
    return KeyRecord(key_id=kid, engine_id=engine_id, name=name, algorithm="ECDSA", size=256, strength="MEDIUM",
                     has_private_key=private, public_key="-----BEGIN PUBLIC KEY-----\n", native_ref=native_ref,
                     pkcs11_uri=uri)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path) as opened:
        opened.add_engine(engine("hsm-a", "PKCS11", {"module": MODULE, "token": "alpha"}))
        opened.add_engine(engine("hsm-b", "PKCS11", {"module": MODULE, "serial": SERIAL_B}))
        opened.add_engine(engine("golang-1", "GOLANG", {"directory": str(tmp_path / "keys")}))
        opened.add_key(key("root-ca", ROOT, "hsm-a", build_uri("alpha", ROOT.encode(), ROOT), ROOT))
        opened.add_key(key("adopted", ADOPTED, "hsm-a", build_uri("alpha", b"\x01\x02", "some label;x"),
                           "some label;x"))
        opened.add_key(key("twin", TWIN, "hsm-b", build_uri("beta", b"\x01\x02", "other"), "other"))
        opened.add_key(key("soft", SOFT, "golang-1", None, SOFT))
        opened.add_key(key("verify-only", PUBLIC, "hsm-a", None, None, private=False))
        opened.add_key(key("pkcs11:legacy name", key_id("legacy"), "golang-1", None, "legacy"))
        yield opened


ROOT_ID = ROOT.encode()
ROOT_SPELLINGS = [
    build_uri("alpha", ROOT_ID, ROOT),  # as recorded
    f"pkcs11:type=private;object={ROOT};id={pct(ROOT_ID)};token=alpha",  # reordered
    f"pkcs11:token=alpha;id={ROOT}",  # id left printable
    f"pkcs11:id={pct(ROOT_ID, lower=True)};token=alpha",  # lowercase escapes
    f"pkcs11:id={pct(ROOT_ID[:10])}{ROOT[10:]}",  # half escaped, no token
    f"pkcs11:object={ROOT}",  # by label alone
    f"pkcs11:token=alpha;id={ROOT};type=public",  # the public half names the key
    f"pkcs11:token=alpha;id={ROOT};type=cert",  # so does its certificate
    f"pkcs11:token=alpha;id={ROOT}?pin-value={PIN}",
    f"pkcs11:object={ROOT};type=private?module-path={MODULE}&pin-source=file:/run/pin&x-vendor=1",
    f"pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=9f1e;token=alpha;id={pct(ROOT_ID)};"
    f"object={ROOT};type=private",  # p11tool's spelling: a serial beside the label the engine has
    f"pkcs11:token-id=hsm-a;id={ROOT};type=private",  # Lamassu's
    f"pkcs11:token-id=hsm-a;id={ROOT};type=public",
    f"PKCS11:Token=alpha;ID={ROOT}",  # scheme and attribute names in capitals
    f"pkcs11:token=alpha;x-note=hello;id={ROOT}",
]


@pytest.mark.parametrize("uri", ROOT_SPELLINGS, ids=range(len(ROOT_SPELLINGS)))
def test_every_spelling_of_a_key_resolves_to_it(store, uri):
    assert (resolve(store, uri).engine_id, resolve(store, uri).key_id) == ("hsm-a", ROOT)


@pytest.mark.parametrize(("uri", "name"), [
    ("pkcs11:token=alpha;id=%01%02", "adopted"),
    ("pkcs11:type=private;id=%01%02;token=alpha", "adopted"),
    ("pkcs11:object=some%20label%3Bx", "adopted"),
    (f"pkcs11:serial={SERIAL_B};id=%01%02", "twin"),  # the engine was registered by serial
    ("pkcs11:token=beta;id=%01%02", "twin"),  # the label recorded for its keys
    ("pkcs11:token-id=hsm-b;id=%01%02", "twin"),
    (f"pkcs11:token-id=hsm-b;id={TWIN};type=private", "twin"),  # Lamassu's key id, not the CKA_ID
    (f"pkcs11:token-id=golang-1;id={SOFT};type=private", "soft"),  # Lamassu names keys of every engine so
    (f"pkcs11:token-id=hsm-a;id={PUBLIC};type=public", "verify-only"),
    ("pkcs11:legacy name", "pkcs11:legacy name"),  # not a URI: a key's name
])
def test_other_keys_by_their_attributes(store, uri, name):
    assert resolve(store, uri).name == name


def test_a_uri_naming_several_keys_is_refused_with_the_candidates(store):
    with pytest.raises(AmbiguousReference) as info:
        resolve(store, f"pkcs11:id=%01%02;type=private?pin-value={PIN}")
    text = f"{info.value} {info.value.hint}"
    assert "'adopted' on engine 'hsm-a'" in text and "'twin' on engine 'hsm-b'" in text
    assert PIN not in text and "token" in text


@pytest.mark.parametrize("uri", [
    f"pkcs11:token=alpha;id=%99?pin-value={PIN}",
    f"pkcs11:token=gamma;id={ROOT}",
    f"pkcs11:serial=ffff;id=%01%02?pin-value={PIN}",  # a serial no engine records, and no label
    f"pkcs11:token=alpha;id={ROOT};type=secret-key",
    f"pkcs11:token=alpha;id={ROOT};object=another-label",
    f"pkcs11:token-id=hsm-b;id={ROOT};type=private?pin-value={PIN}",
    f"pkcs11:token-id=nowhere;id={ROOT}",
    f"pkcs11:token-id=hsm-a;id={PUBLIC};type=private",  # held publicly only
])
def test_a_uri_that_names_no_key_says_what_it_looked_for(store, uri):
    with pytest.raises(KeyNotFound) as info:
        resolve(store, uri)
    text = f"{info.value} {info.value.hint}"
    assert info.value.title == "Key not found" and "matches the pkcs11: URI (" in text and "id " in text
    assert PIN not in text and "pin" not in text.lower()


def test_not_found_shows_the_id_it_looked_for(store):
    with pytest.raises(KeyNotFound, match="token 'alpha', id 99:aa"):
        resolve(store, "pkcs11:id=%99%aa;token=alpha")
    with pytest.raises(KeyNotFound, match=f"token-id 'nowhere', id '{ROOT}'"):
        resolve(store, f"pkcs11:token-id=nowhere;id={ROOT}")


HOSTILE = [
    ("pkcs11:object=" + "a" * 5000 + f"?pin-value={PIN}", "longer than"),
    (f"pkcs11:id=%zz;token=alpha?pin-value={PIN}", "percent-encoding"),
    (f"pkcs11:id=%4?pin-value={PIN}", "percent-encoding"),
    (f"pkcs11:object=a\x00b?pin-value={PIN}", "printable ASCII"),
    (f"pkcs11:object=%ff%fe?pin-value={PIN}", "UTF-8"),
    (f"pkcs11:token=alpha;type=private?pin-value={PIN}", "names no key"),
    (f"pkcs11:id=%01;id=%02?pin-value={PIN}", "twice"),
    (f"pkcs11:id=%01?pin-value={PIN}&pin-source=file:/x", "both"),
]


@pytest.mark.parametrize(("uri", "said"), HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_uris_get_a_clear_error_without_the_pin(store, uri, said):
    with pytest.raises(InvalidInput) as info:
        resolve(store, uri)
    assert isinstance(info.value, KmsError) and said in str(info.value)
    assert PIN not in f"{info.value} {info.value.hint}" and "\x00" not in str(info.value)


def test_lamassu_uri_through_the_service_and_the_audit_view(kms):
    """Every REF goes through ``resolve``: signing, and the audit view's look-up of keys it names."""
    record = kms.keys.create("ECDSA", 256, "device-ca")
    uri = f"pkcs11:token-id={record.engine_id};id={record.key_id};type=private?pin-value={PIN}"
    assert kms.keys.resolve(uri).key_id == record.key_id
    assert kms.signing.verify(uri, "ECDSA_SHA_256", b"m", kms.signing.sign(uri, "ECDSA_SHA_256", b"m"))
    [known] = kms.audit.keys_known_as(uri)
    assert (known.engine_id, known.key_id) == (record.engine_id, record.key_id)
    with pytest.raises(KeyNotFound) as info:
        kms.audit.keys_known_as(f"pkcs11:token-id=elsewhere;id={record.key_id}?pin-value={PIN}")
    assert PIN not in str(info.value) and "token-id 'elsewhere'" in str(info.value)
    assert not [row for row in kms.audit.rows(limit=1000) if PIN in repr(row)]
