"""A ``pkcs11:`` URI resolved by what it means: the recorded keys whose attributes it names.

Any RFC 7512 spelling of a recorded key finds it: attributes in any order, ``id`` escaped
byte by byte or left printable, ``type=public`` or ``cert`` for a key held privately, another
tool's query attributes (``module-path``) left alone, the PIN (``pin-value``, ``pin-source``)
never read, shown or kept. Lamassu's own form ``pkcs11:token-id=<engine id>;id=<key id>;
type=private|public`` (lamassuiot/lamassuiot core/pkg/models/kms.go, ``Key.AfterFind``)
names the key on that engine, of any engine type.

Matching reads only what the store records — the engine's token label or serial (its
config), the key's CKA_ID and CKA_LABEL (its recorded URI; on a Lamassu token the CKA_ID is
the key id as ASCII hex: lamassuiot/lamassuiot engines/crypto/pkcs11/pkcs11.go,
``FindKeyPair([]byte(keyID), nil)``) — so no token is opened to resolve a reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engines.errors import InvalidInput
from engines.pkcs11.uri import LAMASSU_ENGINE, describe, parse_uri
from store import EngineRecord, KeyQuery, KeyRecord, Store

from .errors import AmbiguousReference, KeyNotFound

PKCS11 = "PKCS11"
KEY_TYPES = frozenset({"private", "public", "cert"})  # the objects of a key pair (and its certificate)
MAX_CANDIDATES_SHOWN = 10


@dataclass(frozen=True)
class Held:
    """What the store records of one key, in a URI's terms."""

    engine_id: str
    token: str | None
    serial: str | None
    object_id: bytes | None
    label: str | None


def _recorded(uri: str | None) -> dict[str, str | bytes]:
    if not uri:
        return {}
    try:
        return parse_uri(uri)
    except InvalidInput:
        return {}


def held(record: KeyRecord, engine: EngineRecord) -> Held:
    """The token, serial, CKA_ID and label recorded for ``record`` on ``engine``."""
    if engine.type != PKCS11:
        return Held(record.engine_id, None, None, record.key_id.encode("ascii", "replace"), None)
    recorded = _recorded(record.pkcs11_uri)
    token = recorded.get("token") or engine.config.get("token")
    object_id = recorded.get("id") if record.pkcs11_uri else record.key_id.encode("ascii", "replace")
    label = recorded.get("object")
    if label is None and record.native_ref and not record.native_ref.startswith("pkcs11:"):
        label = record.native_ref
    return Held(record.engine_id, token if isinstance(token, str) else None, engine.config.get("serial") or None,
                object_id if isinstance(object_id, bytes) else None, label if isinstance(label, str) else None)


def _same_id(wanted: bytes, key: Held, key_id: str) -> bool:
    """The URI's id is the recorded CKA_ID, or Lamassu's key id (its CKA_ID) as ASCII hex."""
    return wanted == key.object_id or wanted.lower() == key_id.encode("ascii", "replace")


def _same_token(attrs: dict[str, str | bytes], key: Held) -> bool:
    if LAMASSU_ENGINE in attrs and attrs[LAMASSU_ENGINE] != key.engine_id:
        return False
    if "token" in attrs and attrs["token"] != key.token:
        return False
    if "serial" not in attrs:
        return True
    if key.serial is not None:
        return attrs["serial"] == key.serial
    # The engine was registered by label: its serial is not recorded, so a serial
    # names this token only beside a token label that does.
    return "token" in attrs


def matches(attrs: dict[str, str | bytes], record: KeyRecord, key: Held) -> bool:
    """Whether URI attributes name this recorded key."""
    kind = attrs.get("type")
    if kind is not None and (kind not in KEY_TYPES or (kind == "private" and not record.has_private_key)):
        return False
    if not _same_token(attrs, key):
        return False
    wanted = attrs.get("id")
    if isinstance(wanted, bytes) and not _same_id(wanted, key, record.key_id):
        return False
    return "object" not in attrs or attrs["object"] == key.label


def _candidates(store: Store, attrs: dict[str, str | bytes],
                engines: dict[str, EngineRecord]) -> Iterator[tuple[KeyRecord, EngineRecord]]:
    """The recorded keys a URI could name: every key of a PKCS#11 engine, or, in Lamassu's
    form, the keys of the engine it names (found by key id when that engine keeps no token)."""
    named = attrs.get(LAMASSU_ENGINE)
    if isinstance(named, str):
        engine = engines.get(named)
        if engine is None:
            return
        wanted = attrs.get("id")
        if engine.type != PKCS11 and isinstance(wanted, bytes):
            key_id = wanted.decode("ascii", "replace").lower()
            yield from ((r, engine) for r in store.keys_by_key_id(key_id) if r.engine_id == engine.id)
            return
        scanned = [engine] if engine.type == PKCS11 else []
    else:
        scanned = [e for e in engines.values() if e.type == PKCS11]
    for engine in scanned:
        yield from ((r, engine) for r in store.iter_keys_matching(KeyQuery(engine_id=engine.id, sort="key_id")))


def _check_names_a_key(attrs: dict[str, str | bytes]) -> None:
    if "id" not in attrs and "object" not in attrs:
        raise InvalidInput(
            "The pkcs11: URI names no key: it gives neither an id nor an object (label).",
            hint="E.g. pkcs11:token=LABEL;id=%12%34;type=private, or the key's name or key id.",
        )


def _ambiguous(found: list[KeyRecord], attrs: dict[str, str | bytes]) -> AmbiguousReference:
    shown = [f"{r.name!r} on engine {r.engine_id!r}" for r in found[:MAX_CANDIDATES_SHOWN]]
    more = f" and {len(found) - MAX_CANDIDATES_SHOWN} more" if len(found) > MAX_CANDIDATES_SHOWN else ""
    return AmbiguousReference(
        f"The pkcs11: URI ({describe(attrs)}) matches {len(found)} keys: {', '.join(shown)}{more}.",
        hint="Add the token (token=LABEL) or the engine (token-id=ENGINE) to the URI, or use the key's name.",
    )


def _found(store: Store, uri: str, attrs: dict[str, str | bytes]) -> list[KeyRecord]:
    engines = {e.id: e for e in store.list_engines()}
    return [r for r, engine in _candidates(store, attrs, engines)
            if r.pkcs11_uri == uri or matches(attrs, r, held(r, engine))]


def find(store: Store, uri: str) -> list[KeyRecord]:
    """Every recorded key a ``pkcs11:`` URI names (none for a URI that cannot be read)."""
    try:
        attrs = parse_uri(uri)
        _check_names_a_key(attrs)
    except InvalidInput:
        return []
    return _found(store, uri, attrs)


def resolve_uri(store: Store, uri: str) -> KeyRecord | None:
    """The one recorded key a ``pkcs11:`` URI names; None when it names none.

    Raises ``InvalidInput`` for a URI that cannot be read or names no key, and
    ``AmbiguousReference`` (naming the candidates) when it fits several keys.
    """
    attrs = parse_uri(uri)
    _check_names_a_key(attrs)
    found = _found(store, uri, attrs)
    if len(found) > 1:
        raise _ambiguous(found, attrs)
    return found[0] if found else None


def shown(uri: str) -> str:
    """A ``pkcs11:`` reference as a message may show it: what it asks for, never its PIN."""
    try:
        return f"the pkcs11: URI ({describe(parse_uri(uri))})"
    except InvalidInput:
        return "an unreadable pkcs11: URI"


def not_found(uri: str) -> KeyNotFound:
    """"Key not found", saying what a URI looked for (never its PIN)."""
    return KeyNotFound(f"No recorded key matches {shown(uri)}.",
                       hint="Try: kms-tui keys list --filter TEXT (keys show NAME prints a key's URI).")
