"""Role fitness in the strength panel: the key's size, and where it lives (the engine's security level)."""

from __future__ import annotations

import io

from rich.console import Console

from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.strength import role_advice
from kms_tui.widgets.strength_panel import StrengthPanel
from tests.pilot import until, workers_idle


def fits(algorithm: str, size: int, security_level: int | None) -> dict[str, bool]:
    return {a.role: a.fits for a in role_advice(algorithm, size, security_level)}


def test_a_root_ca_key_must_be_strong_and_on_an_hsm():
    assert fits("ECDSA", 384, None) == {"Root CA": True, "Intermediate CA": True, "Issuing CA": True, "Device": True}
    assert fits("ECDSA", 384, 0) == {"Root CA": False, "Intermediate CA": False, "Issuing CA": False, "Device": True}
    assert fits("ECDSA", 384, 1) == {"Root CA": False, "Intermediate CA": True, "Issuing CA": True, "Device": True}
    assert fits("ECDSA", 384, 2) == {"Root CA": True, "Intermediate CA": True, "Issuing CA": True, "Device": True}
    assert fits("RSA", 2048, 2)["Root CA"] is False  # an HSM does not make a short key long
    root = next(a for a in role_advice("ECDSA", 384, 0) if a.role == "Root CA")
    assert root.advice == "held in software (SL0): needs an HSM (SL2)"
    short = next(a for a in role_advice("RSA", 2048, 2) if a.role == "Root CA")
    assert short.advice.startswith("use RSA 4096 or ECDSA P-384/P-521")


def panel_text(panel: StrengthPanel) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(panel.content)
    return console.export_text()


async def test_the_key_detail_judges_a_software_p384_key_by_its_engine(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        record = pilot.app.kms.keys.resolve("issuing-ca-2026")  # ECDSA P-384 on the software engine (SL0)
        assert (record.algorithm, record.size) == ("ECDSA", 384)
        await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        await until(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None and workers_idle(pilot.app))
        text = panel_text(pilot.app.screen.query_one("#strength", StrengthPanel))
        assert "✓ Root CA" not in text
        assert "✗ Root CA" in text and "held in software (SL0): needs an HSM (SL2)" in text
        assert "✓ Device" in text
