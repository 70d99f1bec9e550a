"""Outages: moto or OpenBao hung (SIGSTOP) or stopped in the middle of a session.

Every operation on the dead engine (test, sync, sign, create, import, delete)
ends within the engine's configured timeouts with a typed "Engine unreachable"
error that names the endpoint and loses nothing; the other engines of the same
Kms keep working; the same engine works again once its server is back on the
same port. A Pilot test proves the TUI answers keys while a worker waits.
"""

from __future__ import annotations

import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from textual.widgets import DataTable, Input

from engines.errors import EngineUnavailable
from kms_tui.app import KmsApp
from kms_tui.dialogs.error import ErrorDialog
from kms_tui.screens.keys import KeysScreen
from tests.engines.aws.moto_server import SECRET, MotoServer, hermetic_env
from tests.engines.vault.openbao import OpenBao
from tests.pilot import until
from tests.reliability.fixtures_hostile import report

CONNECT, READ, ATTEMPTS = 1.0, 1.0, 1  # AWS engines: seconds, seconds, attempts per call
VAULT_TIMEOUT = 1.0  # each operation on a hung server waits it out once
WORKER_VAULT_TIMEOUT = 2.0  # the Pilot test's worker: it must still be waiting while keys are typed
SLACK = 4.0  # thread start-up, client set-up, a loaded machine
FIGURES: list[tuple[str, str, float]] = []


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("outage")
    saved = dict(os.environ)
    os.environ.update(hermetic_env({}, base))  # no machine AWS settings reach the drivers
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    try:
        with MotoServer(base / "moto") as moto, OpenBao(base / "bao") as bao:  # private: these get stopped
            yield moto, bao
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def session(kms, servers):
    """A Kms with AWS KMS, Secrets Manager and Vault engines on the private servers, a key on each."""
    return engines_with_keys(kms, servers, VAULT_TIMEOUT)


@pytest.fixture
def worker_session(kms, servers):
    """The same, with the Vault engine waiting longer than a few typed keys take."""
    return engines_with_keys(kms, servers, WORKER_VAULT_TIMEOUT)


def engines_with_keys(kms, servers, vault_timeout: float):
    moto, bao = servers
    aws = {**moto.options("eu-north-1"), "connect_timeout": str(CONNECT), "read_timeout": str(READ),
           "max_attempts": str(ATTEMPTS)}
    kms.engines.register("AWS_KMS", "aws-kms", options=aws, secret=SECRET)
    kms.engines.register("AWS_SECRETS_MANAGER", "aws-sm", options=aws, secret=SECRET)
    kms.engines.register("HASHICORP_VAULT_KV_V2", "vault",
                        options={"address": bao.address, "timeout": str(vault_timeout)}, secret=bao.root_token)
    for engine in ("aws-kms", "aws-sm", "vault"):
        kms.keys.create("ECDSA", 256, f"{engine}-key", engine_id=engine)
        kms.keys.create("ECDSA", 256, f"{engine}-doomed", engine_id=engine)  # the one a delete is tried on
    kms.keys.create("ECDSA", 256, "local-key")
    return kms


def bounded(label: str, mode: str, call, bound: float):
    """Run ``call``; it must end with EngineUnavailable within ``bound`` seconds. Returns the error."""
    start = time.monotonic()
    with pytest.raises(EngineUnavailable) as caught:
        call()
    elapsed = time.monotonic() - start
    FIGURES.append((label, mode, elapsed))
    assert elapsed < bound, f"{label} ({mode}) took {elapsed:.1f} s; the bound is {bound} s"
    return caught.value


def every_operation_fails(kms, engine_id: str, where: str, mode: str, bound: float) -> None:
    before = sorted(r.name for r in kms.keys.list())
    label = f"{engine_id}:"
    start = time.monotonic()
    check = kms.engines.test(engine_id, interactive=False)
    FIGURES.append((label + "test", mode, time.monotonic() - start))
    assert not check.reachable and check.title == EngineUnavailable.title and where in check.message
    assert time.monotonic() - start < bound
    errors = [
        bounded(label + "sync", mode, lambda: kms.inventory.sync(engine_id), bound),
        bounded(label + "sign", mode, lambda: kms.signing.sign(f"{engine_id}-key", "ECDSA_SHA_256", b"m"), bound),
        bounded(label + "create", mode, lambda: kms.keys.create("ECDSA", 256, "during", engine_id=engine_id), bound),
        bounded(label + "delete", mode, lambda: kms.keys.delete(f"{engine_id}-doomed", force=True), bound),
    ]
    if engine_id != "aws-kms":  # AWS KMS import is wrapped key material, not available on moto
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(*_pkcs8())  # a new one each time
        errors.append(bounded(label + "import", mode, lambda: kms.keys.import_key(pem, "imported", engine_id=engine_id),
                              bound))
    for error in errors:
        assert where in error.message, error.message
        assert SECRET not in str(error)
    assert sorted(r.name for r in kms.keys.list()) == before  # nothing recorded, nothing lost
    assert kms.keys.resolve(f"{engine_id}-key").status == "ok"  # a failed sync flags nothing


def reconciled_after_thaw(kms, engine_id: str) -> None:
    """A hung server still holds the requests it accepted: it runs them once it is resumed, after the
    client gave up. The create may land and the delete may happen; sync reconciles both."""
    (sync,) = kms.inventory.sync(engine_id)
    assert kms.keys.resolve(f"{engine_id}-doomed").status in ("ok", "missing")
    assert kms.keys.resolve(f"{engine_id}-key").status == "ok" and sync.seen >= 1
    assert kms.signing.sign(f"{engine_id}-key", "ECDSA_SHA_256", b"m")  # the same key, back again


def _pkcs8():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()


def others_keep_working(kms, dead: set[str]) -> None:
    for name in ("local-key", "aws-kms-key", "aws-sm-key", "vault-key"):
        engine = kms.keys.resolve(name).engine_id
        signature = kms.signing.sign(name, "ECDSA_SHA_256", b"m") if engine not in dead else None
        if signature is not None:
            assert kms.signing.verify(name, "ECDSA_SHA_256", b"m", signature)
    signature = kms.signing.sign("local-key", "ECDSA_SHA_256", b"offline")
    assert kms.signing.verify("local-key", "ECDSA_SHA_256", b"offline", signature)


def works_again(kms, engine_id: str, n: int) -> None:
    assert kms.engines.test(engine_id, interactive=False).reachable
    record = kms.keys.create("ECDSA", 256, f"{engine_id}-after-{n}", engine_id=engine_id)
    assert kms.signing.verify(record.name, "ECDSA_SHA_256", b"m", kms.signing.sign(record.name, "ECDSA_SHA_256", b"m"))
    (report_,) = kms.inventory.sync(engine_id)
    assert report_.seen >= 1


@pytest.mark.slow
def test_aws_outage_hung_then_stopped(session, servers, request):
    kms, (moto, _) = session, servers
    bound = ATTEMPTS * (CONNECT + READ) + SLACK
    moto.freeze()
    try:  # one engine is enough for the hung case: both AWS engines share one client set-up
        every_operation_fails(kms, "aws-kms", moto.url, "hung", bound)
        others_keep_working(kms, {"aws-kms", "aws-sm"})
    finally:
        moto.resume()
    for engine in ("aws-kms", "aws-sm"):
        reconciled_after_thaw(kms, engine)
    moto.stop()
    try:
        for engine in ("aws-kms", "aws-sm"):
            every_operation_fails(kms, engine, moto.url, "stopped", bound)
        others_keep_working(kms, {"aws-kms", "aws-sm"})
    finally:
        moto.start()  # the same port; moto kept its keys in memory, so it comes back empty
    for n, engine in enumerate(("aws-kms", "aws-sm")):
        works_again(kms, engine, n)
        assert kms.keys.resolve(f"{engine}-key").status == "missing"  # flagged by the sync, not deleted
    _figures(request)


@pytest.mark.slow
def test_vault_outage_hung_then_stopped(session, servers, request):
    kms, (_, bao) = session, servers
    bound = VAULT_TIMEOUT + SLACK
    bao.freeze()
    try:
        every_operation_fails(kms, "vault", bao.address, "hung", bound)
        others_keep_working(kms, {"vault"})
    finally:
        bao.resume()
    reconciled_after_thaw(kms, "vault")
    bao.stop()
    try:
        every_operation_fails(kms, "vault", bao.address, "stopped", bound)
        others_keep_working(kms, {"vault"})
    finally:
        bao.start()  # same port and root token; dev mode starts empty
    works_again(kms, "vault", 0)
    assert kms.keys.resolve("vault-key").status == "missing"
    _figures(request)


def _figures(request) -> None:
    worst = max(FIGURES, key=lambda f: f[2])
    report(request, f"outage operations failed in time: {len(FIGURES)}; slowest {worst[0]} ({worst[1]}) "
                    f"{worst[2]:.2f} s")
    FIGURES.clear()


async def test_tui_answers_keys_while_a_worker_waits_on_a_hung_engine(worker_session, servers):
    kms, (_, bao) = worker_session, servers
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        assert isinstance(pilot.app.screen, KeysScreen)
        table = pilot.app.screen.query_one("#keys-table", DataTable)
        await until(pilot, lambda: table.row_count == 7)
        bao.freeze()
        try:
            worker = pilot.app.screen.call(kms.signing.sign, "vault-key", "ECDSA_SHA_256", b"m")
            await pilot.press("slash", *"local")  # the filter answers while the worker waits
            await until(pilot, lambda: table.row_count == 1)
            assert worker.is_running
            await pilot.press("f4")
            await until(pilot, lambda: not isinstance(pilot.app.screen, KeysScreen))
            await pilot.press("f2")
            await until(pilot, lambda: isinstance(pilot.app.screen, (KeysScreen, ErrorDialog)))
            await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
            dialog = pilot.app.screen
            assert dialog.error_title == "Engine unreachable" and bao.address in dialog.error_message
            assert bao.root_token not in dialog.error_message
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(pilot.app.screen, KeysScreen))
        finally:
            bao.resume()
        worker = pilot.app.screen.call(kms.signing.sign, "vault-key", "ECDSA_SHA_256", b"m")
        await until(pilot, lambda: worker.is_finished)
        assert not isinstance(pilot.app.screen, ErrorDialog)
        assert pilot.app.screen.query_one("#filter", Input).value == "local"
    assert [r.action for r in kms.audit.rows(limit=1)] == ["key.sign"]
