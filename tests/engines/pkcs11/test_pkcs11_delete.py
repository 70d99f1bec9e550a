"""A PKCS#11 token destroys key objects at once: the delete stays immediate, is recorded first,
and its typed confirmations (CLI and workstation dialog) say so."""

from __future__ import annotations

import io
import types

from kms_tui.app import KmsApp
from kms_tui.cli import key_cmds
from kms_tui.dialogs.delete_key import DeleteKeyDialog
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN
from tests.pilot import until


def _hsm_key(kms, name: str):
    kms.engines.register("PKCS11", "hsm", options={"module": MODULE, "token": "spare"}, secret=USER_PIN)
    return kms.keys.create("ECDSA", 256, name, engine_id="hsm")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_delete_is_immediate_recorded_first_and_the_cli_says_so(softhsm, kms, monkeypatch, capsys):
    record = _hsm_key(kms, "hsm-gone")
    assert "immediate" in kms.keys.deletion_notice(record)
    monkeypatch.setattr("sys.stdin", _Terminal("hsm-gone\n"))
    args = types.SimpleNamespace(ref="hsm-gone", yes=False, force=False, option=[], json=False)
    assert key_cmds.delete(kms, args) == 0
    prompt = capsys.readouterr().err
    assert "immediate" in prompt and "cannot be undone" in prompt
    assert kms.keys.list() == [] and record.key_id not in {k.key_id for k in kms.context.driver("hsm").inventory()}
    intent, done = kms.audit.rows(limit=2)[::-1]
    assert (intent.action, done.action, done.details["engine"]) == ("key.delete.intent", "key.delete", "deleted")
    assert done.details["intent"] == intent.seq


async def test_the_delete_dialog_says_the_token_destroys_at_once(softhsm, kms):
    record = _hsm_key(kms, "hsm-dialog")
    try:
        async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
            dialog = DeleteKeyDialog(record)
            await pilot.app.push_screen(dialog)
            await until(pilot, lambda: dialog.notice, "what a delete does on this token")
            body = str(dialog.query_one("#dialog-body").render())
            assert "immediate" in body and "cannot be undone" in body
    finally:
        kms.keys.delete("hsm-dialog")
