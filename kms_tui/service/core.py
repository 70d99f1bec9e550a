"""The shared context of the services: the store, the credentials, the prompt and the open drivers.

Drivers are opened on first use and kept (one per engine) so that engines with
sessions (PKCS#11) keep one logged-in session per process. Secrets come from
the keyring; when no keyring is usable, a prompt supplied by the front end
(CLI getpass, TUI modal) may provide one to hold in memory for this process.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import engines
from engines.base import EngineDriver
from engines.errors import InvalidInput, WrongPassphrase
from store import CredentialStore, EngineRecord, Store, resolve_data_dir
from store.errors import CredentialsUnavailable

from . import copies, custody, rekey
from .errors import Refused, SecretNeeded

log = logging.getLogger("kms_tui.service")

DEFAULT_ENGINE_ID = "golang-default"
T = TypeVar("T")


@dataclass(frozen=True)
class SecretRequest:
    """What a front end is asked for when a secret is not in the keyring."""

    engine_id: str
    label: str  # "at-rest passphrase", "user PIN", ...
    confirm: bool  # a new secret: ask twice
    reason: str  # why it is asked (keyring unavailable, entry missing)


SecretPrompt = Callable[[SecretRequest], "str | None"]


class ServiceContext:
    """Owns the data directory, the store, the credential store, the prompt and the driver cache."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        credentials: CredentialStore | None = None,
        prompt: SecretPrompt | None = None,
    ) -> None:
        self.data_dir: Path = resolve_data_dir(data_dir)
        self.store = Store(self.data_dir)
        self.credentials = credentials or CredentialStore()
        if self.credentials.namespace is None:
            self.credentials.namespace = self.store.instance_id
            self.credentials.before_write = self._check_namespace
        copies.claim(self.store, self.credentials)
        self.prompt: SecretPrompt | None = prompt
        self.resumed_rekeys: dict[str, dict[str, Any]] = {}  # figures of re-keys this process finished
        self._drivers: dict[str, EngineDriver] = {}
        self._drivers_lock = threading.RLock()
        self._on_forget: list[Callable[[str], None]] = []
        self._quiet = threading.local()  # background checks must not pop up secret prompts
        self._ensure_default_engine()

    # --- life cycle --------------------------------------------------------

    def close(self) -> None:
        """Close every open driver, then the store."""
        with self._drivers_lock:
            drivers, self._drivers = list(self._drivers.values()), {}
        for driver in drivers:
            try:
                driver.close()
            except Exception:  # closing must not mask the caller's outcome
                log.exception("closing engine driver %s failed", driver.engine_id)
        self.store.close()

    def _ensure_default_engine(self) -> None:
        """First run: a software engine in the data directory, so the tool is useful at once."""
        if self.store.list_engines():
            return
        cls = engines.driver_class("GOLANG")
        options = cls.validate_options(cls.default_options(DEFAULT_ENGINE_ID, str(self.data_dir)))
        record = EngineRecord(
            id=DEFAULT_ENGINE_ID,
            type="GOLANG",
            name="Default software engine",
            provider=cls.PROVIDER,
            security_level=cls.SECURITY_LEVEL,
            config=options,
            is_default=True,
            supported_key_types={},
        )
        with self.store.transaction():
            self.store.add_engine(record)
            self.store.audit.append("engine.register", engine_id=DEFAULT_ENGINE_ID, details={"type": "GOLANG", "first_run": True})

    def _check_namespace(self) -> None:
        """Refuse a keyring write under a namespace the database no longer has: the data directory
        was copied or moved while this process ran, and the copy took a namespace of its own."""
        if self.store.meta("instance_id") != self.credentials.namespace:
            raise Refused(
                f"The data directory {self.data_dir} was moved or copied while this kms-tui was running; its "
                "keyring entries now live under another name. Nothing was written.",
                hint="Quit and start kms-tui again on the data directory you mean.")

    # --- drivers -------------------------------------------------------------

    def driver(self, engine_id: str) -> EngineDriver:
        """The open driver of an engine (opened on first use, then kept)."""
        with self._drivers_lock:
            driver = self._drivers.get(engine_id)
            if driver is not None:
                return driver
            record = self.store.get_engine(engine_id)
            cls = engines.driver_class(record.type)
            if rekey.is_pending(self.store, record, cls):
                driver = rekey.resume(self, record, cls)  # a kill interrupted a re-key: finished first
            else:
                driver = cls(record.id, record.config, self._secret_for(record, cls))
            self._drivers[engine_id] = driver
            return driver

    def keep_driver(self, engine_id: str, driver: EngineDriver) -> None:
        """Keep a driver opened (and checked) elsewhere as the engine's open driver."""
        with self._drivers_lock:
            self._drivers[engine_id] = driver

    def has_driver(self, engine_id: str) -> bool:
        with self._drivers_lock:
            return engine_id in self._drivers

    def on_current_secret(self, engine_id: str, call: Callable[[EngineDriver], T]) -> T:
        """``call(driver)``; when a driver this process had already opened says its passphrase no
        longer opens the files (another process re-keyed the engine), once more on the engine
        reopened with the keyring's current passphrase. Still wrong, it is really wrong."""
        opened_before = self.has_driver(engine_id)
        try:
            return call(self.driver(engine_id))
        except WrongPassphrase:
            if not opened_before or self.credentials.held_in_memory(engine_id):
                raise
            self.forget_driver(engine_id)
            return call(self.driver(engine_id))

    def on_forget(self, callback: Callable[[str], None]) -> None:
        """Have ``callback(engine_id)`` called whenever an engine's driver is forgotten."""
        self._on_forget.append(callback)

    def forget_driver(self, engine_id: str) -> None:
        """Close and drop an engine's driver: the next use opens it again (new secret, new options)."""
        for callback in self._on_forget:
            callback(engine_id)
        with self._drivers_lock:
            driver = self._drivers.pop(engine_id, None)
        if driver is not None:
            driver.close()

    # --- secrets ---------------------------------------------------------------

    def _secret_for(self, record: EngineRecord, cls: type[EngineDriver]) -> str | None:
        if not cls.needs_secret(record.config):
            return None
        label = cls.SECRET.label if cls.SECRET else "secret"
        unavailable: CredentialsUnavailable | None = None
        try:
            secret = self.credentials.get(record.id)
        except CredentialsUnavailable as exc:
            unavailable, secret = exc, None
        if secret:
            return secret
        # Never a new passphrase where files need an old one: they would be under two.
        material = cls.guarded_material(record.config)
        if material and unavailable is None:
            secret = custody.adopt_kept_secret(self, record, cls)  # kept when an engine on these files was removed
            if secret:
                return secret
        if unavailable is None and not record.has_secret and cls.SECRET and cls.SECRET.generated and not material:
            secret = self._first_secret(record, cls)
            if secret:
                return secret
        reason = (
            unavailable.message
            if unavailable
            else f"The keyring has no {label} for engine {record.id!r}."
        )
        if self.prompt is not None and not getattr(self._quiet, "on", False):
            first = not material and not record.has_secret
            secret = self.prompt(SecretRequest(record.id, label, first, reason))
            if secret:
                self._check_typed(record, cls, secret, material)
                self.credentials.hold_in_memory(record.id, secret)
                if not record.has_secret:
                    self.store.update_engine(record.id, has_secret=True)
                return secret
        if unavailable is not None:
            raise unavailable
        raise SecretNeeded(
            reason,
            hint=f"Set it with: kms-tui engines secret {record.id} --secret-stdin",
        )

    def _first_secret(self, record: EngineRecord, cls: type[EngineDriver]) -> str | None:
        """A new engine's generated secret, made under the database's write lock.

        Two processes opening the engine at once would otherwise both find no secret,
        both make one, and the second written to the keyring would replace the first
        while files are already encrypted under it. Under the lock the second reads back
        the first one's; None when the engine meanwhile got a secret the keyring does not
        hold, or files to guard (the caller then asks for it).
        """
        with self.store.transaction():
            secret = self.credentials.get(record.id)
            if secret:
                return secret
            if self.store.get_engine(record.id).has_secret or cls.guarded_material(record.config):
                return None
            secret = secrets.token_urlsafe(32)
            self.credentials.set(record.id, secret)
            self.store.update_engine(record.id, has_secret=True)
            return secret

    def _check_typed(self, record: EngineRecord, cls: type[EngineDriver], secret: str, material: int | None) -> None:
        """A typed secret opens the files it will guard, or is long enough to be their first."""
        spec = cls.SECRET
        if material:
            probe = cls(record.id, record.config, secret)
            try:
                probe.prove_secret()
            except WrongPassphrase:
                raise WrongPassphrase(
                    f"The {spec.label if spec else 'secret'} typed does not decrypt the key files of engine {record.id!r}; nothing was "
                    "encrypted with it.", hint="Type it again: the one these files were encrypted with.") from None
            finally:
                probe.close()
        elif spec is not None and len(secret) < spec.min_length:
            raise InvalidInput(f"The {spec.label} must be at least {spec.min_length} characters long.",
                               hint="Choose a longer one (a phrase of several words is easy to type).")

    @contextlib.contextmanager
    def without_prompts(self) -> Iterator[None]:
        """Within this block (in this thread), a missing secret is an error, never a prompt."""
        previous = getattr(self._quiet, "on", False)
        self._quiet.on = True
        try:
            yield
        finally:
            self._quiet.on = previous

    def store_secret(self, engine_id: str, secret: str, *, memory_only: bool = False) -> str:
        """Keep an engine's secret: in the keyring, or in memory for this process only.

        Returns where it went ("keyring" or "memory").
        """
        if memory_only:
            self.credentials.hold_in_memory(engine_id, secret)
            return "memory"
        self.credentials.set(engine_id, secret)
        return "keyring"

    def drop_secret(self, engine_id: str) -> None:
        """Delete an engine's keyring entry; a keyring that cannot be reached leaves it."""
        try:
            self.credentials.delete(engine_id)
        except CredentialsUnavailable:
            pass
