"""The PKCS#11 driver on SoftHSM2: Lamassu's object layout, keys of other tools, options, sessions."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import engines
from engines import algorithms as A
from engines import keys as K
from engines.errors import EngineConfigError, EngineError, InvalidInput, KeyExists, KeyNotFoundInEngine
from engines.pkcs11 import objects as O
from engines.pkcs11.engine import Pkcs11Engine
from engines.pkcs11.errors import PinMismatch
from engines.pkcs11.uri import parse_uri
from engines.testing import raises_kms, spki_sha256, verify_independently
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN

MESSAGE = b"a CA certificate's to-be-signed bytes"


@pytest.fixture(scope="module")
def spare(softhsm):
    """A driver on the 'spare' token, for tests that look at objects with pkcs11-tool."""
    with Pkcs11Engine("pkcs11-spare", {"module": MODULE, "token": "spare"}, USER_PIN) as engine:
        yield engine


def objects_labelled(softhsm, label: str) -> list[dict[str, str]]:
    return [o for o in softhsm.objects("spare") if o.get("label") == label]


def pem(private) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def sign_checked(driver, ref: str, public_key, name: str) -> bytes:
    signature = driver.sign(ref, A.signing_algorithm(name), MESSAGE, A.MessageType.RAW)
    verify_independently(public_key, name, MESSAGE, signature)
    return signature


# ---------------------------------------------------------------- Lamassu's layout


@pytest.mark.parametrize("how", ["copied", "renamed"])
@pytest.mark.parametrize(("algorithm", "size", "key_type"), [("ECDSA", 384, "EC"), ("Ed25519", 256, "EC_EDWARDS"),
                                                             ("RSA", 2048, "RSA")])
def test_created_objects_follow_lamassu_layout(softhsm, spare, algorithm, size, key_type, how):
    """Both ways a pair reaches the token: copied from session objects already named, or
    (a token that refuses C_CopyObject) generated on it and renamed."""
    shared = spare._link.run("attach", lambda shared: shared)
    shared.copy_refused = how == "renamed"
    try:
        key = spare.create(algorithm, size)
    finally:
        shared.copy_refused = False
    sign_checked(spare, key.ref, key.public_key, {"ECDSA": "ECDSA_SHA_384", "Ed25519": "ED25519",
                                                  "RSA": "RSASSA_PSS_SHA_256"}[algorithm])
    found = objects_labelled(softhsm, key.key_id)
    assert sorted(o["kind"] for o in found) == ["Private Key", "Public Key"]
    for obj in found:  # as pkcs11-tool (OpenSC) reads them: CKA_ID = CKA_LABEL = ASCII hex key id
        assert obj["type"] == key_type
        assert obj["ID"] == key.key_id.encode("ascii").hex()
    private = next(o for o in found if o["kind"] == "Private Key")
    assert private["Usage"] == "sign"
    assert private["Access"] == "sensitive, always sensitive, never extractable, local"
    assert key.ref == key.key_id and key.extra["label"] == key.key_id
    assert not any(o.get("label", "").startswith("kms-tui-pending-") for o in softhsm.objects("spare"))


def test_imported_private_key_is_sensitive_with_its_public_object(softhsm, spare):
    private = ec.generate_private_key(ec.SECP256R1())
    key = spare.import_key(K.parse_key(pem(private)))
    found = {o["kind"]: o for o in objects_labelled(softhsm, key.key_id)}
    assert set(found) == {"Private Key", "Public Key"}
    assert found["Private Key"]["Usage"] == "sign"
    assert found["Private Key"]["Access"].startswith("sensitive")
    assert "never extractable" not in found["Private Key"]["Access"]  # it came from outside, and says so
    sign_checked(spare, key.ref, private.public_key(), "ECDSA_SHA_384")


def test_delete_removes_both_objects(softhsm, spare):
    key = spare.create("ECDSA", 256)
    assert len(objects_labelled(softhsm, key.key_id)) == 2
    spare.delete(key.ref)
    assert objects_labelled(softhsm, key.key_id) == []


def test_a_label_that_exists_is_refused(softhsm, spare):
    private = ed25519.Ed25519PrivateKey.generate()
    parsed = K.parse_key(pem(private))
    # Another tool put a different public key under this key's label and id.
    other = K.parse_key(pem(ed25519.Ed25519PrivateKey.generate()))
    _, stranger = O.import_templates(other.private_key, parsed.key_id, parsed.key_id.encode("ascii"))
    spare._link.run("set up", lambda shared: shared.session.create_object(stranger))
    with raises_kms(KeyExists) as info:
        spare.import_key(parsed)
    assert parsed.key_id in info.value.message
    assert [o["kind"] for o in objects_labelled(softhsm, parsed.key_id)] == ["Public Key"]


def test_an_import_cut_short_after_its_public_object_is_completed(softhsm, spare):
    """Import writes the public object first; a kill before the private one leaves it alone,
    and the retried import adds the private half to it instead of refusing the label."""
    private = ec.generate_private_key(ec.SECP256R1())
    parsed = K.parse_key(pem(private))
    _, public_template = O.import_templates(parsed.private_key, parsed.key_id, parsed.key_id.encode("ascii"))
    spare._link.run("set up", lambda shared: shared.session.create_object(public_template))
    assert parsed.key_id not in {k.key_id for k in spare.inventory()}  # a public key alone is no key pair
    key = spare.import_key(parsed)
    assert sorted(o["kind"] for o in objects_labelled(softhsm, parsed.key_id)) == ["Private Key", "Public Key"]
    assert parsed.key_id in {k.key_id for k in spare.inventory()}
    sign_checked(spare, key.ref, private.public_key(), "ECDSA_SHA_256")


# The renaming of a generated pair, one attribute write at a time: the private object's
# id, its label, then the public object's id and label. A kill may stop it after any.
RENAMES = [(), ("priv_id",), ("priv_id", "priv_label"), ("priv_id", "priv_label", "pub_id")]


@pytest.mark.parametrize("done", RENAMES, ids=["none", "private-id", "private-both", "public-id"])
@pytest.mark.parametrize("algorithm", ["ECDSA", "Ed25519", "RSA"])
def test_a_pair_whose_renaming_was_cut_short_is_still_listed_and_usable(spare, done, algorithm):
    from pkcs11 import Attribute

    private = {"ECDSA": lambda: ec.generate_private_key(ec.SECP384R1()),
               "Ed25519": ed25519.Ed25519PrivateKey.generate,
               "RSA": lambda: rsa.generate_private_key(65537, 2048)}[algorithm]()
    parsed = K.parse_key(pem(private))
    placeholder = f"kms-tui-pending-{parsed.key_id[:16]}"
    priv_template, pub_template = O.import_templates(parsed.private_key, placeholder, placeholder.encode())

    def setup(shared):
        made = {"priv": shared.session.create_object(priv_template),
                "pub": shared.session.create_object(pub_template)}
        for step in done:
            which, attribute = step.split("_")
            made[which][Attribute.ID if attribute == "id" else Attribute.LABEL] = (
                parsed.key_id.encode("ascii") if attribute == "id" else parsed.key_id)

    spare._link.run("set up", setup)
    listed = [k for k in spare.inventory() if k.key_id == parsed.key_id]
    assert len(listed) == 1
    sign_checked(spare, listed[0].ref, private.public_key(), {"ECDSA": "ECDSA_SHA_384", "Ed25519": "ED25519",
                                                              "RSA": "RSASSA_PSS_SHA_256"}[algorithm])
    spare.delete(listed[0].ref)
    assert parsed.key_id not in {k.key_id for k in spare.inventory()}


def test_pkcs11_uri_is_rfc7512(spare):
    key = spare.create("Ed25519", 256)
    assert key.pkcs11_uri.startswith("pkcs11:token=spare;id=%")
    assert key.pkcs11_uri.endswith(f";object={key.key_id};type=private")
    assert parse_uri(key.pkcs11_uri) == {"token": "spare", "id": key.key_id.encode("ascii"),
                                         "object": key.key_id, "type": "private"}
    by_uri = spare.get(key.pkcs11_uri)
    assert by_uri.key_id == key.key_id
    sign_checked(spare, key.pkcs11_uri, key.public_key, "ED25519")
    other_token = key.pkcs11_uri.replace("token=spare", "token=elsewhere")
    with raises_kms(KeyNotFoundInEngine):
        spare.get(other_token)


# ---------------------------------------------------------------- keys of other tools


def test_keys_of_other_tools_any_label_or_id(softhsm, spare):
    softhsm.tool("spare", "--keypairgen", "--key-type", "EC:secp384r1", "--label", "Root CA 2031 (offline)",
                 "--id", "a1b2")
    softhsm.tool("spare", "--keypairgen", "--key-type", "rsa:2048", "--id", "0c0d")  # no label at all
    for _ in range(2):  # one label, two keys: only their ids tell them apart
        softhsm.tool("spare", "--keypairgen", "--key-type", "EC:prime256v1", "--label", "twin",
                     "--id", hashlib.sha256(str(_).encode()).hexdigest()[:8])
    listed = {k.ref: k for k in spare.inventory()}
    root = listed["Root CA 2031 (offline)"]
    assert (root.algorithm, root.size, root.extra["id"]) == ("ECDSA", 384, "a1b2")
    unlabelled = listed["pkcs11:id=%0C%0D;type=private"]  # no label: found by its id
    assert (unlabelled.algorithm, unlabelled.size) == ("RSA", 2048)
    twins = [k for k in listed.values() if k.extra["label"] == "twin"]
    assert len(twins) == 2
    assert {k.ref for k in twins} == {"pkcs11:id=" + "".join(f"%{b:02X}" for b in bytes.fromhex(k.extra["id"]))
                                      + ";type=private" for k in twins}
    for key in (root, unlabelled, *twins):
        assert key.key_id == spki_sha256(key.public_key)
        assert spare.get(key.ref).key_id == key.key_id
        sign_checked(spare, key.ref, key.public_key, A.algorithms_for_key(key.algorithm)[0])
    with raises_kms(EngineError) as info:
        spare.get("twin")
    assert "2 private keys" in info.value.message
    # A later key labelled like the hex of that id does not take its place.
    softhsm.tool("spare", "--keypairgen", "--key-type", "EC:prime256v1", "--label", "0c0d", "--id", "0e0f")
    assert spare.get(unlabelled.ref).key_id == unlabelled.key_id


def test_lookup_by_label_then_by_id(softhsm, spare):
    softhsm.tool("spare", "--keypairgen", "--key-type", "EC:prime256v1", "--label", "by-label", "--id", "beef")
    key = spare.get("by-label")
    assert spare.get("beef").key_id == key.key_id  # the hex of CKA_ID
    with raises_kms(KeyNotFoundInEngine):
        spare.get("not-a-label-nor-an-id")


@pytest.mark.parametrize("ref", ["", "x" * 5000, None, 7, "pkcs11:object=nope", "pkcs11:type=cert;object=x",
                                 "a\x00b", "\udcff", "../../etc/passwd"])
def test_hostile_references_are_not_found(spare, ref):
    with raises_kms(KeyNotFoundInEngine) as info:
        spare.get(ref)
    assert len(info.value.message) < 200
    with raises_kms(KeyNotFoundInEngine):
        spare.sign(ref, A.signing_algorithm("ED25519"), b"x", A.MessageType.RAW)
    with raises_kms(KeyNotFoundInEngine):
        spare.delete(ref)


def test_a_broken_uri_reference_is_invalid_input(spare):
    with raises_kms(InvalidInput):
        spare.get("pkcs11:object=%zz")


# ---------------------------------------------------------------- options and sessions


def test_options():
    with raises_kms(EngineConfigError) as info:
        Pkcs11Engine.validate_options({"module": MODULE})
    assert "token" in info.value.message and "serial" in info.value.message
    with raises_kms(EngineConfigError):
        Pkcs11Engine.validate_options({"token": "x"})
    with raises_kms(EngineConfigError):
        Pkcs11Engine.validate_options({"module": MODULE, "token": "x", "slot": "0"})
    relative = Pkcs11Engine.validate_options({"module": "lib/x.so", "serial": " 1234 "})
    assert relative["module"].startswith("/") and relative["serial"] == "1234"
    assert Pkcs11Engine.needs_secret(relative) and Pkcs11Engine.SECRET.label == "user PIN"
    caps = Pkcs11Engine.CAPABILITIES
    assert caps.can_create and caps.can_import and caps.can_delete and not caps.can_import_public
    assert Pkcs11Engine.DELETE_OPTIONS == () and Pkcs11Engine.KEY_ACTIONS == {}
    assert engines.driver_class("PKCS11") is Pkcs11Engine


def test_option_choices_list_the_tokens(softhsm):
    choices = Pkcs11Engine.option_choices({"module": MODULE})
    tokens = {t["label"]: t for t in choices["token"] if t["initialized"]}
    assert {"contract", "service", "pin", "spare"} <= set(tokens)
    assert tokens["spare"]["value"] == "spare" and tokens["spare"]["model"] == "SoftHSM v2"
    assert tokens["spare"]["manufacturer"] == "SoftHSM project" and len(tokens["spare"]["serial"]) == 16
    assert any(not t["initialized"] for t in choices["token"])  # SoftHSM's free slot
    assert Pkcs11Engine.option_choices({}) == {}


def test_token_chosen_by_serial(softhsm, spare):
    serial = next(t["serial"] for t in Pkcs11Engine.option_choices({"module": MODULE})["token"]
                  if t["label"] == "spare")
    key = spare.create("ECDSA", 256)
    with Pkcs11Engine("by-serial", {"module": MODULE, "serial": serial}, USER_PIN) as by_serial:
        sign_checked(by_serial, key.ref, key.public_key, "ECDSA_SHA_256")
        assert by_serial.get(key.ref).pkcs11_uri == key.pkcs11_uri
    spare.check()  # closing the other driver did not log this one out


def test_drivers_of_one_token_share_one_session(softhsm):
    options = {"module": MODULE, "token": "shared"}  # a token no other test keeps open
    first = Pkcs11Engine("first", options, USER_PIN)
    second = Pkcs11Engine("second", dict(options), USER_PIN)
    key = first.create("Ed25519", 256)
    sign_checked(second, key.ref, key.public_key, "ED25519")  # no UserAlreadyLoggedIn
    assert first._link._shared is second._link._shared
    first.close()
    sign_checked(second, key.ref, key.public_key, "ED25519")  # still logged in
    with raises_kms(PinMismatch) as info, Pkcs11Engine("third", dict(options), "another-pin") as third:
        third.check()
    assert "another-pin" not in str(info.value)
    second.close()
    with Pkcs11Engine("again", dict(options), USER_PIN) as again:  # the last close logged out; a new login works
        sign_checked(again, key.ref, key.public_key, "ED25519")


def test_secrets_stay_out_of_repr(spare):
    assert USER_PIN not in repr(spare) and USER_PIN not in repr(spare._link)
    spare.check()
    assert USER_PIN not in repr(spare._link._shared)


def test_rsa_1024_import_and_sizes(spare):
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    key = spare.import_key(K.parse_key(pem(private)))
    assert (key.algorithm, key.size) == ("RSA", 1024)
    sign_checked(spare, key.ref, private.public_key(), "RSASSA_PSS_SHA_256")


# python-pkcs11 0.10.1: a search that failed to start on a dead session still runs
# C_FindObjectsFinal when collected, and reports that failure as "Exception ignored".
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_session_lost_under_the_driver_is_reopened(softhsm):
    with Pkcs11Engine("lost", {"module": MODULE, "token": "shared"}, USER_PIN) as engine:
        key = engine.create("ECDSA", 256)
        lost = engine._link._shared
        lost.session.close()  # as a token pulled and reinserted would leave it: handle invalid, logged out
        sign_checked(engine, key.ref, key.public_key, "ECDSA_SHA_256")
        assert engine._link._shared is not lost


def test_keys_that_want_the_pin_for_each_signature(spare):
    """CKA_ALWAYS_AUTHENTICATE (smart cards, YubiHSM): the PIN is given again for each signature."""
    from pkcs11 import Attribute, Mechanism

    from engines.pkcs11 import objects as O

    private = ec.generate_private_key(ec.SECP256R1())
    private_template, public_template = O.import_templates(private, "always-auth", b"\xaa\x01")
    private_template[Attribute.ALWAYS_AUTHENTICATE] = True

    def setup(shared):
        made = shared.session.create_object(private_template)
        shared.session.create_object(public_template)
        with pytest.raises(Exception) as info:  # without the PIN again, SoftHSM refuses
            made.sign(b"\x00" * 32, mechanism=Mechanism.ECDSA)
        return type(info.value).__name__

    assert spare._link.run("set up", setup) == "UserNotLoggedIn"
    for name in ("ECDSA_SHA_256", "ECDSA_SHA_512"):
        sign_checked(spare, "always-auth", private.public_key(), name)


SIGN_IN_A_FRESH_PROCESS = """
import sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from engines import algorithms as A
from engines.pkcs11.engine import Pkcs11Engine
digests = [bytes([n]) * 32 for n in range(1, 4)]
sig_alg = A.signing_algorithm("ECDSA_SHA_256")
with Pkcs11Engine("pkcs11-fresh", {"module": sys.argv[1], "token": "spare"}, sys.argv[2]) as engine:
    native = engine.create("ECDSA", 256)
    try:
        with engine.signer(native.ref, sig_alg, A.MessageType.DIGEST) as sign:
            signatures = sign.many(digests)  # a part in one hold of the lock, through python-pkcs11's _sign
    finally:
        engine.delete(native.ref)
for digest, signature in zip(digests, signatures, strict=True):
    native.public_key.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
before = "asn1crypto" in sys.modules
from pkcs11.util.ec import encode_ec_public_key  # a deferred helper: imported on its first use
print(before, "asn1crypto" in sys.modules, callable(encode_ec_public_key), len(signatures))
"""


def test_a_token_signs_without_python_pkcs11s_util_helpers_which_still_import_on_use(softhsm):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", SIGN_IN_A_FRESH_PROCESS, MODULE, USER_PIN], env=softhsm.env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True", "True", "3"]
