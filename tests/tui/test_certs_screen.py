"""Certificates in the workstation (80x24): keys whose certificate ends soon, and a key detail's certificates.

The certificates are signed with RSA PKCS#1 v1.5 (deterministic) over fixed dates and serials, and the
service's clock is fixed: the same bytes, fingerprints and days left on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from textual.widgets import DataTable

from kms_tui.app import KmsApp
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.widgets.bar_chart import BarChart
from tests.tui.conftest import SIZES, fixture_key
from tests.tui.test_snapshots_keys import keys_loaded, settle

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def _cert(subject_public, cn: str, issuer_key, issuer_cn: str, serial: int, ends: datetime) -> bytes:
    def named(value: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"),
                          x509.NameAttribute(NameOID.COMMON_NAME, value)])

    return (x509.CertificateBuilder().subject_name(named(cn)).issuer_name(named(issuer_cn))
            .public_key(subject_public).serial_number(serial)
            .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC)).not_valid_after(ends)
            .sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def cert_app(demo_kms, ui_paths, monkeypatch):
    """The demo inventory with a CA certificate (ten years) and a device certificate ending in 16 days."""
    monkeypatch.setattr("kms_tui.service.certs._now", lambda: NOW)
    ca_key = serialization.load_pem_private_key(fixture_key("rsa3072.pem"), None)
    device = serialization.load_pem_private_key(fixture_key("p256.pem"), None).public_key()
    demo_kms.certs.add(_cert(ca_key.public_key(), "Intermediate CA 2026", ca_key, "Intermediate CA 2026", 0x2026,
                             datetime(2036, 1, 1, tzinfo=UTC)))
    demo_kms.certs.add(_cert(device, "device-fleet-01", ca_key, "Intermediate CA 2026", 0x51F0,
                             datetime(2026, 3, 30, 12, 0, tzinfo=UTC)))
    return KmsApp(demo_kms, paths=ui_paths)


def test_keys_with_a_certificate_ending_soon(snap_compare, cert_app):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))
        await pilot.press("f4")  # the stats count them too, in a chart shown once there are certificates
        await settle(pilot, lambda: [(b.label, b.count) for b in pilot.app.screen.query_one(
            "#chart-expiring", BarChart).bars] == [("30 days", 1), ("90 days", 1)])
        assert pilot.app.screen.query_one("#chart-expiring", BarChart).display
        await pilot.press("f2")
        await settle(pilot, lambda: "≤30 d: 1, ≤90 d: 1 (e)" in str(pilot.app.screen.query_one("#keys-status").render()))
        await pilot.press("e")
        await settle(pilot, keys_loaded(pilot, 1))

    assert snap_compare(cert_app, terminal_size=SIZES["80x24"], run_before=run_before)


def test_key_detail_with_its_certificate(snap_compare, cert_app):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))
        record = pilot.app.kms.keys.resolve("device-fleet-01")
        await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        table = pilot.app.screen.query_one("#detail-certs", DataTable)
        await settle(pilot, lambda: table.row_count == 1)
        table.scroll_visible(animate=False, top=True)
        await settle(pilot, lambda: True)

    assert snap_compare(cert_app, terminal_size=SIZES["80x24"], run_before=run_before)
