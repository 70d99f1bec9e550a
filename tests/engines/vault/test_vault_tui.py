"""The Vault KV v2 engine in the workstation: the registration form, and its errors shown in the TUI."""

from __future__ import annotations

from kms_tui.app import KmsApp
from kms_tui.screens.engines import EnginesScreen
from tests.pilot import fill, open_form, register, screen_text, shown_error, submit


async def test_registration_form_end_to_end(openbao, lab, mount, kms, memory_keyring):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        await register(pilot, "HASHICORP_VAULT_KV_V2", "vault",
                       {"address": openbao.address, "mount": mount, "timeout": "5"}, lab.full_token)
        assert isinstance(pilot.app.screen, EnginesScreen), screen_text(pilot.app)
    view = kms.engines.get("vault")
    assert view.record.config["mount"] == mount and view.record.security_level == 0
    assert lab.full_token in memory_keyring.entries.values()
    assert lab.full_token.encode() not in (kms.data_dir / "kms.db").read_bytes()
    record = kms.keys.create("Ed25519", 256, "vault-key", engine_id="vault")
    assert kms.signing.verify("vault-key", "ED25519", b"m", kms.signing.sign("vault-key", "ED25519", b"m"))
    data = openbao.client().secrets.kv.v2.read_secret_version(record.key_id, mount_point=mount, raise_on_deleted_version=True)["data"]["data"]
    assert set(data) == {"key"}


async def test_wrong_token_missing_mount_and_unreachable_address_each_say_so(openbao, lab, mount, kms):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        dialog = await open_form(pilot, "HASHICORP_VAULT_KV_V2")
        cases = [
            ({"address": openbao.address, "mount": mount}, "not-a-token", "token"),
            ({"address": openbao.address, "mount": "no-such-mount"}, lab.full_token, "no-such-mount"),
            ({"address": "http://127.0.0.1:9", "mount": mount, "timeout": "2"}, lab.full_token, "unreachable"),
        ]
        for options, secret, needle in cases:
            await fill(pilot, dialog, "vault", options, secret)
            await submit(pilot, dialog)
            text = await shown_error(pilot)
            assert needle in text.lower(), text
            assert secret not in text
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


async def test_a_forbidden_path_says_so(openbao, lab, mount, kms):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        dialog = await open_form(pilot, "HASHICORP_VAULT_KV_V2")
        await fill(pilot, dialog, "vault", {"address": openbao.address, "mount": mount}, lab.narrow_token)
        await submit(pilot, dialog)
        text = await shown_error(pilot)
        assert "forbidden" in text.lower() and mount in text, text
        assert lab.narrow_token not in text
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]
