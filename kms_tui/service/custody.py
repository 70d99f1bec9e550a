"""A passphrase kept for a key directory whose engine was removed, and found again by the next one.

Forgetting an engine whose directory still holds encrypted files keeps its
passphrase in the keyring, under the directory's name (``kept_entry``), where
registering or opening an engine on that directory finds it again (DESIGN §7.1).
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

import engines
from engines.base import EngineDriver
from engines.errors import KmsError
from store import EngineRecord
from store.errors import CredentialsUnavailable

from .copies import KEPT_META, kept_entry

if TYPE_CHECKING:
    from .core import ServiceContext


def material_home(config: dict[str, str]) -> str | None:
    """The real path of the directory whose files a secret guards, if the engine has one."""
    directory = config.get("directory")
    return os.path.realpath(os.path.expanduser(directory)) if directory else None


def home_hash(home: str) -> str:
    return hashlib.sha256(home.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def keep_guarding_secret(ctx: ServiceContext, record: EngineRecord) -> tuple[str | None, bool]:
    """Before an engine is forgotten: keep the passphrase its remaining encrypted files need.

    Returns (what was done, for the operator and the audit row, or None when
    the secret guards nothing; whether the engine's own entry may be deleted).
    """
    if not engines.available(record.type):
        return "its engine type cannot be loaded here, so its secret is kept", False
    cls = engines.driver_class(record.type)
    material = cls.guarded_material(record.config) if cls.SECRET else 0
    home = material_home(record.config)
    if home is None or material == 0 or (material is None and not record.has_secret):
        return None, True
    what = (f"the {material} encrypted key file(s) in {home}" if material is not None
            else f"{home}, which is not there now (an unmounted disk?)")
    digest = home_hash(home)
    try:
        held = ctx.credentials.get(record.id)
        earlier = ctx.credentials.get(kept_entry(digest))
        if held and earlier and earlier != held:
            return (f"another passphrase is already kept for {home}: this one stays under the engine's own "
                    "entry"), False
        kept = bool(held) and ctx.credentials.copy_entry(kept_entry(digest), from_id=record.id)
    except CredentialsUnavailable:
        kept = False
    if not kept:
        return f"no passphrase for {what} is in the keyring: keep the one you typed", False
    ctx.store.set_meta(KEPT_META + digest, home)
    return (f"its passphrase stays in the keyring for {what}; an engine registered on that directory "
            "finds it again"), True


def kept_secret(ctx: ServiceContext, config: dict[str, str]) -> tuple[str | None, str | None]:
    """(passphrase kept for this directory, its digest) or (None, None)."""
    home = material_home(config)
    if home is None:
        return None, None
    digest = home_hash(home)
    if ctx.store.meta(KEPT_META + digest) is None:
        return None, None
    try:
        return ctx.credentials.get(kept_entry(digest)), digest
    except CredentialsUnavailable:
        return None, None


def adopt_kept_secret(ctx: ServiceContext, record: EngineRecord, cls: type[EngineDriver]) -> str | None:
    """The passphrase kept for this engine's directory, if it opens the files; it becomes the engine's."""
    secret, digest = kept_secret(ctx, record.config)
    if not secret or digest is None:
        return None
    probe = cls(record.id, record.config, secret)
    try:
        probe.prove_secret()
    except KmsError:
        return None
    finally:
        probe.close()
    ctx.store.audit.append("engine.secret", engine_id=record.id, details={
        "stored_in": "keyring", "checked": "the passphrase kept for its directory, found again"})
    ctx.credentials.set(record.id, secret)
    if ctx.credentials.get(record.id) == secret:
        ctx.store.update_engine(record.id, has_secret=True)
        release_kept(ctx, digest)
    return secret


def release_kept(ctx: ServiceContext, digest: str) -> None:
    """The kept passphrase now lives under an engine again (stored and read back first)."""
    ctx.store.delete_meta(KEPT_META + digest)
    try:
        ctx.credentials.delete(kept_entry(digest))
    except CredentialsUnavailable:
        pass
