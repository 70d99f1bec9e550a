"""CredentialStore over in-memory keyring backends: round trips, refusals, no secret leaks."""

from __future__ import annotations

import traceback

import keyring
import pytest
from keyring.backends import chainer, fail, null
from keyring.errors import InitError, KeyringError, KeyringLocked

from store import CredentialStore, CredentialsUnavailable, InvalidValue, secret_service

SECRET = "s3cr3t-Passphrase!"


def full_text(exc: BaseException) -> str:
    """Everything a log would show: message, hint, repr and the whole traceback chain."""
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(getattr(exc, "hint", ""))


def test_round_trip(dict_keyring):
    creds = CredentialStore(backend=dict_keyring)
    assert creds.get("soft") is None
    creds.set("soft", SECRET)
    assert dict_keyring.entries == {("kms-tui", "engine/soft"): SECRET}
    assert creds.username("soft") == "engine/soft"
    assert creds.get("soft") == SECRET
    assert not creds.held_in_memory("soft")
    creds.delete("soft")
    assert creds.get("soft") is None and dict_keyring.entries == {}
    creds.delete("soft")  # a missing entry is fine


def test_status_and_backend_name(dict_keyring):
    creds = CredentialStore(backend=dict_keyring)
    ok, text = creds.status()
    assert ok and "MemoryKeyring" in text
    assert "MemoryKeyring" in creds.backend_name


def test_memory_comes_first_and_stays_in_process(dict_keyring):
    creds = CredentialStore(backend=dict_keyring)
    dict_keyring.entries[("kms-tui", "engine/hsm")] = "from-keyring"
    creds.hold_in_memory("hsm", "typed-pin")
    assert creds.held_in_memory("hsm") and not creds.held_in_memory("other")
    assert creds.get("hsm") == "typed-pin"
    assert dict_keyring.entries[("kms-tui", "engine/hsm")] == "from-keyring"  # not written through
    assert "typed-pin" not in repr(creds)
    assert CredentialStore(backend=dict_keyring).get("hsm") == "from-keyring"  # another "process"
    creds.delete("hsm")
    assert not creds.held_in_memory("hsm") and creds.get("hsm") is None


def test_set_replaces_a_held_secret(dict_keyring):
    creds = CredentialStore(backend=dict_keyring)
    creds.hold_in_memory("e", "old")
    creds.set("e", "new")
    assert not creds.held_in_memory("e") and creds.get("e") == "new"


def test_empty_secret_is_refused(dict_keyring):
    creds = CredentialStore(backend=dict_keyring)
    with pytest.raises(InvalidValue):
        creds.set("e", "")
    with pytest.raises(InvalidValue):
        creds.hold_in_memory("e", "")
    assert dict_keyring.entries == {}


def test_default_backend_is_chosen_lazily(monkeypatch, dict_keyring):
    calls = []

    def get_keyring():
        calls.append(1)
        return dict_keyring

    monkeypatch.setattr(keyring, "get_keyring", get_keyring)
    monkeypatch.setattr(secret_service, "available", lambda: None)  # no Secret Service here: keyring discovers
    creds = CredentialStore()
    assert calls == []  # constructing does not touch the keyring
    creds.set("e", SECRET)
    assert creds.get("e") == SECRET and len(calls) == 1
    assert dict_keyring.entries[("kms-tui", "engine/e")] == SECRET


def test_fail_backend_is_unavailable_with_a_hint():
    creds = CredentialStore(backend=fail.Keyring())
    for call in (lambda: creds.get("e"), lambda: creds.set("e", SECRET)):
        with pytest.raises(CredentialsUnavailable) as err:
            call()
        assert "no usable backend" in err.value.message
        shown = f"{err.value.title}: {err.value.message}".lower()  # as an error is rendered: said once
        assert shown.count("no keyring") + shown.count("no os keyring") + shown.count("is available") == 1, shown
        assert "dbus-run-session" in err.value.hint and "memory" in err.value.hint
        assert SECRET not in full_text(err.value)
    assert creds.status()[0] is False and "no usable backend" in creds.status()[1]
    creds.delete("e")  # nothing can be stored there, so nothing to delete


def test_a_held_secret_works_without_any_keyring():
    creds = CredentialStore(backend=fail.Keyring())
    creds.hold_in_memory("e", SECRET)
    assert creds.get("e") == SECRET


def test_null_backend_is_refused():
    creds = CredentialStore(backend=null.Keyring())
    with pytest.raises(CredentialsUnavailable, match="null") as err:
        creds.set("e", SECRET)
    assert err.value.hint and SECRET not in full_text(err.value)


def test_keyrings_alt_backends_are_refused(keyring_class):
    class PlaintextKeyring(keyring_class):
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"

    class Subclassed(PlaintextKeyring):  # defined elsewhere, but still the plaintext file backend
        pass

    for backend in (PlaintextKeyring(), Subclassed()):
        creds = CredentialStore(backend=backend)
        with pytest.raises(CredentialsUnavailable, match="keyrings.alt") as err:
            creds.set("e", SECRET)
        assert "plaintext" in err.value.message and "keyrings.alt" in err.value.hint
        assert SECRET not in full_text(err.value)
        assert backend.entries == {}  # never written
        assert creds.status()[0] is False
        assert "(refused)" in creds.backend_name


def test_chainer_with_nothing_viable_is_refused(monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [fail.Keyring()])
    with pytest.raises(CredentialsUnavailable, match="chainer has no usable backend") as err:
        CredentialStore(backend=chainer.ChainerBackend()).get("e")
    assert "dbus-run-session" in err.value.hint
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    assert CredentialStore(backend=chainer.ChainerBackend()).status()[0] is False


def test_chainer_skips_a_plaintext_backend_ranked_first(monkeypatch, keyring_class, dict_keyring):
    class PlaintextKeyring(keyring_class):
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    plaintext = PlaintextKeyring()
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [plaintext, dict_keyring])
    creds = CredentialStore(backend=chainer.ChainerBackend())
    creds.set("e", SECRET)
    assert plaintext.entries == {} and dict_keyring.entries == {("kms-tui", "engine/e"): SECRET}


@pytest.mark.parametrize(
    ("error", "wording"),
    [
        (KeyringLocked("Failed to unlock the collection!"), "locked"),
        (InitError("Failed to create the collection: Prompt dismissed."), "could not be opened"),
        (KeyringError(f"D-Bus said no to storing {SECRET}"), "failed"),
        (RuntimeError(f"unexpected {SECRET}"), "failed"),
    ],
)
def test_backend_errors_become_credentials_unavailable_without_the_secret(keyring_class, error, wording):
    class Broken(keyring_class):
        def get_password(self, service, username):
            raise error

        def set_password(self, service, username, password):
            raise error

        def delete_password(self, service, username):
            raise error

    creds = CredentialStore(backend=Broken())
    with pytest.raises(CredentialsUnavailable, match=wording) as err:
        creds.set("e", SECRET)
    assert err.value.hint and "memory" in err.value.hint
    assert SECRET not in full_text(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    for call in (creds.get, creds.delete):
        with pytest.raises(CredentialsUnavailable, match=wording):
            call("e")


def test_threads_reach_the_secret_service_one_at_a_time(secret_service, monkeypatch):
    """Engine checks run in parallel threads; gnome-keyring-daemon loses items (and can
    abort) under concurrent clients, so every keyring call in a process is serialised.
    Checked on the real Secret Service: all round trips hold and no two calls overlap."""
    import secrets
    import threading
    import time

    from keyring.backends import SecretService

    for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(name, secret_service[name])
    real = SecretService.Keyring()
    inside, peak, guard = 0, 0, threading.Lock()

    class Watched:  # the real backend, counting the calls in progress
        def __getattr__(self, name):
            call = getattr(real, name)

            def watched(*args):
                nonlocal inside, peak
                with guard:
                    inside += 1
                    peak = max(peak, inside)
                try:
                    time.sleep(0.002)  # widen the window two unserialised calls would share
                    return call(*args)
                finally:
                    with guard:
                        inside -= 1
            return watched

    creds = CredentialStore(backend=Watched(), namespace=secrets.token_hex(8))
    failures = []

    def work(n: int) -> None:
        for i in range(10):
            value = secrets.token_urlsafe(16)
            try:
                creds.set(f"e{n}-{i}", value)
                if creds.get(f"e{n}-{i}") != value:
                    failures.append(f"{n}/{i}: read back another value")
                creds.delete(f"e{n}-{i}")
            except CredentialsUnavailable as exc:
                failures.append(f"{n}/{i}: {exc.message}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert peak == 1
