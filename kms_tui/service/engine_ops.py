"""Engine operations: register, list, show, test, set default, set secret, unregister."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import engines
from engines.errors import EngineConfigError, KmsError
from store import EngineRecord
from store.errors import CredentialsUnavailable

from ..errors import Refused, SecretNeeded
from .copies import SHARED_META
from .engine_secrets import EngineSecretOps
from .key_dirs import refuse_shared_directory

ENGINE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass
class EngineView:
    """An engine as the front ends show it."""

    record: EngineRecord
    key_count: int
    display: str
    secret_label: str | None
    options: list[dict[str, Any]] = field(default_factory=list)
    secret_location: str | None = None  # a key of engine_secrets.LOCATIONS, when looked up

    def to_json(self) -> dict[str, Any]:
        data = self.record.to_json()
        data.update(key_count=self.key_count, display=self.display)
        return data


@dataclass
class EngineCheck:
    engine_id: str
    reachable: bool
    title: str = ""
    message: str = ""
    supported_key_types: dict[str, list[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # usable, but worth a look (a key directory open to all)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class EngineRemoval:
    """What unregistering an engine did."""

    dropped: int  # key records forgotten with it
    secret: str | None  # what became of a secret that still guards key files (None: nothing guarded)


class EngineOps(EngineSecretOps):
    def list_engines(self, *, secret_locations: bool = False) -> list[EngineView]:
        """Every engine; with ``secret_locations``, where each one's secret is (a keyring look-up each)."""
        counts = self.store.count_keys_by_engine()
        views = [self._view(r, counts.get(r.id, 0)) for r in self.store.list_engines()]
        if secret_locations:
            for view in views:
                if view.secret_label:
                    view.secret_location = self.secret_location_of(view.record)
        return views

    def get_engine(self, engine_id: str) -> EngineView:
        record = self.store.get_engine(engine_id)
        return self._view(record, self.store.count_keys_by_engine().get(record.id, 0))

    def _view(self, record: EngineRecord, count: int) -> EngineView:
        etype = engines.engine_type(record.type)
        options: list[dict[str, Any]] = []
        label = None
        if engines.available(record.type):
            cls = engines.driver_class(record.type)
            options = [o.__dict__ for o in cls.OPTIONS]
            label = cls.SECRET.label if cls.SECRET else None
        return EngineView(record, count, etype.display, label, options)

    def register_engine(
        self,
        engine_type: str,
        engine_id: str,
        *,
        name: str | None = None,
        options: dict[str, str] | None = None,
        secret: str | None = None,
        memory_only: bool = False,
        memory_fallback: bool = False,
        make_default: bool = False,
        check: bool = True,
    ) -> EngineView:
        """Record a new engine after checking that it can be reached.

        The secret goes to the keyring (or, with ``memory_only``, is held for
        this process; with ``memory_fallback``, held when no keyring is
        usable); it never reaches SQLite. Nothing is recorded when the check
        fails.
        """
        etype = engines.engine_type(engine_type)
        if not ENGINE_ID_RE.match(engine_id or ""):
            raise EngineConfigError(
                f"Engine id {engine_id[:80]!r} is not valid.",
                hint="Use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.",
            )
        if any(e.id == engine_id for e in self.store.list_engines()):
            raise EngineConfigError(f"An engine with id {engine_id!r} already exists.")
        cls = engines.driver_class(etype.type)
        merged = {**cls.default_options(engine_id, str(self.data_dir)), **(options or {})}
        validated = cls.validate_options(merged)
        refuse_shared_directory(etype.type, engine_id, validated, self.data_dir, self.store.list_engines())
        needs = cls.needs_secret(validated)
        material = cls.guarded_material(validated) if needs else 0
        secret, kept = self._registration_secret(etype, cls, validated, secret if needs else None, material)
        driver = cls(engine_id, validated, secret if needs else None)
        try:
            if check:
                driver.check()
            if material:
                self._prove(driver, engine_id, material)
            supported = {a: list(s) for a, s in driver.supported_key_types().items()}
        except BaseException:
            driver.close()
            raise
        location = None
        if needs:
            try:
                location = self.store_secret(engine_id, secret, memory_only=memory_only)
            except CredentialsUnavailable:
                if not memory_fallback:
                    driver.close()
                    raise
                location = self.store_secret(engine_id, secret, memory_only=True)
        record = EngineRecord(
            id=engine_id,
            type=etype.type,
            name=name or engine_id,
            provider=cls.PROVIDER,
            security_level=cls.SECURITY_LEVEL,
            config=validated,
            has_secret=needs,
            supported_key_types=supported,
        )
        try:
            with self.store.transaction():
                self.store.add_engine(record)
                self.store.delete_meta(SHARED_META + engine_id)  # registered here: this directory is taken over
                if make_default:
                    self.store.set_default_engine(engine_id)
                details: dict[str, Any] = {"type": etype.type, "options": validated}
                if material:
                    details["encrypted_files"] = material
                    details["secret"] = "kept passphrase found again" if kept else "checked against the key files"
                self.store.audit.append("engine.register", engine_id=engine_id, details=details)
        except BaseException:
            driver.close()
            if location == "keyring" and not material:
                self._drop_secret(engine_id)
            raise
        if kept and location == "keyring" and self.credentials.get(engine_id) == secret:
            self._release_kept(kept)
        with self._drivers_lock:
            self._drivers[engine_id] = driver
        view = self.get_engine(engine_id)
        view.secret_location = location
        return view

    def _registration_secret(self, etype, cls, options, secret, material) -> tuple[str | None, str | None]:
        """(the secret to register with, the digest of a kept passphrase it came from)."""
        if not cls.needs_secret(options):
            return None, None
        if secret:
            self.check_new_secret(etype.type, secret, material)
            return secret, None
        if material:
            kept, digest = self._kept_secret(options)
            if kept:
                return kept, digest
            raise SecretNeeded(
                f"{options.get('directory', 'The directory')} holds {material} encrypted key file(s) and no "
                f"{cls.SECRET.label} for them is kept here.",
                hint="Give the passphrase they were encrypted with (--secret-stdin or --secret-file); a new one "
                "is never made up for existing keys.")
        if cls.SECRET and cls.SECRET.generated:
            return secrets.token_urlsafe(32), None
        raise SecretNeeded(
            f"The {etype.display} engine needs its {cls.SECRET.label}.",
            hint="Give it with --secret-stdin, or type it when asked.",
        )

    def engine_option_choices(self, engine_type: str, options: dict[str, str] | None = None) -> dict[str, list[dict]]:
        """Choices a registration form can offer (e.g. the tokens of a PKCS#11 module)."""
        cls = engines.driver_class(engines.engine_type(engine_type).type)
        return cls.option_choices(dict(options or {}))

    def test_engine(self, engine_id: str, *, interactive: bool = True) -> EngineCheck:
        """Open and check an engine; a failure is reported, not raised.

        ``interactive=False`` (background reachability checks) never prompts
        for a secret: a missing one is reported as the failure.
        """
        self.store.get_engine(engine_id)
        if not interactive:
            with self.without_prompts():
                return self.test_engine(engine_id)
        try:
            driver = self.driver(engine_id)
            driver.check()
            supported = {a: list(s) for a, s in driver.supported_key_types().items()}
        except KmsError as exc:
            self.forget_driver(engine_id)
            return EngineCheck(engine_id, False, exc.title, str(exc))
        except CredentialsUnavailable as exc:
            return EngineCheck(engine_id, False, exc.title, str(exc))
        self.store.update_engine(engine_id, supported_key_types=supported)
        return EngineCheck(engine_id, True, "Reachable", "The engine answered.", supported, driver.warnings())

    def supported_key_types(self, engine_id: str) -> dict[str, list[int]]:
        driver = self.driver(engine_id)
        supported = {a: list(s) for a, s in driver.supported_key_types().items()}
        record = self.store.get_engine(engine_id)
        if record.supported_key_types != supported:
            self.store.update_engine(engine_id, supported_key_types=supported)
        return supported

    def set_default_engine(self, engine_id: str) -> None:
        with self.store.transaction():
            self.store.set_default_engine(engine_id)
            self.store.audit.append("engine.default", engine_id=engine_id)

    def unregister_engine(self, engine_id: str, *, force: bool = False) -> EngineRemoval:
        """Forget an engine. Refused while keys reference it unless forced; keys stay in the backend.

        A secret that still guards key files (an at-rest passphrase) is kept in the
        keyring, under the directory's name, before anything is forgotten.
        """
        record = self.store.get_engine(engine_id)
        count = self.store.count_keys_by_engine().get(engine_id, 0)
        if count and not force:
            raise Refused(
                f"Engine {engine_id!r} still has {count} key record(s).",
                hint="Their keys stay in the backend; use --force to forget them here too.",
            )
        if engine_id in self.pending_rekeys():
            self.driver(engine_id)  # an interrupted re-key is finished first: one passphrase to keep
        self.forget_driver(engine_id)
        kept, may_drop = self._keep_guarding_secret(record)
        details: dict[str, Any] = {"dropped_keys": count}
        if kept:
            details["secret"] = kept[:300]
        with self.store.transaction():
            self.store.remove_engine(engine_id)
            self.store.audit.append("engine.unregister", engine_id=engine_id, details=details)
        if may_drop:
            self._drop_secret(engine_id)  # it guards nothing, or a checked copy is kept
        return EngineRemoval(count, kept)

    def _drop_secret(self, engine_id: str) -> None:
        try:
            self.credentials.delete(engine_id)
        except CredentialsUnavailable:
            pass

    # --- engine types, for registration forms ----------------------------------

    def engine_types(self) -> list[EngineTypeInfo]:
        """Every engine type with its class-level facts; no driver is imported (cheap)."""
        found = []
        for t in engines.ENGINE_TYPES.values():
            ok = engines.available(t.type)
            found.append(EngineTypeInfo(t.type, t.display, t.security_level, ok,
                                        "" if ok else "not available in this version"))
        return found

    def engine_type_info(self, engine_type: str) -> EngineTypeInfo:
        """What a registration form for one type shows: its options and its secret.

        Imports that type's driver (and so its SDK); raises UnknownEngineType when
        it cannot be loaded, with the reason (e.g. a missing Python package).
        """
        etype = engines.engine_type(engine_type)
        cls = engines.driver_class(etype.type)
        secret = cls.SECRET
        return EngineTypeInfo(
            etype.type, etype.display, cls.SECURITY_LEVEL, True,
            options=[dict(o.__dict__) for o in cls.OPTIONS],
            secret_label=secret.label if secret else None,
            secret_generated=bool(secret and secret.generated),
            secret_required=bool(secret and secret.required),
            # Defaults that depend on the engine id, shown as hints: "<data dir>/keys/<engine id>".
            default_hints=cls.default_options("<engine id>", str(self.data_dir)),
        )


@dataclass
class EngineTypeInfo:
    """An engine type as a registration form shows it (no secret values, ever)."""

    type: str
    display: str
    security_level: int
    available: bool
    note: str = ""  # why it is not available
    options: list[dict[str, Any]] = field(default_factory=list)  # OptionSpec fields
    secret_label: str | None = None
    secret_generated: bool = False  # left empty, the engine makes one up
    secret_required: bool = False  # always needed (otherwise it depends on the options)
    default_hints: dict[str, str] = field(default_factory=dict)
