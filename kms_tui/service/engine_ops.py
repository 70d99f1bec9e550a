"""The engine service (``kms.engines``): register, list, show, test, set default, unregister.

Secrets of engines (where each is, replacing, revealing, re-keying) are its
``secrets`` (``engine_secrets.EngineSecrets``).
"""

from __future__ import annotations

import builtins
import re
import secrets as tokens
from typing import Any

import engines
from engines.algorithms import ECDSA
from engines.base import EngineDriver
from engines.errors import EngineConfigError, KmsError
from engines.lamassu import shared as lamassu_shared
from store import EngineRecord
from store.errors import CredentialsUnavailable

from . import custody
from .compat import LAMASSU_ALGORITHMS, LAMASSU_CURVES
from .copies import SHARED_META
from .core import ServiceContext
from .engine_secrets import EngineSecrets, check_new_secret, prove_secret
from .engine_views import EngineCheck, EngineRemoval, EngineTypeInfo, EngineView
from .errors import Refused, SecretNeeded, Service
from .key_dirs import refuse_shared_directory

ENGINE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
SECURITY_LEVEL_OPTION = "security_level"

__all__ = ["ENGINE_ID_RE", "EngineCheck", "EngineRemoval", "EngineService", "EngineTypeInfo", "EngineView"]


def chosen_security_level(cls: type[EngineDriver], options: dict[str, str]) -> int:
    """The engine's security level: its type's, or the one its operator chose where the type takes a
    ``security_level`` option (Vault KV v2: 1 when the Vault keeps its keys behind an HSM)."""
    spec = next((o for o in cls.OPTIONS if o.name == SECURITY_LEVEL_OPTION), None)
    chosen = options.get(SECURITY_LEVEL_OPTION)
    if spec is None or chosen not in (spec.choices or ()) or not str(chosen).isdigit():
        return cls.SECURITY_LEVEL
    return int(chosen)



def offered_key_types(driver: EngineDriver) -> dict[str, builtins.list[int]]:
    """What kms-tui makes on the engine (algorithm -> sizes): what the engine can make, and on an
    engine shared with Lamassu only what Lamassu can use (compat.LAMASSU_ALGORITHMS and curves)."""
    supported = {a: builtins.list(s) for a, s in driver.supported_key_types().items()}
    if not lamassu_shared(driver.options):
        return supported
    return {a: [n for n in sizes if a != ECDSA or n in LAMASSU_CURVES]
            for a, sizes in supported.items() if a in LAMASSU_ALGORITHMS}

class EngineService(Service):
    """Every engine operation; ``secrets`` holds the ones about an engine's secret."""

    def __init__(self, context: ServiceContext, secrets: EngineSecrets) -> None:
        self._ctx = context
        self.secrets = secrets

    def list(self, *, secret_locations: bool = False) -> list[EngineView]:
        """Every engine; with ``secret_locations``, where each one's secret is (a keyring look-up each)."""
        store = self._ctx.store
        counts = store.count_keys_by_engine()
        views = [self._view(r, counts.get(r.id, 0)) for r in store.list_engines()]
        if secret_locations:
            for view in views:
                if view.secret_label:
                    view.secret_location = self.secrets.location_of(view.record)
        return views

    def get(self, engine_id: str) -> EngineView:
        record = self._ctx.store.get_engine(engine_id)
        return self._view(record, self._ctx.store.count_keys_by_engine().get(record.id, 0))

    @staticmethod
    def _view(record: EngineRecord, count: int) -> EngineView:
        etype = engines.engine_type(record.type)
        options: list[dict[str, Any]] = []
        label = None
        if engines.available(record.type):
            cls = engines.driver_class(record.type)
            options = [o.__dict__ for o in cls.OPTIONS]
            label = cls.SECRET.label if cls.SECRET else None
        return EngineView(record, count, etype.display, label, options)

    def register(
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
        ctx, store = self._ctx, self._ctx.store
        etype = engines.engine_type(engine_type)
        if not ENGINE_ID_RE.match(engine_id or ""):
            raise EngineConfigError(
                f"Engine id {engine_id[:80]!r} is not valid.",
                hint="Use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.",
            )
        if any(e.id == engine_id for e in store.list_engines()):
            raise EngineConfigError(f"An engine with id {engine_id!r} already exists.")
        cls = engines.driver_class(etype.type)
        merged = {**cls.default_options(engine_id, str(ctx.data_dir)), **(options or {})}
        validated = cls.validate_options(merged)
        refuse_shared_directory(etype.type, engine_id, validated, ctx.data_dir, store.list_engines())
        needs = cls.needs_secret(validated)
        material = cls.guarded_material(validated) if needs else 0
        secret, kept = self._registration_secret(etype, cls, validated, secret if needs else None, material)
        driver = cls(engine_id, validated, secret if needs else None)
        try:
            if check:
                driver.check()
            if material:
                prove_secret(driver, engine_id, material)
            supported = offered_key_types(driver)
        except BaseException:
            driver.close()
            raise
        location = None
        if needs:
            assert secret is not None
            try:
                location = ctx.store_secret(engine_id, secret, memory_only=memory_only)
            except CredentialsUnavailable:
                if not memory_fallback:
                    driver.close()
                    raise
                location = ctx.store_secret(engine_id, secret, memory_only=True)
        record = EngineRecord(
            id=engine_id,
            type=etype.type,
            name=name or engine_id,
            provider=cls.PROVIDER,
            security_level=chosen_security_level(cls, validated),
            config=validated,
            has_secret=needs,
            supported_key_types=supported,
        )
        try:
            with store.transaction():
                store.add_engine(record)
                store.delete_meta(SHARED_META + engine_id)  # registered here: this directory is taken over
                if make_default:
                    store.set_default_engine(engine_id)
                details: dict[str, Any] = {"type": etype.type, "options": validated}
                if material:
                    details["encrypted_files"] = material
                    details["secret"] = "kept passphrase found again" if kept else "checked against the key files"
                store.audit.append("engine.register", engine_id=engine_id, details=details)
        except BaseException:
            driver.close()
            if location == "keyring" and not material:
                ctx.drop_secret(engine_id)
            raise
        if kept and location == "keyring" and ctx.credentials.get(engine_id) == secret:
            custody.release_kept(ctx, kept)
        ctx.keep_driver(engine_id, driver)
        view = self.get(engine_id)
        view.secret_location = location
        return view

    def _registration_secret(self, etype: engines.EngineType, cls: type[EngineDriver], options: dict[str, str],
                             secret: str | None, material: int | None) -> tuple[str | None, str | None]:
        """(the secret to register with, the digest of a kept passphrase it came from)."""
        if not cls.needs_secret(options):
            return None, None
        if secret:
            check_new_secret(etype.type, secret, material)
            return secret, None
        label = cls.SECRET.label if cls.SECRET else "secret"
        if material:
            kept, digest = custody.kept_secret(self._ctx, options)
            if kept:
                return kept, digest
            raise SecretNeeded(
                f"{options.get('directory', 'The directory')} holds {material} encrypted key file(s) and no "
                f"{label} for them is kept here.",
                hint="Give the passphrase they were encrypted with (--secret-stdin or --secret-file); a new one "
                "is never made up for existing keys.")
        if cls.SECRET and cls.SECRET.generated:
            return tokens.token_urlsafe(32), None
        raise SecretNeeded(
            f"The {etype.display} engine needs its {label}.",
            hint="Give it with --secret-stdin, or type it when asked.",
        )

    def looks_like_lamassu_directory(self, path: str) -> bool:
        """Whether a key directory already holds clear key files as Lamassu's filesystem engine writes
        them, and no encrypted one: a software engine there is best registered with lamassu=true."""
        from engines.software.engine import SoftwareEngine  # no SDK: cryptography only, when asked

        return bool(path) and SoftwareEngine.lamassu_files(path) > 0

    def option_choices(self, engine_type: str,
                       options: dict[str, str] | None = None) -> dict[str, builtins.list[dict[str, Any]]]:
        """Choices a registration form can offer (e.g. the tokens of a PKCS#11 module)."""
        cls = engines.driver_class(engines.engine_type(engine_type).type)
        choices: dict[str, builtins.list[dict[str, Any]]] = cls.option_choices(dict(options or {}))
        return choices

    def test(self, engine_id: str, *, interactive: bool = True) -> EngineCheck:
        """Open and check an engine; a failure is reported, not raised.

        ``interactive=False`` (background reachability checks) never prompts
        for a secret: a missing one is reported as the failure.
        """
        ctx = self._ctx
        ctx.store.get_engine(engine_id)
        if not interactive:
            with ctx.without_prompts():
                return self.test(engine_id)
        try:
            driver = ctx.driver(engine_id)
            driver.check()
            supported = offered_key_types(driver)
        except KmsError as exc:
            ctx.forget_driver(engine_id)
            return EngineCheck(engine_id, False, exc.title, str(exc))
        except CredentialsUnavailable as exc:
            return EngineCheck(engine_id, False, exc.title, str(exc))
        ctx.store.update_engine(engine_id, supported_key_types=supported)
        return EngineCheck(engine_id, True, "Reachable", "The engine answered.", supported, driver.warnings())

    def supported_key_types(self, engine_id: str) -> dict[str, builtins.list[int]]:
        """What the engine can make (algorithm -> sizes), asked of it; the record is updated when it changed."""
        driver = self._ctx.driver(engine_id)
        supported = offered_key_types(driver)
        record = self._ctx.store.get_engine(engine_id)
        if record.supported_key_types != supported:
            self._ctx.store.update_engine(engine_id, supported_key_types=supported)
        return supported

    def set_default(self, engine_id: str) -> None:
        store = self._ctx.store
        with store.transaction():
            store.set_default_engine(engine_id)
            store.audit.append("engine.default", engine_id=engine_id)

    def unregister(self, engine_id: str, *, force: bool = False) -> EngineRemoval:
        """Forget an engine. Refused while keys reference it unless forced; keys stay in the backend.

        A secret that still guards key files (an at-rest passphrase) is kept in the
        keyring, under the directory's name, before anything is forgotten.
        """
        ctx, store = self._ctx, self._ctx.store
        record = store.get_engine(engine_id)
        count = store.count_keys_by_engine().get(engine_id, 0)
        if count and not force:
            raise Refused(
                f"Engine {engine_id!r} still has {count} key record(s).",
                hint="Their keys stay in the backend; use --force to forget them here too.",
            )
        if engine_id in self.secrets.pending():
            ctx.driver(engine_id)  # an interrupted re-key is finished first: one passphrase to keep
        ctx.forget_driver(engine_id)
        kept, may_drop = custody.keep_guarding_secret(ctx, record)
        details: dict[str, Any] = {"dropped_keys": count}
        if kept:
            details["secret"] = kept[:300]
        with store.transaction():
            store.remove_engine(engine_id)
            store.audit.append("engine.unregister", engine_id=engine_id, details=details)
        if may_drop:
            ctx.drop_secret(engine_id)  # it guards nothing, or a checked copy is kept
        return EngineRemoval(count, kept)

    # --- engine types, for registration forms ----------------------------------

    def types(self) -> builtins.list[EngineTypeInfo]:
        """Every engine type with its class-level facts; no driver is imported (cheap)."""
        found = []
        for t in engines.ENGINE_TYPES.values():
            ok = engines.available(t.type)
            found.append(EngineTypeInfo(t.type, t.display, t.security_level, ok,
                                        "" if ok else "not available in this version"))
        return found

    def secret_needed(self, engine_type: str, engine_id: str, options: dict[str, str]) -> str | None:
        """The label of the secret registering this engine with ``options`` asks for, or None.

        Reads the type's class-level facts only: no driver is opened, nothing is stored.
        """
        cls = engines.driver_class(engines.engine_type(engine_type).type)
        full = cls.validate_options({**cls.default_options(engine_id, str(self._ctx.data_dir)), **options})
        if cls.SECRET is None or not cls.needs_secret(full):
            return None
        label: str = cls.SECRET.label
        return label

    def type_info(self, engine_type: str) -> EngineTypeInfo:
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
            default_hints=cls.default_options("<engine id>", str(self._ctx.data_dir)),
            backup_wrap=cls.BACKUP_WRAP, backup_needs_officer=cls.BACKUP_NEEDS_OFFICER,
            external_mu=cls.CAPABILITIES.external_mu,
        )
