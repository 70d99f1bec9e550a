"""Doctor's checks of key records: each row readable and agreeing with itself, and with its engine.

A record is the only thing that says which key a name stands for, so a row changed
outside kms-tui (a ``key_id`` or ``public_key`` edited, a reference pointed at another
key, metadata that no longer parses) must be named, never passed over as healthy.
Plain functions over SQLite rows and driver answers; ``doctor`` turns what they return
into findings.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from engines import algorithms as A
from engines import integrity as I
from engines import keys as K
from engines.base import NativeKey
from engines.errors import KeyIntegrityError, KmsError
from store import KeyRecord, Store

from .integrity import KeyProofs

ERROR = "error"
RESTORE = "Compare kms.db with a backup and restore this record; kms-tui refuses the key until it agrees with itself."
REPLACED = ("Find out who changed the engine or kms.db; restore the key (or the record) from a backup. "
            "A sync does not fix this: the key at that reference is not a new one to adopt.")
Problem = tuple[str, str, str, str]  # severity, subject, message, hint

_COLUMNS = "id, engine_id, key_id, name, algorithm, size, public_key, tags, metadata"


def record_problems(path: Path) -> Iterator[Problem]:
    """Every key row that cannot be read or whose key id, algorithm or size is not its public key's.

    Yielded as found, rows read from a cursor: the doctor reports a problem while it reads on.
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return  # the database check says why it cannot be opened
    try:
        for row in conn.execute(f"SELECT {_COLUMNS} FROM keys ORDER BY id"):
            yield from _row_problems(*row)
    except sqlite3.Error:
        return  # the database check says why the rest cannot be read
    finally:
        conn.close()


def _row_problems(rowid: int, engine_id: object, key_id: object, name: object, algorithm: object, size: object,
                  pem: Any, tags: object, metadata: object) -> Iterator[Problem]:
    def who() -> str:  # made only for a problem: most rows have none
        return f"Key {str(name)[:80]!r} on {str(engine_id)[:80]!r}"

    subject = name if isinstance(name, str) and name else f"key row {rowid}"
    for field, text, kind in (("tags", tags, list), ("metadata", metadata, dict)):
        if not issubclass(_json_type(text), kind):
            yield (ERROR, subject, f"{who()}: its {field} field is not a JSON "
                   f"{'list' if kind is list else 'object'}, so listings that include it fail.", RESTORE)
    try:
        public_key = K.load_public_pem(pem)
        held = K.describe(public_key)
    except (KmsError, TypeError, ValueError):
        yield ERROR, subject, f"{who()}: its public key cannot be read, so it neither signs nor verifies.", RESTORE
        return
    if not _key_id_matches(key_id, pem, public_key, held):
        yield (ERROR, subject, f"{who()} is recorded with key id {str(key_id)[:16]}… but its public key's id is "
               f"{K.key_id_of(public_key)[:16]}…: one of them was changed outside kms-tui.", RESTORE)
    if (algorithm, size) != held:
        yield (ERROR, subject, f"{who()} is recorded as {str(algorithm)[:20]} {size} but its public key is "
               f"{held[0]} {held[1]}.", RESTORE)


# Keys whose DER SubjectPublicKeyInfo is one fixed header and the key's fixed-length bits (an
# uncompressed point on a named curve, or Ed25519's 32 bytes): (header, length of the whole).
_FIXED_SPKI = {
    (A.ECDSA, 256): (bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004"), 91),
    (A.ECDSA, 384): (bytes.fromhex("3076301006072a8648ce3d020106052b8104002203620004"), 120),
    (A.ED25519, 256): (bytes.fromhex("302a300506032b6570032100"), 44),
}
_BEGIN, _END = "-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n"


def _key_id_matches(key_id: object, pem: object, public_key: K.PublicKey, held: tuple[str, int]) -> bool:
    """``integrity.key_id_matches``, hashing the PEM's own DER when it is the key's DER re-encoded.

    A PEM of one block that parsed as a key of ``held`` and whose DER has that kind's fixed
    form is byte for byte what re-encoding the key gives (the parse checked the bits), so
    the SHA-256 of those bytes is the key's id; any other PEM or id takes the full way.
    """
    fixed = _FIXED_SPKI.get(held)
    if fixed is not None and isinstance(key_id, str) and len(key_id) == 64:
        der = _pem_der(pem)
        if der is not None and len(der) == fixed[1] and der.startswith(fixed[0]):
            return hashlib.sha256(der).hexdigest() == key_id
    return I.key_id_matches(key_id, public_key)


def _pem_der(pem: object) -> bytes | None:
    """The DER of a PEM that is exactly one public key block, else None."""
    if not isinstance(pem, str) or not pem.startswith(_BEGIN) or not pem.endswith(_END):
        return None
    body = pem[len(_BEGIN):-len(_END)]
    if "-" in body:  # another block, or a header
        return None
    try:
        return base64.b64decode(body.replace("\n", ""), validate=True)
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def _json_type(text: object) -> type:
    """The type of what ``text`` parses to (NoneType when it does not): many rows share their tags and
    metadata. A small cache: rows of large, distinct metadata must not make it hold megabytes."""
    return type(_json(text))


def _json(text: object) -> object:
    try:
        return json.loads(text) if isinstance(text, (str, bytes)) else None
    except ValueError:
        return None


class Recorded(Protocol):
    """What ``held_mismatch`` reads of a key record."""

    @property
    def engine_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def public_key(self) -> str: ...


def held_mismatch(record: Recorded, native: NativeKey) -> str | None:
    """Why the key an engine lists at a record's reference is not the recorded key, or None.

    A key id that names another key at a recorded reference (a legacy 40-hex file or a
    token object overwritten in place) is no new key a sync could adopt: it is this one.
    """
    if native.light or native.public_key is None:
        return None
    try:
        recorded = K.spki_der(K.load_public_pem(record.public_key))
    except KmsError:
        return None  # the record check names an unreadable public key
    if K.spki_der(native.public_key) == recorded:
        return None
    return (f"Engine {record.engine_id!r} holds key {native.key_id[:16]}… where key {record.name[:80]!r} "
            f"({K.key_id_of(K.load_public_pem(record.public_key))[:16]}…) is recorded: the key there was "
            "replaced, or the record points at another key. It does not sign.")


def prove_problems(store: Store, proofs: KeyProofs, engine_id: str, named: set[str]) -> list[Problem]:
    """``doctor --deep``: every key with material on the engine proves it is the recorded key.

    Every failed proof leaves its audit row; a key already named by a finding
    (``named``) is not named twice. Records that disagree with themselves are left
    to the record check.
    """
    problems: list[Problem] = []
    try:
        records = list(store.iter_keys(engine_id))
    except ValueError:
        return problems  # unreadable rows: the consistency check said so
    for record in records:
        if (record.native_ref is None or not record.has_private_key or record.status == "missing"
                or record.state == "PendingDeletion" or not _agrees(record)):  # pending: it signs nothing
            continue
        try:
            proofs.prove(record, "doctor", fresh=True)
        except KeyIntegrityError as exc:
            if record.name not in named:
                problems.append((ERROR, record.name, exc.message, exc.hint or REPLACED))
        except KmsError as exc:
            problems.append((ERROR, record.name, f"Key {record.name[:80]!r} could not be proven on {engine_id!r}: "
                             f"{exc.message}", exc.hint or "Check the engine, then run kms-tui doctor --deep again."))
    return problems


def _agrees(record: KeyRecord) -> bool:
    try:
        return I.key_id_matches(record.key_id, K.load_public_pem(record.public_key))
    except KmsError:
        return False
