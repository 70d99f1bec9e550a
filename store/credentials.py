"""Engine secrets in the OS keyring, or in memory for this process only.

One keyring entry per engine: service ``kms-tui``, username
``<namespace>/engine/<engine id>``, the namespace being the database's
instance id, so two data directories on one machine (a rehearsal and the real
ceremony, or every test) never share an engine's secret. Backends that do not really protect a secret are
refused rather than used: ``fail`` and ``null`` (no keyring), a chainer with
nothing viable behind it, and everything from ``keyrings.alt`` (plaintext or
merely obfuscated files). When no keyring is usable the caller may keep the
secret in memory with ``hold_in_memory``. Secret values never appear in an
exception or a log line. ``keyring`` is imported on first use: it costs
~120 ms, which start-up should not pay.

Without a backend given, the choice is keyring's own when it is configured
(``PYTHON_KEYRING_BACKEND``, ``KEYRING_PROPERTY_*`` or its ``keyringrc.cfg``);
otherwise the Secret Service is used directly when its daemon answers
(``store.secret_service``: keyring's entries, read without importing keyring),
and keyring's discovery (every installed backend's entry point loaded and
asked, tens of milliseconds a one-shot command cannot afford) runs only when
it does not.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from . import secret_service
from .errors import CredentialsUnavailable, InvalidValue

SERVICE = "kms-tui"
log = logging.getLogger(__name__)

# One keyring call at a time in this process. Each call of keyring's Secret Service
# backend is a new D-Bus client, and gnome-keyring-daemon does not survive concurrent
# clients well: an item just written "does not exist", the default collection goes
# missing (keyring then asks to create one, a prompt) or the daemon aborts. Threads
# (engine checks in parallel, background reachability checks) queue here instead.
_BACKEND_CALLS = threading.RLock()


def _let_the_last_call_finish() -> None:
    """At exit, wait (briefly) for a call a background thread has in flight and keep others
    from starting: a client that vanishes mid-request can make gnome-keyring-daemon abort."""
    _BACKEND_CALLS.acquire(timeout=2.0)


atexit.register(_let_the_last_call_finish)

_IN_MEMORY = "or enter the secret when asked, to keep it in memory for this session only."
NO_KEYRING_HINT = (
    "No Secret Service is running. On a desktop, unlock your keyring; over SSH, start one with: "
    "dbus-run-session -- bash -c 'eval \"$(printf PASSWORD | gnome-keyring-daemon --unlock "
    "--components=secrets)\"; kms-tui ...' " + _IN_MEMORY
)
LOCKED_HINT = (
    "Unlock your keyring (on a desktop, in its password manager; over SSH, start gnome-keyring-daemon "
    "again with the keyring's own password), " + _IN_MEMORY
)
CONFIG_HINT = (
    "Select a real backend, e.g. PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring "
    "(or in keyringrc.cfg), " + _IN_MEMORY
)
ALT_HINT = "Uninstall keyrings.alt or select a real backend (PYTHON_KEYRING_BACKEND), " + _IN_MEMORY


def username(engine_id: str, namespace: str | None = None) -> str:
    return f"{namespace}/engine/{engine_id}" if namespace else f"engine/{engine_id}"


def describe(backend: Any) -> str:
    cls = type(backend)
    return f"{getattr(backend, 'name', cls.__name__)} ({cls.__module__}.{cls.__name__})"


def _is_alt(backend: Any) -> bool:
    # Any class in the MRO counts: a subclass of a keyrings.alt backend still writes its file.
    return any(str(getattr(c, "__module__", "")).startswith("keyrings.alt") for c in type(backend).__mro__)


def _refusal(backend: Any) -> CredentialsUnavailable | None:
    """Why this backend must not hold a secret, or None if it may."""
    from keyring.backends import fail, null

    if isinstance(backend, fail.Keyring):
        return CredentialsUnavailable(
            "The keyring library found no usable backend on this system.", hint=NO_KEYRING_HINT
        )
    if isinstance(backend, null.Keyring):
        return CredentialsUnavailable(
            "The keyring is set to the 'null' backend, which keeps nothing.", hint=CONFIG_HINT
        )
    if _is_alt(backend):
        return CredentialsUnavailable(
            f"The keyring backend {describe(backend)} comes from keyrings.alt and keeps secrets in a "
            "plaintext or merely obfuscated file; kms-tui refuses it.",
            hint=ALT_HINT,
        )
    return None


def default_backend() -> Any:
    """The backend used when none is given (see the module docstring): keyring's configured one, else
    the Secret Service when it answers, else the one keyring's discovery finds. Never keyrings.alt by
    choice here: a backend discovery yields is checked by the refusals like any other."""
    if not secret_service.keyring_configured():
        found = secret_service.available()
        if found is not None:
            log.debug("credential store uses the Secret Service directly")
            return found
    import keyring

    return keyring.get_keyring()


def _translate(exc: Exception, secret: str | None = None) -> CredentialsUnavailable:
    """A CredentialsUnavailable for a keyring failure, with any secret scrubbed from the text."""
    from keyring import errors

    detail = str(exc)
    if secret:
        detail = detail.replace(secret, "***")
    kind = type(exc).__name__
    if isinstance(exc, errors.NoKeyringError):
        return CredentialsUnavailable("The keyring library found no usable backend.", hint=NO_KEYRING_HINT)
    if isinstance(exc, errors.KeyringLocked):
        return CredentialsUnavailable("The keyring is locked, or unlocking it was refused.", hint=LOCKED_HINT)
    if isinstance(exc, errors.InitError):
        return CredentialsUnavailable(
            f"The keyring could not be opened ({kind}: {detail}).", hint=NO_KEYRING_HINT
        )
    return CredentialsUnavailable(f"The keyring failed ({kind}: {detail}).", hint=LOCKED_HINT)


class CredentialStore:
    """Get, set and delete engine secrets; ``backend=None`` means keyring's choice."""

    def __init__(self, backend: Any = None, namespace: str | None = None):
        self.namespace = namespace
        # Called before every keyring write; raises to refuse it (the owner checks its namespace is current).
        self.before_write: Any = None
        self._configured = backend
        self._backend: Any = None  # the one actually used, once resolved
        self._memory: dict[str, str] = {}
        self._lock = threading.RLock()

    def username(self, engine_id: str) -> str:
        """The keyring username of an engine's secret (the service is ``kms-tui``)."""
        return username(engine_id, self.namespace)

    def __repr__(self) -> str:  # never the held secrets
        return f"CredentialStore(backend={self.backend_name!r}, held_in_memory={len(self._memory)})"

    # ------------------------------------------------------------ backend
    def _chosen(self) -> Any:
        if self._configured is None:
            try:
                with _BACKEND_CALLS:  # backend discovery asks D-Bus which services run
                    self._configured = default_backend()
            except Exception as exc:  # a broken keyringrc.cfg, a backend that fails to load
                raise _translate(exc) from exc
        return self._configured

    def _usable(self) -> Any:
        """The backend to use, or CredentialsUnavailable saying why there is none."""
        with self._lock:
            if self._backend is not None:
                return self._backend
            chosen = self._chosen()
            if isinstance(chosen, secret_service.SecretServiceKeyring):
                self._backend = chosen  # a real keyring by construction; checking it would import keyring
                return chosen
            from keyring.backends import chainer

            if isinstance(chosen, chainer.ChainerBackend):
                try:
                    behind = list(chosen.backends)
                except Exception as exc:
                    raise _translate(exc) from exc
                good = [b for b in behind if _refusal(b) is None]
                if not good:
                    refused = _refusal(behind[0]) if behind else None
                    raise CredentialsUnavailable(
                        "The keyring chainer has no usable backend"
                        + (f" ({refused.message})" if refused else "")
                        + ".",
                        hint=NO_KEYRING_HINT,
                    )
                # The chainer writes to the first backend that accepts, which could be a
                # refused one; use the best good backend directly instead.
                chosen = chosen if len(good) == len(behind) else good[0]
            else:
                refusal = _refusal(chosen)
                if refusal is not None:
                    raise refusal
            log.debug("credential store uses %s", describe(chosen))
            self._backend = chosen
            return chosen

    @property
    def backend_name(self) -> str:
        try:
            return describe(self._usable())
        except CredentialsUnavailable:
            try:
                return describe(self._chosen()) + " (refused)"
            except CredentialsUnavailable:
                return "none"

    def status(self) -> tuple[bool, str]:
        """(usable?, a sentence naming the backend, or saying why there is none)."""
        try:
            return True, f"Secrets are kept in {describe(self._usable())}."
        except CredentialsUnavailable as exc:
            return False, exc.message

    # ------------------------------------------------------------ secrets
    def get(self, engine_id: str) -> str | None:
        """The engine's secret: the in-memory one if held, else the keyring's; None if neither has one."""
        with self._lock:
            if engine_id in self._memory:
                return self._memory[engine_id]
        backend = self._usable()
        try:
            with _BACKEND_CALLS:
                secret: str | None = backend.get_password(SERVICE, self.username(engine_id))
                return secret
        except Exception as exc:
            raise _translate(exc) from exc

    def set(self, engine_id: str, secret: str) -> None:
        """Store the secret in the keyring (and forget any in-memory copy)."""
        if not isinstance(secret, str) or not secret:
            raise InvalidValue("The secret is empty.", hint="Enter the secret again.")
        if self.before_write is not None:
            self.before_write()
        backend = self._usable()
        try:
            with _BACKEND_CALLS:
                backend.set_password(SERVICE, self.username(engine_id), secret)
        except Exception as exc:
            # "from None": the original exception's text or arguments might carry the secret.
            raise _translate(exc, secret) from None
        with self._lock:
            self._memory.pop(engine_id, None)

    def delete(self, engine_id: str) -> None:
        """Forget the secret everywhere; a missing entry is not an error."""
        with self._lock:
            self._memory.pop(engine_id, None)
        try:
            backend = self._usable()
        except CredentialsUnavailable:
            return  # no usable keyring: kms-tui never stored anything in it
        if self.before_write is not None:
            self.before_write()
        from keyring import errors

        try:
            with _BACKEND_CALLS:
                backend.delete_password(SERVICE, self.username(engine_id))
        except errors.PasswordDeleteError:
            pass  # there was no such entry
        except Exception as exc:
            raise _translate(exc) from exc

    def sibling(self, namespace: str) -> CredentialStore:
        """The same backend under another namespace (no in-memory secret is carried over)."""
        return CredentialStore(self._configured, namespace=namespace)

    def copy_entry(self, engine_id: str, *, from_id: str | None = None, from_namespace: str | None = None) -> bool:
        """Copy an entry of the keyring to ``engine_id`` of this namespace, checked by reading it back.

        The source is ``from_id`` (default: the same id) in ``from_namespace`` (default:
        this one). Returns False when the source holds nothing; the source is kept.
        """
        backend = self._usable()
        source = username(from_id or engine_id, self.namespace if from_namespace is None else from_namespace)
        try:
            with _BACKEND_CALLS:
                value = backend.get_password(SERVICE, source)
        except Exception as exc:
            raise _translate(exc) from exc
        if not value:
            return False
        self.set(engine_id, value)
        if self.get(engine_id) != value:
            raise CredentialsUnavailable(f"The keyring did not keep the copy of the secret for {engine_id!r}.",
                                         hint=LOCKED_HINT)
        return True

    def hold_in_memory(self, engine_id: str, secret: str) -> None:
        """Keep the secret in this process only (lost on exit), ahead of the keyring."""
        if not isinstance(secret, str) or not secret:
            raise InvalidValue("The secret is empty.", hint="Enter the secret again.")
        with self._lock:
            self._memory[engine_id] = secret

    def held_in_memory(self, engine_id: str) -> bool:
        with self._lock:
            return engine_id in self._memory
