"""Bring your own key with escrow: a key imported into AWS KMS is first backed up under M-of-N.

An engine such as AWS KMS never gives key material back, so the only moment a key it holds can
be backed up is the import, while the material is in this process. ``escrow`` makes that backup
before the import reaches the engine: a fresh key-encryption key (KEK) wraps the key's PKCS#8
DER (RFC 5649, as a software engine wraps its keys), the KEK is split into SLIP-39 shares, the
authenticated backup file is written (a new file), every custodian receives their share, and
the escrow is audited; only then does the caller import the key. A backup file made so is an
ordinary backup: ``keys restore`` takes it into a software engine, Vault or a PKCS#11 token.

The KEK and the shares live in this process only, for as long as the wrap, the split and the
hand-out take; they never reach the store, the log, the audit or an error's text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from engines.errors import InvalidInput, OperationNotSupported, UnsupportedKeyType

from . import backup_file as F
from . import backup_policy as P
from .backup import HandOut, ShareSet, _new_kek, _now, _split
from .errors import Refused

if TYPE_CHECKING:
    from engines import keys as K

    from .core import ServiceContext


@dataclass(frozen=True)
class EscrowRequest:
    """What the importer asked for: the policy, the new file (opened by the caller) and the hand-out."""

    threshold: int
    custodians: int
    out: IO[bytes]
    hand_out: HandOut


@dataclass(frozen=True)
class Escrow:
    """The escrow made: the file's hash and share set, for the import's record."""

    sha256: str
    threshold: int
    custodians: int
    identifier: int
    created: str

    def metadata(self) -> dict[str, Any]:
        return {P.ESCROW_KEY: {"date": self.created, "custodians": self.custodians, "threshold": self.threshold,
                               "file_sha256": self.sha256, "share_set": self.identifier}}


def check_target(ctx: ServiceContext, engine_id: str, parsed: K.ParsedKey) -> None:
    """Refused, before anything is made, where an escrow has no sense or the engine would refuse the key."""
    driver = ctx.driver(engine_id)
    if driver.BACKUP_WRAP:
        raise Refused(
            f"Engine {engine_id!r} ({driver.DISPLAY}) can wrap its own keys: an escrow at import is for engines "
            "that never give key material back (AWS KMS).",
            hint="Make the key there with keys create --backup M-of-N, or import it into AWS KMS.")
    if not parsed.has_private_key:
        raise InvalidInput("An escrow backs up a private key; this file holds a public key only.")
    if not driver.CAPABILITIES.can_import:
        raise OperationNotSupported(f"Engine {engine_id!r} ({driver.DISPLAY}) cannot import private keys.")
    sizes = driver.importable_key_types().get(parsed.algorithm, ())
    if parsed.size not in sizes:
        raise UnsupportedKeyType(f"Engine {engine_id!r} ({driver.DISPLAY}) cannot import {parsed.algorithm} "
                                 f"{parsed.size} keys; no escrow was made.")


def escrow(ctx: ServiceContext, engine_id: str, parsed: K.ParsedKey, name: str, aliases: list[str],
           tags: list[str], request: EscrowRequest) -> Escrow:
    """The key backed up under M-of-N, the file written, the shares handed out and the escrow audited."""
    threshold, custodians = P.check_policy(request.threshold, request.custodians)
    check_target(ctx, engine_id, parsed)
    kek = _new_kek()
    try:
        entry = _entry(ctx, engine_id, parsed, name, aliases, tags, kek)
        shares, identifier = _split(kek, threshold, custodians)
        draft = F.BackupFile(_now(), identifier, threshold, custodians, (entry,), b"", "")
        backup, data = F.sealed(draft, kek)
    finally:
        del kek
    request.out.write(data)
    request.out.flush()
    os.fsync(request.out.fileno())
    request.hand_out(ShareSet(identifier, threshold, shares))
    del shares
    made = Escrow(backup.sha256, threshold, custodians, identifier, backup.created)
    _audit(ctx, engine_id, parsed, name, made)
    return made


def _entry(ctx: ServiceContext, engine_id: str, parsed: K.ParsedKey, name: str, aliases: list[str],
           tags: list[str], kek: bytes) -> F.BackupKey:
    from engines import keys as K

    engine = ctx.store.get_engine(engine_id)
    return F.BackupKey(
        key_id=parsed.key_id, name=name, algorithm=parsed.algorithm, size=parsed.size, aliases=tuple(aliases),
        tags=tuple(tags), bindings=(), public_key=K.public_pem(parsed.public_key), engine_id=engine.id,
        engine_type=engine.type, security_level=engine.security_level, wrapped=_wrapped(parsed, kek),
    )


def _wrapped(parsed: K.ParsedKey, kek: bytes) -> bytes:
    """The private key's PKCS#8 DER wrapped under ``kek`` (RFC 5649): what a software engine's wrap gives."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

    private = parsed.private_key
    if private is None:
        raise InvalidInput("An escrow backs up a private key; this file holds a public key only.")
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        return aes_key_wrap_with_padding(kek, der)
    finally:
        del der


def _audit(ctx: ServiceContext, engine_id: str, parsed: K.ParsedKey, name: str, made: Escrow) -> None:
    store = ctx.store
    with store.transaction():
        store.audit.append("key.escrow", engine_id=engine_id, key_id=parsed.key_id, details={
            "name": name, "key_ids": [parsed.key_id], "count": 1, "file_sha256": made.sha256,
            "custodians": made.custodians, "threshold": made.threshold, "share_set": made.identifier,
        })
