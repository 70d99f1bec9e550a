"""The PKCS#11 engine through the Kms service: adoption by sync, threads, and what operators can hit."""

from __future__ import annotations

import hashlib
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from engines.errors import UnsupportedKeyType
from engines.pkcs11.errors import (
    KeyTypeNotOnToken,
    MechanismNotSupported,
    ModuleInvalid,
    ModuleMissing,
    TokenNotFound,
    WrongPin,
)
from engines.testing import raises_kms, verify_independently
from kms_tui.service import Kms
from store import CredentialStore
from tests.conftest import MemoryKeyring
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN

MESSAGE = b"tbsCertificate of an intermediate CA"
CURVE_ORDERS = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


def register(kms: Kms, engine_id: str = "hsm", token: str = "service", pin: str = USER_PIN, **options):
    """A PKCS#11 engine, made the default so that keys are created on the token."""
    return kms.engines.register("PKCS11", engine_id, options={"module": MODULE, "token": token, **options}, secret=pin,
                               make_default=True)


def exported(kms: Kms, ref: str):
    return serialization.load_pem_public_key(kms.keys.export_public(ref, "pem"))


def test_sync_adopts_a_pkcs11_tool_key_that_then_signs(kms, softhsm):
    register(kms)
    softhsm.tool("service", "--keypairgen", "--key-type", "EC:prime256v1", "--label", "some-other-label",
                 "--id", "0102")
    [report] = kms.inventory.sync("hsm")
    record = kms.keys.resolve("some-other-label")  # adopted under its label
    assert record.key_id in report.adopted
    assert (record.algorithm, record.size, record.native_ref) == ("ECDSA", 256, "some-other-label")
    assert record.pkcs11_uri == "pkcs11:token=service;id=%01%02;object=some-other-label;type=private"
    assert kms.keys.resolve(record.pkcs11_uri).key_id == record.key_id
    signature = kms.signing.sign("some-other-label", "ECDSA_SHA_256", MESSAGE)
    verify_independently(exported(kms, "some-other-label"), "ECDSA_SHA_256", MESSAGE, signature)
    assert kms.signing.verify("some-other-label", "ECDSA_SHA_256", MESSAGE, signature)
    [again] = kms.inventory.sync("hsm")
    assert again.adopted == [] and again.missing == []


@pytest.mark.parametrize(("size", "name"), [(256, "ECDSA_SHA_256"), (384, "ECDSA_SHA_384"), (521, "ECDSA_SHA_512"),
                                            (256, "ECDSA_SHA_512")])
def test_ecdsa_signatures_are_strict_der(kms, softhsm, size, name):
    register(kms)
    assert kms.keys.create("ECDSA", size, "ec").engine_id == "hsm"
    n = CURVE_ORDERS[size]().key_size
    for message_type, data in (("RAW", MESSAGE), ("DIGEST", None)):
        if data is None:
            data = hashlib.new("sha" + name[-3:], MESSAGE).digest()
        signature = kms.signing.sign("ec", name, data, message_type)
        r, s = decode_dss_signature(signature)
        assert encode_dss_signature(r, s) == signature  # canonical DER, nothing trailing
        assert 0 < r.bit_length() <= n and 0 < s.bit_length() <= n
        verify_independently(exported(kms, "ec"), name, MESSAGE, signature)


def test_eight_threads_signing_at_once(kms, softhsm):
    register(kms)
    names = {"p256": ("ECDSA", 256, "ECDSA_SHA_256"), "rsa": ("RSA", 2048, "RSASSA_PSS_SHA_256"),
             "ed": ("Ed25519", 256, "ED25519")}
    for name, (algorithm, size, _) in names.items():
        assert kms.keys.create(algorithm, size, name).engine_id == "hsm"
    publics = {name: exported(kms, name) for name in names}
    errors: list[BaseException] = []
    done = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(9):
                name = list(names)[(n + i) % 3]
                message = f"thread {n} message {i}".encode()
                signature = kms.signing.sign(name, names[name][2], message)
                verify_independently(publics[name], names[name][2], message, signature)
                done.append(name)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(done) == 72


def test_two_kms_in_one_process_share_the_token(kms, softhsm, tmp_path):
    register(kms)
    record = kms.keys.create("Ed25519", 256, "shared-key")
    assert record.engine_id == "hsm"
    with Kms(tmp_path / "other", credentials=CredentialStore(backend=MemoryKeyring())) as other:
        register(other, "hsm-too")
        other.inventory.sync("hsm-too")
        verify_independently(exported(other, record.key_id), "ED25519", MESSAGE,
                             other.signing.sign(record.key_id, "ED25519", MESSAGE))
    # The other Kms closed its driver: this one's session is still logged in.
    verify_independently(exported(kms, "shared-key"), "ED25519", MESSAGE, kms.signing.sign("shared-key", "ED25519", MESSAGE))


def test_created_key_records_its_uri(kms, softhsm):
    register(kms)
    record = kms.keys.create("RSA", 2048, "issuing-ca")
    assert record.native_ref == record.key_id
    assert record.pkcs11_uri.startswith("pkcs11:token=service;id=%") and f"object={record.key_id}" in record.pkcs11_uri
    assert kms.keys.resolve(record.pkcs11_uri).name == "issuing-ca"
    assert kms.engines.get("hsm").record.supported_key_types == {
        "RSA": [2048, 3072, 4096], "ECDSA": [224, 256, 384, 521], "Ed25519": [256]}
    kms.keys.delete("issuing-ca")
    assert record.key_id not in {k.key_id for k in kms.context.driver("hsm").inventory()}


# ---------------------------------------------------------------- errors an operator can hit


def test_wrong_pin(kms, softhsm):
    with raises_kms(WrongPin) as info:
        register(kms, "bad-pin", token="pin", pin="not-the-pin-4711")
    message = str(info.value)
    assert message.startswith("The user PIN of token 'pin' of module") and "is wrong" in message
    assert "CKF_USER_PIN_COUNT_LOW" in message  # SoftHSM reports failed logins through the token flags
    assert "not-the-pin-4711" not in message and USER_PIN not in message
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]
    register(kms, "good-pin", token="pin")  # the right PIN still works
    assert kms.engines.test("good-pin").reachable


def test_missing_module(kms, softhsm, tmp_path):
    with raises_kms(ModuleMissing) as info:
        kms.engines.register("PKCS11", "nomod", options={"module": str(tmp_path / "libnothing.so"), "token": "x"},
                            secret=USER_PIN)
    assert str(tmp_path / "libnothing.so") in info.value.message and "does not exist" in info.value.message


@pytest.mark.parametrize("what", ["text", "library"])
def test_a_file_that_is_not_a_pkcs11_module(kms, softhsm, tmp_path, what):
    if what == "text":
        path = tmp_path / "libfake.so"
        path.write_text("not a shared library")
    else:
        import ctypes.util

        path = "/lib/x86_64-linux-gnu/" + (ctypes.util.find_library("z") or "libz.so.1")
    with raises_kms(ModuleInvalid) as info:
        kms.engines.register("PKCS11", "fake", options={"module": str(path), "token": "x"}, secret=USER_PIN)
    assert "is not a PKCS#11 module" in info.value.message
    with raises_kms(ModuleInvalid):
        kms.engines.option_choices("PKCS11", {"module": str(path)})


def test_missing_token_lists_the_labels(kms, softhsm):
    with raises_kms(TokenNotFound) as info:
        register(kms, "notoken", token="no-such-token")
    assert info.value.message == f"Module {MODULE} has no token labelled 'no-such-token'."
    for label in ("contract", "service", "pin", "spare"):
        assert f"'{label}' (serial " in info.value.hint
    with raises_kms(TokenNotFound):
        kms.engines.register("PKCS11", "noserial", options={"module": MODULE, "serial": "0000"}, secret=USER_PIN)


def test_option_choices_through_the_service(kms, softhsm):
    labels = {t["label"] for t in kms.engines.option_choices("PKCS11", {"module": MODULE})["token"]}
    assert {"contract", "service", "pin", "spare", "shared"} <= labels
    with raises_kms(ModuleMissing):
        kms.engines.option_choices("PKCS11", {"module": "/nonexistent/libp11.so"})


def test_unsupported_mechanisms(kms, restricted):
    kms.engines.register("PKCS11", "limited", options=restricted, secret=USER_PIN)
    assert kms.engines.get("limited").record.supported_key_types == {"RSA": [2048, 3072, 4096],
                                                                     "ECDSA": [224, 256, 384, 521]}
    with raises_kms(UnsupportedKeyType):
        kms.keys.create("Ed25519", 256, "ed", engine_id="limited")
    with raises_kms(KeyTypeNotOnToken) as info:
        kms.context.driver("limited").create("Ed25519", 256)
    assert "has no CKM_EC_EDWARDS_KEY_PAIR_GEN mechanism" in info.value.message
    assert kms.keys.create("RSA", 2048, "rsa", engine_id="limited").native_ref
    verify_independently(exported(kms, "rsa"), "RSASSA_PKCS1_V1_5_SHA_384", MESSAGE,
                         kms.signing.sign("rsa", "RSASSA_PKCS1_V1_5_SHA_384", MESSAGE))
    with raises_kms(MechanismNotSupported) as info:
        kms.signing.sign("rsa", "RSASSA_PSS_SHA_256", MESSAGE)
    assert info.value.message == (f"Token 'restricted' of module {restricted['module']} has no CKM_RSA_PKCS_PSS "
                                  "mechanism: it cannot sign RSASSA_PSS_SHA_256.")
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with raises_kms(KeyTypeNotOnToken) as info:
        kms.keys.import_key(pem, "ed-imported", engine_id="limited")
    assert "has no CKM_EDDSA mechanism" in info.value.message
    assert [k.name for k in kms.keys.list()] == ["rsa"]


def test_doctor_reports_a_private_key_object_without_its_public_half(kms, softhsm):
    """Sync cannot adopt it (no key id without the public key) and nothing deletes key
    material on its own: doctor names the object and says how to look at and remove it."""
    from engines import keys as K
    from engines.pkcs11 import objects as O

    register(kms, token="spare")
    parsed = K.parse_key(K.private_pkcs8_pem(ec.generate_private_key(ec.SECP256R1())))
    label = f"lone-{parsed.key_id[:12]}"
    private_template, _ = O.import_templates(parsed.private_key, label, b"\x0a\x0b" + parsed.key_id[:6].encode())
    driver = kms.context.driver("hsm")
    made = driver._link.run("set up", lambda shared: shared.session.create_object(private_template))
    try:
        assert parsed.key_id not in {k.key_id for k in driver.inventory()}
        report = kms.doctor.run(repair=True)
        [finding] = [f for f in report.findings if label in f.message]
        assert finding.severity == "warning" and not finding.repairable and not finding.repaired
        assert "no public key object" in finding.message
        assert f"--delete-object --type privkey --id 0a0b{parsed.key_id[:6].encode().hex()}" in finding.hint
        # --repair synced the engine and left the object alone.
        assert any(what.startswith(f"private key object {label!r}") for what, _, _ in driver.unusable())
    finally:
        driver._link.run("clean up", lambda shared: made.destroy())
