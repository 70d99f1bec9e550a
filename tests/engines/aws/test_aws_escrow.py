"""Bring your own key with escrow: a key imported into AWS KMS is first backed up under M-of-N.

moto implements no key import, so the AWS side is played by botocore's Stubber on the service's
own driver client (the stub shapes of ``support``): the escrow file is written and every share
handed out before the first AWS call, and the file restores the very key into a software
engine. On the command line (a pty as the controlling terminal) moto answers the import with
HTTP 500: the escrow made before it is kept and restores the key.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import uuid

import pytest
from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives.asymmetric import ec
from textual.widgets import Input, OptionList

from engines import keys as K
from engines.algorithms import MessageType, signing_algorithm
from engines.errors import EngineError, InvalidInput, UnsupportedKeyType
from kms_tui.app import KmsApp
from kms_tui.service import backup_escrow as X
from kms_tui.service.errors import Conflict, Refused
from kms_tui.wizards.import_key import ImportKeyWizard
from tests.cli.runner import InProcessCli, home_env
from tests.cli.test_cli_backup import _drive, _shares_shown
from tests.engines.aws.moto_server import ACCESS_KEY_ID, SECRET, Sent
from tests.engines.aws.support import expect_import_until_material
from tests.pilot import screen_text, until
from tests.tui.test_wizards_support import message, next_step, open_wizard, refused

ALG = "ECDSA_SHA_256"


def register(kms, moto, engine_id="aws-kms"):
    kms.engines.register("AWS_KMS", engine_id, options=moto.options(region="eu-north-1"), secret=SECRET)
    client = kms.context.driver(engine_id)._conn.client()
    return client, Sent(client)


def escrow_import(kms, tmp_path, pem, name, handed, file="escrow.backup", **kwargs):
    with open(tmp_path / file, "xb") as out:
        return kms.backup.escrow_import(pem, name, engine_id="aws-kms", custodians=5, threshold=3, out=out,
                                        hand_out=handed.append, **kwargs)


def new_key():
    private = ec.generate_private_key(ec.SECP256R1())
    return K.private_pkcs8_pem(private), K.parse_key(K.private_pkcs8_pem(private))


def test_the_escrow_comes_first_and_restores_the_aws_key(kms, moto, wrapping_key, tmp_path, monkeypatch, data_dir,
                                                         caplog):
    caplog.set_level(logging.DEBUG)
    kek = secrets.token_bytes(32)
    monkeypatch.setattr(X, "_new_kek", lambda: kek)
    client, sent = register(kms, moto)
    pem, parsed = new_key()
    kid = str(uuid.uuid4())
    handed, calls_at_hand_out = [], []
    with Stubber(client) as stub:
        expect_import_until_material(stub, parsed, wrapping_key, kid, os.urandom(64))
        stub.add_response("import_key_material", {"KeyId": kid}, expected_params={
            "KeyId": kid, "ImportToken": ANY, "EncryptedKeyMaterial": ANY,
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
        stub.add_response("create_alias", {}, expected_params={"AliasName": f"alias/{parsed.key_id}",
                                                               "TargetKeyId": kid})

        def hand_out(shares):  # the file is complete and AWS has seen nothing yet
            calls_at_hand_out.append((list(sent.names()), (tmp_path / "escrow.backup").stat().st_size))
            handed.append(shares)

        with open(tmp_path / "escrow.backup", "xb") as out:
            record = kms.backup.escrow_import(pem, "byok-root", engine_id="aws-kms", custodians=5, threshold=3,
                                              out=out, hand_out=hand_out, aliases=["partner-root"])
        stub.assert_no_pending_responses()
    assert calls_at_hand_out[0][0] == [] and calls_at_hand_out[0][1] > 0
    sent.clear()
    with Stubber(client), pytest.raises(Conflict, match="already recorded"):  # run twice: refused first
        escrow_import(kms, tmp_path, pem, "byok-again", handed, file="again.backup")
    assert sent.names() == [] and (tmp_path / "again.backup").read_bytes() == b"" and len(handed) == 1
    assert (record.engine_id, record.key_id, record.native_ref) == ("aws-kms", parsed.key_id, kid)
    assert kms.backup.state(record).startswith("escrowed at import, 3-of-5, on ")
    actions = [r.action for r in kms.audit.rows(limit=100, newest_first=False) if r.key_id == parsed.key_id]
    assert actions == ["key.escrow", "key.import"]
    (row,) = kms.audit.rows(limit=100, action="key.escrow")
    (shares,) = handed
    backup = kms.backup.read((tmp_path / "escrow.backup").read_bytes())
    assert row.details["file_sha256"] == backup.sha256 and (row.details["custodians"], row.details["threshold"]) == (5, 3)
    assert (backup.keys[0].engine_id, backup.keys[0].engine_type, backup.keys[0].aliases) == (
        "aws-kms", "AWS_KMS", ("partner-root",))

    with pytest.raises(Conflict, match="--name"):  # the original is recorded on AWS: another name is needed
        kms.backup.restore(backup, [shares.shares[k] for k in (0, 2, 4)], "golang-default", confirm_lower_level=True)
    with pytest.raises(Refused, match="lowers the protection"):  # AWS KMS (level 1) to a software engine
        kms.backup.restore(backup, [shares.shares[k] for k in (0, 2, 4)], "golang-default", name="copy")
    restored = kms.backup.restore(backup, [shares.shares[k] for k in (4, 0, 2)], "golang-default", name="copy",
                                  confirm_lower_level=True)
    (copy,) = restored.keys
    assert copy.record.key_id == record.key_id and copy.aliases_left == ["partner-root"]
    signature = kms.signing.sign("copy", ALG, b"tbs")
    assert K.verify_with(K.load_public_pem(record.public_key), signing_algorithm(ALG), b"tbs", MessageType.RAW,
                         signature)

    sentinels = [kek, kek.hex().encode(), base64.b64encode(kek)[:24]]
    for share in shares.shares:
        sentinels += [share.encode(), " ".join(share.split()[4:12]).encode()]
    places = {"audit": json.dumps([r.details for r in kms.audit.rows(limit=1000)]).encode(),
              "log": caplog.text.encode()}
    places.update({str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()})
    for where, data in places.items():
        assert not any(s in data for s in sentinels), f"a KEK or share sentinel is in {where}"


def test_a_failed_import_leaves_a_restorable_escrow_and_a_failed_escrow_no_import(
        kms, moto, wrapping_key, tmp_path):
    client, sent = register(kms, moto)
    pem, parsed = new_key()
    kid, handed = str(uuid.uuid4()), []
    with Stubber(client) as stub:
        expect_import_until_material(stub, parsed, wrapping_key, kid, os.urandom(64))
        stub.add_client_error("import_key_material", "IncorrectKeyMaterialException", "bad material")
        stub.add_response("schedule_key_deletion", {"KeyId": kid}, expected_params={"KeyId": kid,
                                                                                   "PendingWindowInDays": 7})
        with pytest.raises(EngineError, match="does not match the key spec"):
            escrow_import(kms, tmp_path, pem, "byok", handed)
        stub.assert_no_pending_responses()
    assert kms.keys.by_key_id(parsed.key_id) == []
    assert [r.action for r in kms.audit.rows(limit=100) if r.key_id == parsed.key_id] == ["key.escrow"]
    backup = kms.backup.read((tmp_path / "escrow.backup").read_bytes())
    restored = kms.backup.restore(backup, [handed[0].shares[k] for k in (1, 3, 4)], "golang-default",
                                  confirm_lower_level=True)
    assert restored.keys[0].record.key_id == parsed.key_id and restored.keys[0].record.name == "byok"

    sent.clear()
    pem, parsed = new_key()
    with Stubber(client) as stub:  # no response queued: any AWS call would fail the stub
        def walked_away(shares):
            raise InvalidInput("The terminal closed before the answer was typed; nothing was changed.")

        with open(tmp_path / "three.backup", "xb") as out, pytest.raises(InvalidInput, match="terminal closed"):
            kms.backup.escrow_import(pem, "byok-2", engine_id="aws-kms", custodians=5, threshold=3, out=out,
                                     hand_out=walked_away)
        with pytest.raises(Refused, match="can wrap its own keys"), open(tmp_path / "four.backup", "xb") as out:
            kms.backup.escrow_import(pem, "byok-2", engine_id="golang-default", custodians=5, threshold=3, out=out,
                                     hand_out=handed.append)
        with pytest.raises(InvalidInput, match="public key only"), open(tmp_path / "five.backup", "xb") as out:
            kms.backup.escrow_import(K.public_pem(parsed.public_key).encode(), "byok-2", engine_id="aws-kms",
                                     custodians=5, threshold=3, out=out, hand_out=handed.append)
        # AWS KMS makes Ed25519 and ML-DSA keys but imports neither: refused before any escrow is made.
        ed = K.private_pkcs8_pem(K.generate("Ed25519", 256))
        with pytest.raises(UnsupportedKeyType, match="cannot import Ed25519"), open(tmp_path / "six.backup", "xb") as out:
            kms.backup.escrow_import(ed, "byok-ed", engine_id="aws-kms", custodians=5, threshold=3, out=out,
                                     hand_out=handed.append)
        stub.assert_no_pending_responses()
    assert sent.names() == [] and kms.keys.by_key_id(parsed.key_id) == []
    assert [r.action for r in kms.audit.rows(limit=100) if r.key_id == parsed.key_id] == []
    assert (tmp_path / "four.backup").read_bytes() == b"" == (tmp_path / "five.backup").read_bytes()
    assert (tmp_path / "six.backup").read_bytes() == b""


def test_cli_escrow_on_the_terminal_survives_an_import_moto_refuses(moto, tmp_path):
    """``keys import --backup 3-of-5 --backup-out FILE`` on a pty: an existing file is refused before
    any AWS call; the shares go to the terminal only; the import (HTTP 500 from moto) fails after
    the escrow, whose file is kept and restores the key with ``keys restore``."""
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[escrow]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET}\n")
    cli = InProcessCli(tmp_path / "data", env={**home_env(tmp_path / "home"),
                                                "AWS_SHARED_CREDENTIALS_FILE": str(credentials)})
    options = {**{k: v for k, v in moto.options(region="ap-southeast-3").items() if k != "access_key_id"},
               "profile": "escrow", "max_attempts": "1"}
    cli("engines", "add", "AWS_KMS", "--id", "aws", *(x for k, v in options.items() for x in ("--option", f"{k}={v}")))
    pem, parsed = new_key()
    key = tmp_path / "partner.pem"
    key.write_bytes(pem)
    taken = tmp_path / "taken.backup"
    taken.write_bytes(b"keep me")
    args = ("keys", "import", str(key), "--name", "byok", "--engine", "aws", "--backup", "3-of-5", "--backup-out")
    aws = moto.client("kms", "ap-southeast-3")
    before = aws.list_keys()["Keys"]
    refused = cli(*args, str(taken), code=None)
    assert refused.returncode != 0 and b"not overwritten" in refused.stderr and taken.read_bytes() == b"keep me"
    half = cli(*args[:-1], code=None)
    assert half.returncode != 0 and b"needs both --backup M-of-N and --backup-out FILE" in half.stderr
    assert aws.list_keys()["Keys"] == before  # the escrow failed: nothing reached AWS

    path = tmp_path / "byok.backup"
    with open(tmp_path / "stdout", "wb+") as out, open(tmp_path / "stderr", "wb+") as err:
        code, shown = _drive(cli, out, err, *args, str(path))
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    shares = _shares_shown(shown)
    assert code != 0 and sorted(shares) == [1, 2, 3, 4, 5] and "All 5 shares were handed out" in shown
    assert b"HTTP 500" in stderr and f"The escrow backup {path} is complete".encode() in stderr
    (made,) = [k for k in aws.list_keys()["Keys"] if k not in before]  # tried after the hand-out, then discarded
    assert aws.describe_key(KeyId=made["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert parsed.key_id not in cli("keys", "list", "--json").stdout.decode()  # nothing recorded

    typed = "\n".join(" ".join(shares[k]) for k in (2, 4, 5)) + "\n"
    restored = cli.json("keys", "restore", str(path), "--engine", "golang-default", "--shares-stdin",
                        "--confirm-lower-level", "--json", input=typed)
    assert restored["keys"][0]["key_id"] == parsed.key_id and restored["keys"][0]["name"] == "byok"
    for file in [p for p in tmp_path.rglob("*") if p.is_file()]:
        data = file.read_bytes()
        assert not any(" ".join(words[4:10]).encode() in data for words in shares.values()), file
    assert stdout == b"", stderr.decode()


async def test_the_import_wizard_offers_the_escrow_on_aws_kms_and_hands_it_to_a_terminal(kms, moto, tmp_path):
    register(kms, moto)
    pem, parsed = new_key()
    (tmp_path / "partner.pem").write_bytes(pem)
    taken, out = tmp_path / "taken.backup", tmp_path / "byok.backup"
    taken.write_bytes(b"keep me")
    async with KmsApp(kms).run_test(size=(80, 24)) as pilot:
        wizard = ImportKeyWizard(engine_id="aws-kms")
        await open_wizard(pilot, wizard, "source")
        wizard.query_one("#key-file-path", Input).value = str(tmp_path / "partner.pem")
        await next_step(pilot, "preview")
        await until(pilot, lambda: wizard.engine_id == "aws-kms", "the AWS engine chosen")
        engines = wizard.query_one("#import-engines", OptionList)
        engines.highlighted = [o.id for o in engines.options].index("golang-default")
        assert not wizard.step_applies("escrow")  # a software engine backs its keys up itself
        engines.highlighted = [o.id for o in engines.options].index("aws-kms")
        await next_step(pilot, "names")
        wizard.query_one("#name", Input).value = "byok"
        await next_step(pilot, "escrow")
        assert "Step 4 of 5" in screen_text(pilot.app) and "never gives this key back" in screen_text(pilot.app)
        wizard.query_one("#escrow-policy", Input).value = "1-of-3"
        await refused(pilot, "escrow")
        assert "threshold of 1 with 3 custodians" in message(pilot)
        wizard.query_one("#escrow-policy", Input).value = "3-of-5"
        wizard.query_one("#escrow-file-path", Input).value = str(taken)
        await refused(pilot, "escrow")
        assert "not overwritten" in message(pilot) and taken.read_bytes() == b"keep me"
        wizard.query_one("#escrow-file-path", Input).value = str(out)
        await next_step(pilot, "confirm")
        text = screen_text(pilot.app)
        assert "Escrow" in text and "3-of-5 to" in text and "Copy command" in text
        command = wizard.cli_command()
        assert command.text.endswith(f"--engine aws-kms --backup 3-of-5 --backup-out {out}")
        assert any("terminal" in note for note in command.notes)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not isinstance(pilot.app.screen, ImportKeyWizard), "the wizard closed")
    assert kms.keys.by_key_id(parsed.key_id) == [] and not out.exists()  # the terminal does it, not the TUI
