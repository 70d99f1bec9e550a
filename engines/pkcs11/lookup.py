"""Finding key pairs on a token: by label, then by id, and their public halves.

Lamassu's layout puts the key id (ASCII hex) in both ``CKA_LABEL`` and ``CKA_ID``;
keys made by other tools carry any label and any id. A reference is resolved the
same way everywhere: a ``pkcs11:`` URI by its attributes; otherwise the private key
whose label is the reference, else the one whose id is the reference's bytes
(Lamassu) or its hex decoding (``pkcs11-tool --id 0102``). The inventory gives each
key its label as reference when that label is unique, else ``pkcs11:id=…``. Every
function takes the shared session and runs under the module lock (``session``).
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .. import algorithms as A
from .. import keys as K
from ..errors import EngineError, KeyNotFoundInEngine, KeyParseError, KmsError
from . import mldsa as M
from . import objects as O
from .uri import build_uri, parse_uri

if TYPE_CHECKING:
    from pkcs11 import Attribute, KeyType, Object, Session

    from .session import Shared

    # Finds the public key objects that may pair with a private one: (session, key type, label, id).
    PublicsOf = Callable[[Session, KeyType, str, bytes], list[Object]]

MAX_REF_CHARS = 1024
ALGORITHM_OF = {"RSA": A.RSA, "EC": A.ECDSA, "EC_EDWARDS": A.ED25519, M.KEY_TYPE_NAME: A.ML_DSA}


class NoPublicHalf(KeyParseError):
    """A private key object without one public key object to derive its key id from."""


@dataclass
class Entry:
    """A private key object with its label and id, as listed."""

    obj: Object
    label: str
    object_id: bytes


def id_candidates(ref: str) -> list[bytes]:
    """CKA_ID values a reference may stand for: its bytes, then its hex decoding."""
    found = [ref.encode("utf-8", "surrogateescape")]
    if len(ref) % 2 == 0 and ref and all(c in string.hexdigits for c in ref):
        raw = bytes.fromhex(ref)
        if raw not in found:
            found.append(raw)
    return found


def not_found(where: str, ref: object) -> KeyNotFoundInEngine:
    shown = repr(ref[:100] if isinstance(ref, str) else ref)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return KeyNotFoundInEngine(f"{where[:1].upper()}{where[1:]} holds no key pair {shown}.")


def _one(found: list[Object], where: str, what: str) -> Object | None:
    if len(found) > 1:
        raise EngineError(f"{len(found)} private keys on {where} match {what}: refer to the key by its pkcs11: URI.")
    return found[0] if found else None


def find_private(shared: Shared, where: str, ref: object) -> Object:
    """The private key object a reference names; ``KeyNotFoundInEngine`` when none."""
    from pkcs11 import Attribute, ObjectClass

    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF_CHARS:
        raise not_found(where, ref)
    session = shared.session
    private: O.Template = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
    try:
        if ref.startswith("pkcs11:"):
            attrs = parse_uri(ref)
            if (attrs.get("token", shared.info.label) != shared.info.label
                    or attrs.get("serial", shared.info.serial) != shared.info.serial
                    or attrs.get("type", "private") != "private" or not ({"object", "id"} & set(attrs))):
                raise not_found(where, ref)
            template = dict(private)
            if "object" in attrs:
                template[Attribute.LABEL] = attrs["object"]
            if "id" in attrs:
                template[Attribute.ID] = attrs["id"]
            found = _one(list(session.get_objects(template)), where, "that URI")
        else:
            found = _one(list(session.get_objects({**private, Attribute.LABEL: ref})), where, f"label {ref[:80]!r}")
            for candidate in id_candidates(ref) if found is None else ():
                found = _one(list(session.get_objects({**private, Attribute.ID: candidate})), where, "that id")
                if found is not None:
                    break
    except UnicodeError:
        found = None
    if found is None:
        raise not_found(where, ref)
    return found


def usable_ref(text: str) -> bool:
    """A label that can serve as a stored reference (stored as text, never read as a URI)."""
    if not text or len(text) > MAX_REF_CHARS or text.startswith("pkcs11:"):
        return False
    try:
        text.encode("utf-8")  # lone surrogates (undecodable label bytes) cannot be stored
    except UnicodeError:
        return False
    return True


def ref_counts(entries: list[Entry]) -> tuple[Counter[str], Counter[bytes]]:
    """How often each label and each id occurs among ``entries`` (for ``ref_for`` over many)."""
    return Counter(e.label for e in entries), Counter(e.object_id for e in entries)


def ref_for(entry: Entry, entries: list[Entry],
            counts: tuple[Counter[str], Counter[bytes]] | None = None) -> str | None:
    """The reference that finds this key again: its label when that is unique, else a
    ``pkcs11:id=…`` URI when its id is (a hex id could later be taken for a label)."""
    labels, ids = counts or ref_counts(entries)
    if usable_ref(entry.label) and labels[entry.label] == 1:
        return entry.label
    if entry.object_id and ids[entry.object_id] == 1:
        return build_uri(None, entry.object_id, None)
    return None


def read_attributes(obj: Object, names: list[Attribute]) -> dict[Attribute, Any]:
    """Attributes of an object; the ones the token does not have are left out."""
    try:
        return obj.get_attributes(names)
    except ValueError:  # python-pkcs11 cannot name a vendor-specific key type or class
        raise KeyParseError("The object has a vendor-specific key type this engine does not know.") from None


def _public_attrs(obj: Object, key_type: str) -> dict[str, Any]:
    from pkcs11 import Attribute

    if key_type == M.KEY_TYPE_NAME:
        return M.public_attrs(obj)
    if key_type == "RSA":
        got = obj.get_attributes([Attribute.MODULUS, Attribute.PUBLIC_EXPONENT])
        return {"modulus": got.get(Attribute.MODULUS), "public_exponent": got.get(Attribute.PUBLIC_EXPONENT)}
    got = obj.get_attributes([Attribute.EC_PARAMS, Attribute.EC_POINT])
    return {"ec_params": got.get(Attribute.EC_PARAMS), "ec_point": got.get(Attribute.EC_POINT)}


def key_id_in(object_id: bytes) -> str | None:
    """The key id an object's CKA_ID names in Lamassu's layout (64 ASCII hex digits), or None."""
    if len(object_id) == 64 and all(c in b"0123456789abcdef" for c in object_id):
        return object_id.decode("ascii")
    return None


def _key_id_of(obj: Object, key_type: str) -> str | None:
    try:
        return K.key_id_of(O.public_key_of(key_type, _public_attrs(obj, key_type)))
    except KmsError:
        return None


def public_objects(session: Session, key_type: KeyType, label: str, object_id: bytes) -> list[Object]:
    """Public key objects that may be this pair's other half: same type and id, else same
    label, else (a pair whose renaming was cut short) the public key the id's key id names."""
    from pkcs11 import Attribute, ObjectClass

    base: O.Template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: key_type}
    found = list(session.get_objects({**base, Attribute.ID: object_id})) if object_id else []
    if not found and label:
        found = list(session.get_objects({**base, Attribute.LABEL: label}))
    wanted = key_id_in(object_id) if not found else None
    if wanted:
        found = [obj for obj in session.get_objects(base) if _key_id_of(obj, key_type.name) == wanted]
    return found


class PublicIndex:
    """Every public key object of a token, read once: ``public_objects`` for many keys.

    A token search is a scan of the token on modules such as SoftHSM, so one search
    per key makes an inventory quadratic; this is one search and one read per object.
    """

    def __init__(self, session: Session):
        from pkcs11 import Attribute, ObjectClass

        self.by_id: dict[tuple[KeyType | None, bytes], list[Object]] = {}
        self.by_label: dict[tuple[KeyType | None, str], list[Object]] = {}
        self._all: list[tuple[KeyType | None, Object]] = []
        self._by_key_id: dict[str, list[Object]] | None = None  # read only if some pair needs it
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY}):
            try:
                got = obj.get_attributes([Attribute.KEY_TYPE, Attribute.ID, Attribute.LABEL])
            except ValueError:  # a vendor-specific key type: no pair of ours
                continue
            key_type: KeyType | None = got.get(Attribute.KEY_TYPE)
            self._all.append((key_type, obj))
            if got.get(Attribute.ID):
                self.by_id.setdefault((key_type, got[Attribute.ID]), []).append(obj)
            if got.get(Attribute.LABEL):
                self.by_label.setdefault((key_type, got[Attribute.LABEL]), []).append(obj)

    def __call__(self, session: Session, key_type: KeyType, label: str, object_id: bytes) -> list[Object]:
        """As ``public_objects``: same type and id, else same type and label, else by key id."""
        found = list(self.by_id.get((key_type, object_id), ())) if object_id else []
        if not found and label:
            found = list(self.by_label.get((key_type, label), ()))
        wanted = key_id_in(object_id) if not found else None
        if wanted:
            if self._by_key_id is None:
                self._by_key_id = {}
                for kind, obj in self._all:
                    key_id = _key_id_of(obj, kind.name) if kind is not None and kind.name in ALGORITHM_OF else None
                    if key_id:
                        self._by_key_id.setdefault(key_id, []).append(obj)
            found = list(self._by_key_id.get(wanted, ()))
        return found


def describe_private(session: Session, obj: Object, publics_of: PublicsOf | None = None
                     ) -> tuple[str, int, K.PublicKey, str, bytes, list[Object]]:
    """(algorithm, size, public key, label, id, public objects of the pair) of a private key object.

    ``publics_of`` finds the public objects (``public_objects``, or a ``PublicIndex``).
    """
    from pkcs11 import Attribute

    got = read_attributes(obj, [Attribute.KEY_TYPE, Attribute.LABEL, Attribute.ID, Attribute.EC_PARAMS])
    key_type = got[Attribute.KEY_TYPE]
    label, object_id = got.get(Attribute.LABEL, ""), got.get(Attribute.ID, b"")
    if key_type.name not in ALGORITHM_OF:
        raise KeyParseError(f"Keys of PKCS#11 type {key_type.name} are not supported.")
    publics = (publics_of or public_objects)(session, key_type, label, object_id)
    public_key: K.PublicKey | None = None
    if key_type.name == "RSA":  # the private object carries the public parts too
        attrs = _public_attrs(obj, "RSA")
        if attrs["modulus"] and attrs["public_exponent"]:
            public_key = O.public_key_of("RSA", attrs)
    if public_key is None:
        wanted = got.get(Attribute.EC_PARAMS)
        distinct: dict[bytes, K.PublicKey] = {}
        for candidate in publics:
            attrs = _public_attrs(candidate, key_type.name)
            if key_type.name == "EC" and wanted is not None and attrs["ec_params"] != wanted:
                continue  # another curve's key under the same id is not this pair's half
            try:
                decoded = O.public_key_of(key_type.name, attrs)
            except KmsError:
                continue
            distinct[K.spki_der(decoded)] = decoded
        if len(distinct) != 1:
            raise NoPublicHalf(f"The private key {label[:80]!r} has {'no' if not distinct else 'an ambiguous'} "
                                "public key object on the token, so its key id cannot be derived.")
        public_key = next(iter(distinct.values()))
    algorithm, size = K.describe(public_key)
    mine = [p for p in publics if _same_public(p, key_type.name, public_key)]
    return algorithm, size, public_key, label, object_id, mine


def holds_public_key(obj: Object, public_key: PublicKeyTypes) -> bool:
    """Whether a public key object holds this ``cryptography`` public key."""
    from pkcs11 import Attribute

    try:
        key_type = read_attributes(obj, [Attribute.KEY_TYPE])[Attribute.KEY_TYPE]
    except (KmsError, KeyError):
        return False
    return key_type.name in ALGORITHM_OF and _same_public(obj, key_type.name, public_key)


def _same_public(obj: Object, key_type: str, public_key: PublicKeyTypes) -> bool:
    try:
        return K.spki_der(O.public_key_of(key_type, _public_attrs(obj, key_type))) == K.spki_der(public_key)
    except KmsError:  # an unreadable object is not this pair's public half
        return False
