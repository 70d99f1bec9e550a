"""Two processes opening a new engine at once agree on one generated passphrase.

Each Kms below stands for a process: its own database connection and driver cache,
sharing only the data directory and the keyring. Both find no passphrase and no key
file at the same moment (a barrier holds them there); before the fix both generated
one, the second replaced the first in the keyring, and the first one's key file was
encrypted under a passphrase nobody held any more.
"""

from __future__ import annotations

import threading

from engines.software.engine import SoftwareEngine
from kms_tui.service import DEFAULT_ENGINE_ID, Kms
from store import CredentialStore


def test_two_first_opens_at_once_make_one_passphrase(data_dir, memory_keyring, monkeypatch):
    Kms(data_dir, credentials=CredentialStore(backend=memory_keyring)).close()  # the engine, no secret yet
    together = threading.Barrier(2, timeout=5)
    waited: set[int] = set()
    original = SoftwareEngine.guarded_material.__func__

    def guarded_material(cls, options):
        found = original(cls, options)
        if threading.get_ident() not in waited:  # the first look of each: both see nothing to guard
            waited.add(threading.get_ident())
            try:
                together.wait()
            except threading.BrokenBarrierError:
                pass
        return found

    monkeypatch.setattr(SoftwareEngine, "guarded_material", classmethod(guarded_material))
    made, failures = {}, []

    def process(n: int) -> None:
        try:
            with Kms(data_dir, credentials=CredentialStore(backend=memory_keyring)) as kms:
                made[n] = kms.keys.create("ECDSA", 256, f"first-{n}").name
        except Exception as exc:  # reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=process, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == [] and sorted(made.values()) == ["first-1", "first-2"]
    assert together.broken is False  # both really were at the point of making a passphrase at once

    monkeypatch.undo()
    with Kms(data_dir, credentials=CredentialStore(backend=memory_keyring)) as kms:  # a third process
        for name in made.values():
            assert kms.signing.sign(name, "ECDSA_SHA_256", b"both keys open under the one passphrase")
        assert kms.engines.get(DEFAULT_ENGINE_ID).record.has_secret
