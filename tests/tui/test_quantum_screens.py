"""Quantum exposure in the workstation at 80x24: the strength panel, the keys screen's quick filter (q), the stats
screen's quantum charts and the quantum migration report, driven with Pilot and compared as snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.x509.oid import NameOID
from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import DataTable

from kms_tui.actions import global_commands
from kms_tui.app import KmsApp
from kms_tui.screens.keys import KeysScreen
from kms_tui.screens.quantum_report import QuantumReportScreen
from kms_tui.screens.stats import StatsScreen
from kms_tui.widgets.bar_chart import BarChart
from kms_tui.widgets.strength_panel import StrengthPanel
from tests.pilot import screen_text, until, workers_idle
from tests.tui.conftest import fixture_key
from tests.tui.test_strength_panel import panel_text

SIZE = (80, 24)
ROOT_ENDS = datetime(2040, 1, 1, tzinfo=UTC)  # the partner root's certificate: 3 288 days past 2030


def partner_root_certificate() -> bytes:
    """A self-signed CA certificate of the demo's public RSA-2048 key, with fixed dates: the same bytes every run."""
    key = serialization.load_pem_private_key(fixture_key("rsa2048.pem"), None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Partner Root")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(2027).not_valid_before(datetime(2025, 1, 1, tzinfo=UTC)).not_valid_after(ROOT_ENDS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def quantum_app(demo_kms, ui_paths):
    """The demo inventory, an ML-DSA-65 public key, and a certificate making the RSA-2048 key a root."""
    pq = mldsa.MLDSA65PrivateKey.from_seed_bytes(bytes(range(32))).public_key()
    demo_kms.keys.import_key(pq.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
                             "pq-root-2027")
    demo_kms.certs.add(partner_root_certificate())
    return KmsApp(demo_kms, paths=ui_paths)


async def settled(pilot, predicate, what: str = "the screen to settle") -> None:
    await until(pilot, lambda: predicate() and workers_idle(pilot.app) and not getattr(pilot.app.screen, "counting", False),
                what)


def report_loaded(pilot) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, QuantumReportScreen) and screen.rows is not None


def words(panel: StrengthPanel) -> str:
    """The panel's text with its lines joined: what it says, however it wraps."""
    return " ".join(panel_text(panel).split())


class PanelsApp(App[None]):
    """Two strength panels as the key detail shows them: an ML-DSA key on an HSM, an RSA-2048 root in software."""

    def compose(self):
        with VerticalScroll():
            yield StrengthPanel("ML-DSA", 65, 2, id="pq")
            panel = StrengthPanel("RSA", 2048, 0, id="rsa")
            panel.show_certificate("2040-01-01T00:00:00Z")
            yield panel


def test_snapshot_strength_panels_ml_dsa_and_rsa_2048(snap_compare):
    async def run_before(pilot):
        pq = words(pilot.app.query_one("#pq", StrengthPanel))
        assert "HIGH, NIST category 3, quantum-resistant" in pq
        assert "✓ Root CA" in pq and "CNSA 2.0 asks ML-DSA-87 for roots" in pq
        rsa = words(pilot.app.query_one("#rsa", StrengthPanel))
        assert "Quantum-vulnerable deprecated after 2030 / disallowed after 2035 (NIST IR 8547 draft)" in rsa
        assert "Latest certificate outlives 2030 by 3288 days (ends 2040-01-01)" in rsa

    assert snap_compare(PanelsApp(), terminal_size=SIZE, run_before=run_before)


def test_snapshot_keys_quick_filter_quantum_vulnerable(snap_compare, quantum_app):
    async def run_before(pilot):
        table = lambda: pilot.app.screen.query_one("#keys-table", DataTable)  # noqa: E731
        await settled(pilot, lambda: table().row_count == 8)
        await pilot.press("q")
        await settled(pilot, lambda: table().row_count == 7 and "quantum-vulnerable only" in screen_text(pilot.app))
        assert "pq-root-2027" not in screen_text(pilot.app)

    assert snap_compare(quantum_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_stats_quantum_charts(snap_compare, quantum_app):
    async def run_before(pilot):
        await pilot.app.switch_mode("stats")
        chart = lambda key: pilot.app.screen.query_one(f"#chart-q-{key}", BarChart)  # noqa: E731
        await settled(pilot, lambda: isinstance(pilot.app.screen, StatsScreen) and bool(chart("strength").bars))
        assert {b.label: b.count for b in chart("role").bars} == {
            "Root CA": 1, "CA": 1, "End entity": 0, "Other binding": 0, "Unbound": 5}
        assert {b.label: b.count for b in chart("strength").bars} == {
            "<112 (disallowed)": 1, "112 (2030)": 1, "128+ (2035)": 5}
        assert {b.label: b.count for b in chart("level").bars} == {"SL2": 0, "SL1": 0, "SL0": 7}
        chart("role").focus()
        chart("strength").scroll_visible(animate=False)
        await pilot.pause()

    assert snap_compare(quantum_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_quantum_report(snap_compare, quantum_app):
    async def run_before(pilot):
        await pilot.app.push_screen(QuantumReportScreen())
        await settled(pilot, lambda: report_loaded(pilot))
        rows = pilot.app.screen.rows
        assert [(r.name, r.display, r.role, r.suggested) for r in rows[:2]] == [
            ("legacy-gateway", "RSA 1024", "Unbound", "ML-DSA-65"),
            ("partner-root-public", "RSA 2048", "Root CA", "ML-DSA-87")]
        assert rows[1].outlives_2030_days == 3288 and rows[-1].name == "pq-root-2027"
        assert "7 of 8 keys quantum-vulnerable · 2 to replace by 2030" in screen_text(pilot.app)

    assert snap_compare(quantum_app, terminal_size=SIZE, run_before=run_before)


async def test_report_stats_and_palette_lead_to_the_keys_they_count(quantum_app):
    assert any(c.title == "Quantum migration report" for c in global_commands(quantum_app))
    async with quantum_app.run_test(size=SIZE) as pilot:
        await pilot.app.switch_mode("stats")
        await settled(pilot, lambda: isinstance(pilot.app.screen, StatsScreen)
                      and bool(pilot.app.screen.query_one("#chart-q-engine", BarChart).bars))
        pilot.app.screen.query_one("#chart-q-engine", BarChart).focus()
        await pilot.press("enter")  # the engine's quantum-vulnerable keys
        await settled(pilot, lambda: isinstance(pilot.app.screen, KeysScreen)
                      and pilot.app.screen.query_state.quantum_vulnerable is True
                      and pilot.app.screen.query_one("#keys-table", DataTable).row_count == 7)
        await pilot.app.switch_mode("stats")
        await pilot.press("q")  # the report, from the stats screen
        await settled(pilot, lambda: report_loaded(pilot))
        table = pilot.app.screen.query_one(DataTable)
        table.move_cursor(row=len(pilot.app.screen.rows) - 1)  # the ML-DSA key, last: nothing to replace
        await pilot.press("enter")
        await settled(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None)
        text = panel_text(pilot.app.screen.query_one("#strength", StrengthPanel))
        assert "HIGH, NIST category 3, quantum-resistant" in text
