"""A Vault KV v2 engine registered at security level 1 (an HSM-backed Vault) shows SL1 wherever a level is shown.

Against the real OpenBao: the registration form offers the ``security_level`` option from its spec and
records it; the engines list, the stats chart and the key detail's strength panel read the engine record.
"""

from __future__ import annotations

from textual.widgets import DataTable, Select

from kms_tui.app import KmsApp
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.widgets.bar_chart import BarChart
from kms_tui.widgets.strength_panel import StrengthPanel
from tests.pilot import fill, open_form, submit, until, until_text, workers_idle
from tests.tui.test_engines_screen import open_engines
from tests.tui.test_stats_drill import open_stats
from tests.tui.test_strength_panel import panel_text

TYPE = "HASHICORP_VAULT_KV_V2"


async def test_the_form_records_sl1_and_every_screen_shows_it(openbao, lab, mount, kms):
    async with KmsApp(kms).run_test(size=(80, 24)) as pilot:
        dialog = await open_form(pilot, TYPE)
        field = dialog.query_one("#opt-security_level", Select)
        assert field.value == "0" and [value for _, value in field._options if value != Select.BLANK] == ["0", "1"]
        await fill(pilot, dialog, "vault-hsm", {"address": openbao.address, "mount": mount, "timeout": "5",
                                                "security_level": "1"}, lab.full_token)
        await submit(pilot, dialog)
        assert kms.engines.get("vault-hsm").record.security_level == 1
        record = kms.keys.create("ECDSA", 384, "vault-issuing", engine_id="vault-hsm")

        screen = await open_engines(pilot, 2)
        row = [str(c) for c in screen.query_one(DataTable).get_row("vault-hsm")]
        assert row[1:4] == ["vault-hsm", "HashiCorp Vault KV v2", "SL1"], row
        stats = await open_stats(pilot)
        chart = stats.query_one("#chart-level", BarChart)
        assert {b.label: b.count for b in chart.bars} == {"SL2": 0, "SL1": 1, "SL0": 0}
        chart.focus()  # scrolled into view at 80x24
        await until_text(pilot, "Keys by engine security level", "SL1")
        await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        await until(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None and workers_idle(pilot.app))
        text = panel_text(pilot.app.screen.query_one("#strength", StrengthPanel))
        assert "✓ Intermediate CA" in text and "✗ Root CA" in text and "SL1" in text, text
