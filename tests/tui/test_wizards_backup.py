"""The backup and restore wizards, driven with Pilot on software engines, and their steps at 80×24.

The behaviour test runs the real service: a 2-of-3 backup through the backup wizard (the shares
read off the custodians' screens), then a restore from two of them through the restore wizard
into another engine, as the same key. The snapshots never draw a real share: the backup wizard
is given a share source handing out a fixed dummy share, and the restore wizard reads a backup
made under a fixed dummy key-encryption key.
"""

from __future__ import annotations

import os
import random
import re
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Checkbox, Input, OptionList, SelectionList

from engines import keys as K
from kms_tui.actions import global_commands, key_commands, open_backup, open_restore
from kms_tui.service import backup_file as F
from kms_tui.service.backup import BackupResult, ShareSet
from kms_tui.service.errors import InvalidInput
from kms_tui.wizards import backup as W
from kms_tui.wizards.backup import BackupWizard, CustodianDesk
from kms_tui.wizards.restore import RestoreWizard, read_backup
from tests.pilot import screen_text, settle_view, until
from tests.tui import test_wizards_support as support
from tests.tui.conftest import fixture_key
from tests.tui.test_wizards_support import SHOWN, message, next_step, refused

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown

# Not a share: 33 words of the SLIP-39 list in a row (no checksum holds), the same for every custodian.
DUMMY_SHARE = ("academic acid acne acquire acrobat activity actress adapt adequate adjust admit adorn adult "
               "advance advocate afraid again agency agree aide aircraft airline airport ajar alarm album "
               "alcohol alien alive alpha already alto aluminum")
DUMMY_KEK = bytes(range(32))  # the restore snapshots' backup: a made-up key-encryption key, guarding nothing
WORD = re.compile(r"(\d+)\. ([a-z]+)")


@pytest.fixture
def svg(snapshot):
    return snapshot.use_extension(SVGImageExtension)


async def shot(pilot, svg, name: str) -> None:
    await settle_view(pilot)
    assert pilot.app.export_screenshot() == svg(name=name), name


def second_engine(kms, root, engine_id="soft-b") -> str:
    kms.engines.register("GOLANG", engine_id, options={"directory": str(root / engine_id), "encrypt": "false"})
    return engine_id


async def desk(pilot, number: int) -> CustodianDesk:
    await until(pilot, lambda: pilot.app.screen.query_one(CustodianDesk).number == number
                and not pilot.app.screen.busy, f"custodian {number}'s turn")
    return pilot.app.screen.query_one(CustodianDesk)


async def press_next(pilot, phase: str) -> None:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: pilot.app.screen.query_one(CustodianDesk).phase == phase
                and not pilot.app.screen.busy, f"the {phase} phase")


async def desk_refused(pilot) -> None:
    """Next on a custodian's desk, refused: the desk stays, the reason said."""
    await pilot.press("ctrl+n")
    await until(pilot, lambda: "error" in pilot.app.screen.query_one("#wizard-message").classes, "the refusal")


async def read_share(pilot, number: int, *, slips: bool = False) -> str:
    """One custodian's turn, as they would take it: the words read off the screen, written down, checked
    (``slips``: first going on without ticking the box, and typing a word wrong)."""
    current = await desk(pilot, number)
    await press_next(pilot, "words")
    words: dict[int, str] = {}
    while True:
        words.update((int(n), w) for n, w in WORD.findall(screen_text(pilot.app)))
        if current.last_page:
            break
        page = current.page
        await pilot.press("ctrl+n")
        await until(pilot, lambda p=page: current.page == p + 1 and not pilot.app.screen.busy, "the next page")
    if slips:
        await desk_refused(pilot)  # not ticked yet
    current.query_one("#written", Checkbox).value = True
    await press_next(pilot, "check")
    share = [words[n] for n in sorted(words)]
    assert len(share) == 33 and not WORD.search(screen_text(pilot.app))  # the words are no longer on screen
    first, second = current.positions
    current.query_one("#check-1", Input).value = share[first]
    if slips:
        current.query_one("#check-2", Input).value = "wrong"
        await desk_refused(pilot)
        assert f"not word #{second + 1}" in message(pilot)
    current.query_one("#check-2", Input).value = share[second]
    await pilot.press("ctrl+n")
    return " ".join(share)


async def test_a_2_of_3_backup_and_a_restore_from_two_shares_through_the_wizards(empty_app, ui_kms, ui_root):
    kms = ui_kms
    root = kms.keys.create("ECDSA", 256, "root", backup=(2, 3), aliases=["ca-root"])
    kms.keys.create("ECDSA", 256, "plain")
    target = second_engine(kms, ui_root)
    handed = []
    with open(ui_root / "other.backup", "xb") as out:  # another backup of the same key: its shares are foreign
        kms.backup.create(["root"], custodians=3, threshold=2, out=out, hand_out=handed.append)
    foreign = handed[0].shares[0]
    assert W.officer_engines(kms, ["golang-default"]) == []  # a token's wrap needs its officer; software none
    assert kms.engines.type_info("PKCS11").backup_needs_officer and kms.engines.type_info("PKCS11").backup_wrap
    async with empty_app.run_test(size=(80, 24)) as pilot:
        titles = {c.title for c in global_commands(pilot.app)}
        assert {"Back up keys (M-of-N custodians)", "Restore keys from a backup"} <= titles
        assert "Back up key root" in {c.title for c in key_commands(pilot.app, pilot.app.screen, root)}
        assert "Back up key plain" not in {c.title for c in key_commands(pilot.app, pilot.app.screen,
                                                                          kms.keys.resolve("plain"))}

        open_backup(pilot.app, kms.keys.resolve("plain"))  # not offered: said why
        await until(pilot, lambda: isinstance(pilot.app.screen, BackupWizard) and not pilot.app.screen.busy)
        wizard = pilot.app.screen
        assert "Not offered: Key 'plain' was made without a backup policy" in screen_text(pilot.app)
        assert wizard.query_one(SelectionList).option_count == 1 and not wizard.chosen
        await pilot.press("space")  # the one key offered: root
        await next_step(pilot, "custody")
        assert (wizard.query_one("#custodians", Input).value, wizard.query_one("#threshold", Input).value) == ("3", "2")
        wizard.query_one("#threshold", Input).value = "1"
        await until(pilot, lambda: "would give each of them the whole key" in str(wizard.query_one("#custody-check")
                                                                                    .render()), "the live check")
        wizard.query_one("#threshold", Input).value = "2"
        await next_step(pilot, "file")  # no officer on a software engine
        (ui_root / "taken.backup").write_bytes(b"x")
        wizard.query_one("#backup-file-path", Input).value = str(ui_root / "taken.backup")
        await refused(pilot, "file")
        assert "never overwrites" in message(pilot)
        path = ui_root / "root.backup"
        wizard.query_one("#backup-file-path", Input).value = str(path)
        await pilot.press("ctrl+n")
        shares = [await read_share(pilot, 1, slips=True)]
        await desk(pilot, 2)  # custodian 1's desk is gone from the screen's tree, not just hidden
        assert [d.number for d in wizard.query(CustodianDesk)] == [2]
        assert shares[0].split()[-1] not in screen_text(pilot.app)
        shares.append(await read_share(pilot, 2))
        shares.append(await read_share(pilot, 3))
        await until(pilot, lambda: wizard.step_id == "done" and not wizard.busy, "the result")
        shown = screen_text(pilot.app)
        backup = kms.backup.read(path.read_bytes())
        assert backup.sha256 in shown.replace("\n", "") or backup.sha256[:40] in shown
        assert "2-of-3: 3 custodians hold a share" in shown and "keys backup root --custodians 3" in shown
        assert not any(s.split()[-1] in shown for s in shares)
        assert [kms.backup.check_share(backup, s) for s in shares] == [1, 2, 3]
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not isinstance(pilot.app.screen, BackupWizard), "the wizard to close")

        open_restore(pilot.app)
        await until(pilot, lambda: isinstance(pilot.app.screen, RestoreWizard) and pilot.app.screen.focused)
        wizard = pilot.app.screen
        wizard.query_one("#backup-file-path", Input).value = str(path)
        await next_step(pilot, "shares")
        share = wizard.query_one("#share", Input)

        def check() -> str:
            return str(wizard.query_one("#share-check").render())

        words = shares[2].split()
        swapped = next(w for w in ("academic", "acid", "acne") if w != words[9])
        share.value = " ".join(words[:9] + [swapped] + words[10:])
        await until(pilot, lambda: "checksum" in check(), "the checksum named as typed")
        share.value = " ".join(words[:4] + ["bitcoin", ""])
        await until(pilot, lambda: "Word 5 of the share is not a SLIP-39 word" in check(), "the unknown word")
        share.value = foreign
        await until(pilot, lambda: "belongs to another backup" in check(), "the foreign share")
        await refused(pilot, "shares")
        assert wizard.custodians == [] and "belongs to another backup" in message(pilot)
        share.value = shares[2]
        await until(pilot, lambda: "Custodian 3's share" in check(), "the right share")
        await pilot.press("enter")
        await until(pilot, lambda: wizard.custodians == [3] and share.value == "", "the share taken")
        share.value = shares[0]
        await next_step(pilot, "engine")
        wizard.query_one(OptionList).highlighted = [o.id for o in wizard.query_one(OptionList).options].index(target)
        await next_step(pilot, "names")  # the original's name is still recorded: a new one
        ((original, field),) = wizard.name_fields
        assert original == "root"
        field.value = "root-b"
        await pilot.press("ctrl+n")
        await until(pilot, lambda: wizard.step_id == "done" and not wizard.busy, "the restore")
        shown = screen_text(pilot.app)
        assert "root-b" in shown and root.key_id[:16] in shown and "verified with the recorded public key" in shown
        assert not wizard.shares
    (restored,) = [r for r in kms.keys.by_key_id(root.key_id) if r.engine_id == target]
    assert restored.name == "root-b" and restored.key_id == root.key_id


def test_the_restore_wizard_reads_a_regular_file_only(kms, tmp_path):
    """A pipe (or a link to one) typed as the backup file is refused, not waited on by the worker and the app's exit."""
    fifo = tmp_path / "backup.fifo"
    os.mkfifo(fifo)
    (tmp_path / "link.backup").symlink_to(fifo)
    for path in (fifo, tmp_path / "link.backup"):
        writer = threading.Timer(1, fifo.write_bytes, (b"{}",))  # what an unguarded read would wait for
        writer.start()
        try:
            with pytest.raises(InvalidInput, match="not a regular file"):
                read_backup(kms, str(path))
        finally:
            writer.cancel()
    (tmp_path / "cut.backup").write_bytes(b'{"format": "kms-tui-backup", "vers')
    with pytest.raises(InvalidInput, match="not JSON"):
        read_backup(kms, str(tmp_path / "cut.backup"))


def dummy_source(kms, request, hand_out) -> BackupResult:
    """A share source for snapshots: the fixed dummy share for each custodian, nothing wrapped or written."""
    hand_out(ShareSet(4242, request.threshold, (DUMMY_SHARE,) * request.custodians))
    return BackupResult([kms.keys.resolve(ref) for ref in request.refs], "5e" * 32, request.threshold,
                        request.custodians, 4242)


async def backup_steps(pilot, kms, svg, root) -> None:
    """Every step of the backup wizard, the hand-out with the dummy share; no screenshot while a share is up."""
    pilot.app.push_screen(BackupWizard(kms.keys.resolve("offline-root-2026"), source=dummy_source))
    await until(pilot, lambda: isinstance(pilot.app.screen, BackupWizard) and not pilot.app.screen.busy
                and pilot.app.screen.chosen)
    wizard = pilot.app.screen
    await shot(pilot, svg, "backup-keys")
    await next_step(pilot, "custody")
    await shot(pilot, svg, "backup-custody")
    wizard.officer_engines = ["token-a"]  # as a PKCS#11 key's engine answers: the officer step is drawn
    await next_step(pilot, "officer")
    wizard.query_one("#officer-pin", Input).value = "0000"
    await shot(pilot, svg, "backup-officer")
    await next_step(pilot, "file")
    wizard.query_one("#backup-file-path", Input).value = f"{SHOWN}/offline-root.backup"
    await shot(pilot, svg, "backup-file")
    await pilot.press("ctrl+n")
    await desk(pilot, 1)
    await shot(pilot, svg, "backup-handout-ready")
    await press_next(pilot, "words")
    assert wizard.query_one(CustodianDesk).pages == 1  # 33 words on one page at 80×24
    wizard.query_one("#written", Checkbox).value = True
    await shot(pilot, svg, "backup-handout-words")
    assert wizard.shows_secret and "Screenshot" not in {c.title for c in pilot.app.get_system_commands(wizard)}
    assert pilot.app.deliver_screenshot("share.svg", str(root)) is None and not (root / "share.svg").exists()
    await press_next(pilot, "check")
    await shot(pilot, svg, "backup-handout-check")
    wizard._pending.clear()  # custodians 2 and 3 take their turns as custodian 1 (the behaviour test walks them)
    current = wizard.query_one(CustodianDesk)
    current.query_one("#check-1", Input).value = "actress"  # words #7 and #19 of the dummy share
    current.query_one("#check-2", Input).value = "agree"
    await pilot.press("ctrl+n")
    await until(pilot, lambda: wizard.step_id == "done" and not wizard.busy, "the result")
    await shot(pilot, svg, "backup-done")
    assert not wizard.shows_secret and "Screenshot" in {c.title for c in pilot.app.get_system_commands(wizard)}


def dummy_backup(monkeypatch, path) -> list[str]:
    """A backup of the fixture P-256 key (recorded here as device-fleet-01) from a PKCS#11 token at level 2,
    under ``DUMMY_KEK``, its 2-of-3 shares made with fixed randomness; returns the shares."""
    from shamir_mnemonic import Share, generate_mnemonics, shamir

    draw = random.Random(19)
    monkeypatch.setattr(shamir, "RANDOM_BYTES", draw.randbytes)
    shares = generate_mnemonics(1, [(2, 3)], DUMMY_KEK)[0]
    private = serialization.load_pem_private_key(fixture_key("p256.pem"), None)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key = F.BackupKey(key_id=K.key_id_of(private.public_key()), name="device-fleet-01", algorithm="ECDSA", size=256,
                      aliases=("fleet",), tags=("devices",), bindings=(), public_key=public, engine_id="token-a",
                      engine_type="PKCS11", security_level=2, wrapped=aes_key_wrap_with_padding(DUMMY_KEK, der))
    draft = F.BackupFile("2026-03-14T09:00:00Z", Share.from_mnemonic(shares[0]).identifier, 2, 3, (key,), b"", "")
    path.write_bytes(F.sealed(draft, DUMMY_KEK)[1])
    return shares


async def test_every_step_of_both_wizards_at_80x24(empty_app, ui_kms, svg, monkeypatch, ui_root):
    """No real share is drawn: the backup hands out the dummy share, the restore reads the dummy backup."""
    ui_kms.keys.create("ECDSA", 256, "offline-root-2026", backup=(2, 3), tags=["pki"])
    ui_kms.keys.import_key(fixture_key("p256.pem"), "device-fleet-01")  # no policy: not offered; restored below
    monkeypatch.setattr(W, "checked_positions", lambda count: [6, 18])
    shares = dummy_backup(monkeypatch, ui_root / "fleet.backup")
    second_engine(ui_kms, ui_root)
    async with empty_app.run_test(size=(80, 24)) as pilot:
        await backup_steps(pilot, ui_kms, svg, ui_root)
        pilot.app.push_screen(RestoreWizard())
        await until(pilot, lambda: isinstance(pilot.app.screen, RestoreWizard) and pilot.app.screen.focused)
        wizard = pilot.app.screen
        wizard.query_one("#backup-file-path", Input).value = f"{SHOWN}/fleet.backup"
        await shot(pilot, svg, "restore-file")
        await next_step(pilot, "shares")
        wizard.query_one("#share", Input).value = shares[1]
        await pilot.press("ctrl+n")
        await until(pilot, lambda: wizard.custodians == [2] and not wizard.busy)
        words = shares[0].split()
        wizard.query_one("#share", Input).value = " ".join(words[:11] + ["bitcoin", ""])
        await until(pilot, lambda: "Word 12" in str(wizard.query_one("#share-check").render()), "the unknown word")
        await shot(pilot, svg, "restore-shares")
        wizard.query_one("#share", Input).value = shares[0]
        await next_step(pilot, "engine")
        await pilot.press("down")
        await until(pilot, lambda: wizard.engine_id == "soft-b")
        await shot(pilot, svg, "restore-engine")
        await next_step(pilot, "lower")
        wizard.query_one("#lower-confirm", Input).value = "LOWER"
        await shot(pilot, svg, "restore-lower")
        await next_step(pilot, "names")
        await shot(pilot, svg, "restore-names")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: wizard.step_id == "done" and not wizard.busy, "the restore")
        await shot(pilot, svg, "restore-done")
    assert ui_kms.keys.resolve("device-fleet-01-restored").engine_id == "soft-b"
