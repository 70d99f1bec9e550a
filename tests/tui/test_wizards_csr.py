"""The CSR wizard, driven with Pilot on the software engine; requests are checked with openssl and cryptography.

Ed25519 signatures are deterministic, so the done step (with the request's SHA-256) draws the same every run.
"""

from __future__ import annotations

import shlex
import subprocess

from cryptography import x509
from cryptography.x509.oid import NameOID
from textual.widgets import Input, Select, TextArea

from kms_tui.actions import key_commands, open_csr
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.wizards.csr import CsrWizard
from tests.cli.runner import InProcessCli
from tests.pilot import screen_text, settle_view, type_text, until
from tests.tui import test_wizards_support as support
from tests.tui.test_wizards_support import SHOWN, message, next_step, refused

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown

SUBJECT = "/C=ES/O=Example Org/CN=www.example.com"  # not the order cryptography's own builders would pick
SANS = "dns:www.example.com\nip:192.0.2.7, email:pki@example.com"


async def start(pilot, name: str) -> CsrWizard:
    """The wizard opened on a key, as the palette opens it."""
    open_csr(pilot.app, pilot.app.kms.keys.resolve(name))
    await until(pilot, lambda: isinstance(pilot.app.screen, CsrWizard), "the CSR wizard")
    wizard = pilot.app.screen
    await until(pilot, lambda: getattr(wizard.focused, "id", "") == "key-ref", "the key field")
    return wizard


async def start_from_detail(pilot, name: str) -> CsrWizard:
    """The key's detail screen, then its CSR binding."""
    record = pilot.app.kms.keys.resolve(name)
    pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
    await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen) and pilot.app.screen.record is not None)
    await pilot.press("C")
    await until(pilot, lambda: isinstance(pilot.app.screen, CsrWizard), "the CSR wizard")
    wizard = pilot.app.screen
    await until(pilot, lambda: getattr(wizard.focused, "id", "") == "key-ref", "the key field")
    return wizard


def fill_subject(wizard, subject: str, sans: str = "") -> None:
    wizard.query_one("#subject-text", Input).value = subject
    wizard.query_one("#sans", TextArea).text = sans


def field_error(wizard, which: str) -> str:
    return str(wizard.query_one(f"#{which}-error").render())


async def to_done(pilot, wizard, out: str, fmt: str) -> None:
    await next_step(pilot, "subject")
    fill_subject(wizard, SUBJECT, SANS)
    await next_step(pilot, "profile")
    wizard.query_one("#profile-name", Select).value = "tls-client"
    await next_step(pilot, "preview")
    await next_step(pilot, "file")
    wizard.query_one("#out-path", Input).value = out
    wizard.query_one("#out-format", Select).value = fmt
    await next_step(pilot, "done")


def subject_oids(request: x509.CertificateSigningRequest) -> list:
    return [attribute.oid for attribute in request.subject]


async def refused_with(pilot, step: str, *needles: str) -> None:
    await refused(pilot, step)
    assert all(needle in message(pilot) for needle in needles), message(pilot)


async def test_a_csr_from_the_wizard_verifies_keeps_the_order_and_matches_the_cli(
        demo_app, demo_kms, ui_root, memory_keyring):
    (ui_root / "out").mkdir()
    taken = ui_root / "out" / "taken.csr"
    taken.write_bytes(b"evidence")
    signed = len(demo_kms.audit.rows(limit=100, action="key.sign"))
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start_from_detail(pilot, "device-fleet-01")
        assert wizard.query_one("#key-ref", Input).value == "device-fleet-01"  # preselected
        await next_step(pilot, "subject")

        # Checked as typed, the bad part named under its field; Next refused.
        fill_subject(wizard, "/C=ES/Q=nope/CN=x")
        await until(pilot, lambda: "'Q=nope'" in field_error(wizard, "subject"), "the subject error")
        assert field_error(wizard, "sans") == ""
        await refused_with(pilot, "subject", "'Q=nope'")
        fill_subject(wizard, "/C=ES/CN=x", "dns:good.example\ndns:bad_label.example")
        await until(pilot, lambda: "bad_label" in field_error(wizard, "sans"), "the SAN error")
        assert field_error(wizard, "subject") == ""
        await refused_with(pilot, "subject", "bad_label")

        fill_subject(wizard, "")
        wizard.query_one("#subject-text", Input).focus()
        await type_text(pilot, SUBJECT)
        await pilot.press("enter")  # on to the SANs, not past them
        assert wizard.step_id == "subject" and wizard.focused.id == "sans"
        await type_text(pilot, "dns:www.example.com")
        wizard.query_one("#sans", TextArea).text = SANS
        await next_step(pilot, "profile")
        wizard.query_one("#profile-name", Select).value = "code-signing"  # its SAN rule: none
        await refused_with(pilot, "profile", "Profile 'code-signing' takes no SANs")
        wizard.query_one("#profile-name", Select).value = "tls-server"
        await next_step(pilot, "preview")
        shown = screen_text(pilot.app)
        assert "tls-server" in shown
        assert "C=ES / O=Example Org / CN=www.example.com" in shown  # the order written
        assert "CN=www.example.com,O=Example Org,C=ES" in shown  # RFC 4514
        assert "ECDSA_SHA_256" in shown and "golang-default" in shown and "ip:192.0.2.7" in shown
        await next_step(pilot, "file")

        # An existing file: the refusal inline, the file untouched, nothing signed.
        wizard.query_one("#out-path", Input).value = f"{SHOWN}/out/taken.csr"  # read back by the app
        await refused_with(pilot, "file", "not overwritten")
        assert taken.read_bytes() == b"evidence"
        assert len(demo_kms.audit.rows(limit=100, action="key.sign")) == signed

        wizard.query_one("#out-path", Input).value = f"{SHOWN}/out/www.csr"
        await next_step(pilot, "done")
        path = ui_root / "out" / "www.csr"
        subprocess.run(["openssl", "req", "-verify", "-noout", "-in", str(path)], check=True, capture_output=True)
        request = x509.load_pem_x509_csr(path.read_bytes())
        assert subject_oids(request) == [NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME]
        assert demo_kms.audit.rows(limit=1, action="key.csr")[0].details["subject"] == request.subject.rfc4514_string()
        assert str(path) in wizard.cli_command().text

        # The command as shown, pasted into a shell, makes the same request with the CLI.
        argv = shlex.split(wizard.cli_command().text)
        assert argv[:3] == ["kms-tui", "keys", "csr"] and argv[argv.index("--profile") + 1] == "tls-server"
        again = ui_root / "out" / "again.csr"
        argv[argv.index("--out") + 1] = str(again)
        InProcessCli(demo_kms.data_dir, keyring=memory_keyring)(*argv[1:])
        from_cli = x509.load_pem_x509_csr(again.read_bytes())
        assert from_cli.subject == request.subject and subject_oids(from_cli) == subject_oids(request)
        san = x509.SubjectAlternativeName
        assert from_cli.extensions.get_extension_for_class(san) == request.extensions.get_extension_for_class(san)
        eku = x509.ExtendedKeyUsage
        assert from_cli.extensions.get_extension_for_class(eku) == request.extensions.get_extension_for_class(eku)

        await pilot.press("ctrl+n")  # Done
        await until(pilot, lambda: not isinstance(pilot.app.screen, CsrWizard), "the wizard to close")


async def test_the_keys_screen_binding_and_the_palette_reach_the_wizard(demo_app, demo_kms):
    record = demo_kms.keys.resolve("firmware-signing")
    async with demo_app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: pilot.app.screen.selected_record() is not None, "the keys table")
        await pilot.press("C")
        await until(pilot, lambda: isinstance(pilot.app.screen, CsrWizard), "the CSR wizard")
        titles = {c.title: c for c in key_commands(pilot.app, pilot.app.screen, record)}
        assert "Make a CSR with firmware-signing" in titles
        public = demo_kms.keys.resolve("partner-root-public")
        assert not any("CSR" in c.title for c in key_commands(pilot.app, pilot.app.screen, public))


def test_csr_wizard_subject_error_80x24(snap_compare, demo_app):
    async def run_before(pilot):
        wizard = await start(pilot, "firmware-signing")
        await next_step(pilot, "subject")
        fill_subject(wizard, "/C=Spain/O=Example/CN=firmware", "dns:firmware.example\nuri:no scheme")
        await refused(pilot, "subject")
        await settle_view(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)


def test_csr_wizard_done_80x24(snap_compare, demo_app):
    async def run_before(pilot):
        (pilot.app.kms.data_dir.parent / "out").mkdir()
        wizard = await start(pilot, "firmware-signing")
        await to_done(pilot, wizard, f"{SHOWN}/out/firmware.der", "der")
        await settle_view(pilot)
        x509.load_der_x509_csr((pilot.app.kms.data_dir.parent / "out" / "firmware.der").read_bytes())

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)
