"""ML-DSA keys read as the import and verify wizards read them, the fixed ML-DSA-65 key the wizard
tests use, and the create wizard's walk to a new ML-DSA-65 key; signatures are checked with ``cryptography``.

The create, sign and verify wizards are driven with Pilot to their ML-DSA results (created, raw and
external mu, saved, tampered) in test_wizards_snap_mldsa.py, ahead of each snapshot: one walk for both.
ML-DSA signing is hedged (fresh randomness each time): signatures are checked, never compared.
"""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa
from textual.widgets import OptionList

from kms_tui.wizards.create import CreateKeyWizard
from kms_tui.wizards.recognise import read_and_recognise, recognised_rows
from kms_tui.wizards.sign import signer_of
from tests.pilot import screen_text, until
from tests.tui import test_wizards_support as support
from tests.tui.conftest import fixture_key
from tests.tui.test_wizards_create import choose, fill_names, option_ids
from tests.tui.test_wizards_support import PASSPHRASE, next_step

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown

KEY_NAME = "pq-firmware-2026"
MESSAGE = b"firmware image 2.0.0"


@functools.cache
def mldsa65_key() -> mldsa.MLDSA65PrivateKey:
    """A fixed ML-DSA-65 key (from a fixed seed): the same key id every run."""
    return mldsa.MLDSA65PrivateKey.from_seed_bytes(bytes(range(32)))


def mldsa65_pem(passphrase: str | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return mldsa65_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def mldsa65_public_pem() -> bytes:
    return mldsa65_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def with_mldsa_key(kms) -> None:
    """The fixed ML-DSA-65 key imported into the default (software) engine."""
    kms.keys.import_key(mldsa65_pem(), KEY_NAME, tags=["firmware", "pq"])


async def create_mldsa65(pilot) -> None:
    """An ML-DSA-65 key created with the wizard on the software engine, then checked: it signs."""
    created = []
    wizard = CreateKeyWizard()
    pilot.app.push_screen(wizard, created.append)
    await until(pilot, lambda: wizard.supported_for == "golang-default" and wizard.focused is not None)
    assert "ML-DSA-44/65/87" in screen_text(pilot.app)  # "Can create: …"
    await next_step(pilot, "algorithm")
    assert option_ids(wizard, "#algorithm-list")[-1] == "ML-DSA"
    await choose(pilot, wizard, "ML-DSA", 65)
    sizes = wizard.query_one("#size-list", OptionList).options
    assert [str(o.prompt) for o in sizes] == ["ML-DSA-44 HIGH", "ML-DSA-65 HIGH", "ML-DSA-87 HIGH"]
    assert [o.id for o in sizes] == ["44", "65", "87"]
    await next_step(pilot, "names")
    await fill_names(pilot, wizard, "pq-root-2026", tags="pq")
    await next_step(pilot, "confirm")
    assert "ML-DSA-65" in screen_text(pilot.app)
    assert wizard.cli_command().text == (
        "kms-tui keys create --algorithm ML-DSA --size 65 --name pq-root-2026 --engine golang-default --tag pq")
    await pilot.press("ctrl+n")  # Create
    await until(pilot, lambda: created, "the new key")
    ui_kms = pilot.app.kms
    record = ui_kms.keys.resolve("pq-root-2026")
    assert created[0].key_id == record.key_id
    assert (record.algorithm, record.size, record.engine_id) == ("ML-DSA", 65, "golang-default")
    signature = ui_kms.signing.sign("pq-root-2026", "ML_DSA_SHAKE_256", MESSAGE)
    assert len(signature) == 3309
    serialization.load_pem_public_key(record.public_key.encode()).verify(signature, MESSAGE)


async def test_ml_dsa_pem_files_are_recognised_and_imported(ui_kms, ui_root):
    forms = {"clear.pem": mldsa65_pem(), "encrypted.pem": mldsa65_pem(PASSPHRASE), "public.pem": mldsa65_public_pem()}
    for name, data in forms.items():
        (ui_root / name).write_bytes(data)
    key_id = ui_kms.keys.inspect(mldsa65_public_pem()).key_id
    _, clear = read_and_recognise(ui_kms, "file", str(ui_root / "clear.pem"), "")
    assert (clear.algorithm, clear.size, clear.key_id, clear.has_private_key) == ("ML-DSA", 65, key_id, True)
    assert str(recognised_rows(clear, False, None)[0][1]) == "ML-DSA-65"
    assert read_and_recognise(ui_kms, "file", str(ui_root / "encrypted.pem"), "")[1] is None  # a passphrase first
    _, public = read_and_recognise(ui_kms, "paste", "", mldsa65_public_pem().decode())  # as the verify wizard
    assert (public.algorithm, public.size, public.key_id, public.has_private_key) == ("ML-DSA", 65, key_id, False)
    signature = mldsa65_key().sign(MESSAGE)
    assert ui_kms.signing.verify_with_public_key(mldsa65_public_pem(), "ML_DSA_SHAKE_256", MESSAGE, signature)
    assert not ui_kms.signing.verify_with_public_key(mldsa65_public_pem(), "ML_DSA_SHAKE_256", MESSAGE[1:], signature)
    record = ui_kms.keys.import_key(forms["encrypted.pem"], "pq-imported", passphrase=PASSPHRASE)
    assert (record.algorithm, record.size, record.key_id, record.engine_id) == ("ML-DSA", 65, key_id, "golang-default")
    mldsa65_key().public_key().verify(ui_kms.signing.sign("pq-imported", "ML_DSA_SHAKE_256", MESSAGE), MESSAGE)


def test_external_mu_is_offered_by_what_the_engine_signs(ui_kms):
    with_mldsa_key(ui_kms)
    ui_kms.keys.import_key(fixture_key("p256.pem"), "device-p256")
    assert signer_of(ui_kms, KEY_NAME)[2] is True  # the software engine signs a mu
    assert signer_of(ui_kms, "device-p256")[2] is False  # an ECDSA key has no mu
    assert ui_kms.engines.type_info("GOLANG").external_mu
