"""Regenerate the SVG screenshots of the main screens shown in the README.

    .venv/bin/python screenshots/make_screenshots.py

Builds a throwaway inventory in a temporary data directory (software engine,
in-memory keyring), drives the real app headless at 120x36 and saves one SVG
per screen next to this file. Nothing outside the temporary directory is
touched.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kms_tui.app import KmsApp  # noqa: E402
from kms_tui.service import Kms  # noqa: E402
from store import CredentialStore  # noqa: E402
from tests.memory_keyring import MemoryKeyring  # noqa: E402

SIZE = (120, 36)


def populate(kms: Kms) -> None:
    kms.keys.create("ECDSA", 384, "root-ca-2026", aliases=["root-ca"], tags=["pki", "ceremony-2026-03"],
                    backup=(3, 5))
    kms.keys.create("RSA", 3072, "intermediate-ca-2026", aliases=["intermediate-ca"], tags=["pki"])
    issuing = kms.keys.create("ECDSA", 384, "issuing-ca-2026", aliases=["issuing-ca"], tags=["pki"],
                             metadata={"owner": "pki-team"})
    kms.keys.bind(issuing.name, "ca", "issuing-ca-2026")
    # The root certifies itself and the issuing CA; both certificates are bound to their keys.
    root = kms.certificates.self_signed("root-ca", "/C=ES/O=Example PKI/CN=Example Root CA 2026", profile="root-ca")
    request = kms.csr.make("issuing-ca", "/C=ES/O=Example PKI/CN=Example Issuing CA 2026", profile="sub-ca")
    issued = kms.certificates.issue("root-ca", root.data, request.data, profile="sub-ca", days=60)
    kms.certs.add(root.data)
    kms.certs.add(issued.data)
    for n in range(1, 6):
        kms.keys.create("ECDSA", 256, f"device-fleet-{n:02d}", tags=["devices"])
    kms.keys.create("Ed25519", 256, "firmware-signing", tags=["firmware"])
    kms.keys.create("ML-DSA", 87, "pq-root-2027", tags=["pki", "post-quantum"])  # the root that will replace root-ca
    kms.keys.create("RSA", 2048, "legacy-gateway", aliases=["gateway"], tags=["legacy"])
    kms.rotation.rotate("legacy-gateway", algorithm="ECDSA", size=256)  # retired; its successor took the alias
    kms.signing.sign("firmware-signing", "ED25519", b"firmware image 1.4.2")
    kms.signing.sign("issuing-ca", "ECDSA_SHA_384", b"tbsCertificate")


async def settle(pilot, predicate, tries: int = 300) -> None:
    for _ in range(tries):
        await pilot.pause(0.02)
        if predicate():
            break
    await pilot.pause(0.2)


async def shoot(kms: Kms) -> list[Path]:
    from textual.widgets import DataTable

    from kms_tui.actions import open_create, open_sign
    from kms_tui.screens.key_detail import KeyDetailScreen

    saved: list[Path] = []
    app = KmsApp(kms)

    def save(name: str) -> None:
        saved.append(HERE / f"{name}.svg")
        app.save_screenshot(filename=f"{name}.svg", path=str(HERE))

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.screen.query_one("#keys-table", DataTable).row_count > 0)
        save("keys")
        record = kms.keys.resolve("issuing-ca")
        await app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        await settle(pilot, lambda: getattr(app.screen, "record", None) is not None)
        save("key-detail")
        app.pop_screen()
        await pilot.pause(0.1)
        open_create(app)
        await pilot.pause(0.5)
        save("create-wizard")
        app.pop_screen()
        await pilot.pause(0.1)
        open_sign(app, kms.keys.resolve("firmware-signing"))
        await pilot.pause(0.5)
        save("sign-wizard")
        app.pop_screen()
        for mode in ("engines", "stats", "audit", "doctor"):
            app.switch_mode(mode)
            await pilot.pause(1.0)
            save(mode)
        from kms_tui.screens.quantum_report import QuantumReportScreen

        app.switch_mode("keys")
        await app.push_screen(QuantumReportScreen())
        await settle(pilot, lambda: app.screen.query_one("#quantum-table", DataTable).row_count > 0)
        save("quantum-report")
        app.pop_screen()
        # The shipped example ceremony, on the demo's software engine instead of SoftHSM2.
        from kms_tui.screens.ceremony import CeremonyScreen

        script = DEMO / "ceremony-root-intermediate.yaml"
        example = (HERE.parent / "examples" / "ceremony-root-intermediate.yaml").read_text()
        start, end = example.index("engine:"), example.index("token: ceremony\n") + len("token: ceremony\n")
        script.write_text(example[:start] + "engine:\n  type: GOLANG\n  id: golang-default\n" + example[end:])
        await app.push_screen(CeremonyScreen(str(script)))
        await settle(pilot, lambda: getattr(app.screen, "ceremony", None) is not None)
        save("ceremony")
    return saved


DEMO = Path(tempfile.gettempdir()) / "kms-tui-demo"


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)  # a fixed path, so the engines screen shows a tidy directory
    try:
        kms = Kms(DEMO / "data", credentials=CredentialStore(backend=MemoryKeyring()))
        populate(kms)
        saved = asyncio.run(shoot(kms))
        kms.close()
    finally:
        shutil.rmtree(DEMO, ignore_errors=True)
    for path in saved:
        print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
