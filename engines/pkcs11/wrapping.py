"""Backup wrapping on a PKCS#11 token: keys that leave it only wrapped, and their way back in.

A key made with a backup policy is ``EXTRACTABLE`` + ``WRAP_WITH_TRUSTED`` + ``SENSITIVE``:
the token wraps it only under a key the security officer marked ``TRUSTED``, never hands it
out in clear. A wrap (``wrap``) therefore logs the user out of the token (PKCS#11 allows no
security officer login while the user is logged in), lets the security officer put the
backup's key-encryption key (KEK) on the token as a trusted public object, logs the user in
again, wraps with ``CKM_AES_KEY_WRAP_PAD`` (RFC 5649 on SoftHSM2) and destroys the KEK; one a
crash leaves behind is what ``leftover_keks`` lists. The token wraps the PKCS#8
PrivateKeyInfo DER; SoftHSM2 2.6.1 pads it with zero bytes to a multiple of 8 before the
RFC 5649 wrap, so a reader takes the DER by its own length. ``unwrap_private`` brings a
wrapped key back as a sensitive, non-extractable token object through a session KEK.

python-pkcs11 is imported inside functions only. Messages never hold a PIN or a key.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .. import algorithms as A
from .. import keys as K
from ..errors import EngineAuthError, EngineError, InvalidInput, KmsError, OperationNotSupported
from . import errors as PE
from . import lookup as L
from . import objects as O

if TYPE_CHECKING:
    from pkcs11 import Key, KeyType, Mechanism, Object, Session
    from pkcs11.types import UnwrapMixin, WrapMixin

    from .module import Module, TokenInfo
    from .session import Shared, TokenLink

log = logging.getLogger("engines.pkcs11")

KEK_PREFIX = "kms-tui-backup-kek-"
KEK_BYTES = 32
# Cryptoki 2.40 defines no wrapping of EdDSA keys; SoftHSM2 2.6.1 refuses it (KeyNotWrappable).
EDDSA_WRAP_VERSION = (3, 0)


class OfficerPinRefused(EngineAuthError):
    title = "Security officer PIN refused"


class NotWrappable(OperationNotSupported):
    """A key that can never leave its token: made without a backup policy."""

    title = "Key cannot be backed up"


class WrapRefused(EngineError):
    title = "Token refused the wrap"


class WrappedKeyRefused(InvalidInput):
    """Wrapped key material that does not open under the key-encryption key given."""

    title = "Wrapped key does not open"


def check_kek(kek: object) -> bytes:
    if not isinstance(kek, bytes) or len(kek) != KEK_BYTES:
        raise InvalidInput("A backup key-encryption key is 32 bytes (AES-256).")
    return kek


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


# ---------------------------------------------------------------- what a token can wrap


def wrappable_flags() -> O.Template:
    """What a private key template adds for a key with a backup policy."""
    from pkcs11 import Attribute

    return {Attribute.EXTRACTABLE: True, Attribute.WRAP_WITH_TRUSTED: True, Attribute.SENSITIVE: True}


def check_algorithm(module: Module, algorithm: str, where: str, *, restore: bool = False) -> None:
    """Refuse a key type this module's Cryptoki version defines no wrapping for, and ML-DSA
    (PKCS#11 3.2 keys, which kms-tui neither wraps nor restores on a token)."""
    if algorithm == A.ML_DSA:
        raise NotWrappable(f"{where[:1].upper()}{where[1:]}: kms-tui does not back up or restore ML-DSA keys of "
                           "a PKCS#11 token.", hint="Keep an ML-DSA key that must be backed up in a software, "
                           "Vault or Secrets Manager engine.")
    version = tuple(module.lib.cryptoki_version)
    if algorithm == A.ED25519 and version < EDDSA_WRAP_VERSION:
        shown = ".".join(str(part) for part in version)
        if restore:
            raise NotWrappable(
                f"{where[:1].upper()}{where[1:]} speaks Cryptoki {shown}, which defines no wrapping of Ed25519 "
                "keys: a wrapped Ed25519 key cannot be restored there.",
                hint="Restore it into a software, Vault or Secrets Manager engine.")
        raise NotWrappable(
            f"{where[:1].upper()}{where[1:]} speaks Cryptoki {shown}, which defines no wrapping of Ed25519 keys: "
            "an Ed25519 key there could never be backed up.",
            hint="Make an ECDSA or RSA key for a key that must be backed up.")


def wrap_mechanism(shared: Shared, where: str) -> Mechanism:
    from pkcs11 import Mechanism

    if Mechanism.AES_KEY_WRAP_PAD not in shared.mechanisms:
        raise PE.MechanismNotSupported(f"{where[:1].upper()}{where[1:]} has no CKM_AES_KEY_WRAP_PAD mechanism: "
                                       "it cannot wrap keys for a backup.")
    return Mechanism.AES_KEY_WRAP_PAD


def wrappable_key(shared: Shared, where: str, ref: str) -> Object:
    """The private key at ``ref``, refused unless it was made with a backup policy."""
    from pkcs11 import Attribute

    obj = L.find_private(shared, where, ref)
    got = L.read_attributes(obj, [Attribute.EXTRACTABLE, Attribute.WRAP_WITH_TRUSTED])
    if not got.get(Attribute.EXTRACTABLE) or not got.get(Attribute.WRAP_WITH_TRUSTED):
        why = "not extractable" if not got.get(Attribute.EXTRACTABLE) else "not bound to trusted wrapping keys"
        raise NotWrappable(
            f"The key {ref[:80]!r} on {where} was made without a backup policy ({why}): it can never leave "
            "the token, not even wrapped.",
            hint="Only keys created with a backup policy (--backup M-of-N) can be backed up.")
    return obj


# ---------------------------------------------------------------- the wrap


def wrap(link: TokenLink, ref: str, kek: bytes, officer_pin: str | None) -> bytes:
    """``ref``'s private key wrapped under ``kek`` by the token, through a trusted KEK object."""
    check_kek(kek)
    if not officer_pin:
        raise OfficerPinRefused("A backup on a PKCS#11 token needs the security officer's PIN.")
    module = link.module()
    with module.lock:
        info = link.run("find the key to back up", lambda shared: _ready(shared, link.where, ref))
        where = link.where
        _log_out(module, link)
        try:
            label = _put_kek(info, where, kek, officer_pin)
            try:
                return link.run("wrap a key for a backup", lambda shared: wrap_under(shared, where, ref, label),
                                retry=False)
            finally:
                _remove_kek(link, info, label, officer_pin)
        finally:
            try:
                link.run("open a session", lambda shared: None)
            except KmsError as exc:
                log.warning("The user session of %s did not reopen after a backup: %s", where, exc.message)


def _ready(shared: Shared, where: str, ref: str) -> TokenInfo:
    wrap_mechanism(shared, where)
    wrappable_key(shared, where, ref)
    return shared.info


def _log_out(module: Module, link: TokenLink) -> None:
    """Close the token's shared user session (which logs the user out); the next ``link.run``
    opens a new one, and every other link of the token re-attaches to that one."""
    key = link.session_key
    shared = module.sessions.pop(key, None) if key is not None else None
    if shared is None:
        return
    try:
        shared.session.close()
    except Exception as exc:  # a session already gone is logged out
        log.info("closing the session of %r before a backup: %s", shared.info.label, type(exc).__name__)


@contextlib.contextmanager
def _officer(info: TokenInfo, where: str, officer_pin: str) -> Iterator[Session]:
    """A read-write session of the security officer, logged out and closed after."""
    try:
        session = info.token.open(rw=True, so_pin=officer_pin)
    except Exception as exc:
        raise _officer_error(exc, where) from None
    try:
        yield session
    finally:
        try:
            session.close()
        except Exception as exc:
            log.warning("closing the security officer session of %s: %s", where, type(exc).__name__)


def _officer_error(exc: Exception, where: str) -> Exception:
    names = _names(exc)
    if names & {"PinIncorrect", "PinInvalid", "PinLenRange"}:
        return OfficerPinRefused(f"The security officer PIN of {where} was refused.",
                                 hint="Check the security officer's PIN; nothing was wrapped.")
    if "PinLocked" in names:
        return OfficerPinRefused(f"The security officer PIN of {where} is locked.")
    if names & {"AnotherUserAlreadyLoggedIn", "UserAnotherAlreadyLoggedIn", "UserAlreadyLoggedIn",
                "UserTooManyTypes", "SessionReadOnlyExists"}:
        return EngineError(f"The security officer cannot log in to {where}: another session of this process is "
                           "logged in to it.", hint="Close other programs or engines using the token and try again.")
    return PE.translate(exc, where, "log in as security officer")


def _put_kek(info: TokenInfo, where: str, kek: bytes, officer_pin: str) -> str:
    """The security officer puts ``kek`` on the token as a trusted wrapping key; its label."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    label = KEK_PREFIX + secrets.token_hex(8)
    template: O.Template = {
        Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.VALUE: kek,
        Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.TRUSTED: True, Attribute.WRAP: True,
        Attribute.UNWRAP: False, Attribute.ENCRYPT: False, Attribute.DECRYPT: False, Attribute.DERIVE: False,
        Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.LABEL: label,
    }
    with _officer(info, where, officer_pin) as session:
        try:
            session.create_object(template)
        except Exception as exc:
            raise PE.translate(exc, where, "store the backup's wrapping key") from None
    return label


def wrap_under(shared: Shared, where: str, ref: str, label: str) -> bytes:
    from pkcs11 import ObjectClass

    mechanism = wrap_mechanism(shared, where)
    key = wrappable_key(shared, where, ref)
    # A secret key object made with CKA_WRAP: python-pkcs11 gives it the wrap method.
    kek = cast("WrapMixin", shared.session.get_key(object_class=ObjectClass.SECRET_KEY, label=label))
    try:
        return bytes(kek.wrap_key(cast("Key", key), mechanism=mechanism))
    except Exception as exc:
        if _names(exc) & {"KeyNotWrappable", "KeyUnextractable", "WrappingKeyHandleInvalid"}:
            raise WrapRefused(f"{where[:1].upper()}{where[1:]} refused to wrap the key {ref[:80]!r} "
                              f"({type(exc).__name__}): it wraps it only under a key its security officer "
                              "marked trusted.") from None
        raise


def destroy_keks(shared: Shared, label: str | None = None) -> int:
    """Destroy the backup KEK labelled ``label`` (every leftover one when None); how many went."""
    gone = 0
    for obj in _kek_objects(shared.session, label):
        obj.destroy()
        gone += 1
    return gone


def _remove_kek(link: TokenLink, info: TokenInfo, label: str, officer_pin: str) -> None:
    """Destroy the KEK: as the user (a public object in a read-write session), else as the officer."""
    where = link.where
    try:
        link.run("destroy the backup's wrapping key", lambda shared: destroy_keks(shared, label), retry=False)
        return
    except KmsError as exc:
        log.info("The user could not destroy %s on %s (%s): the security officer does.", label, where, exc.message)
    module = link.module()
    _log_out(module, link)
    try:
        with _officer(info, where, officer_pin) as session:
            for obj in _kek_objects(session, label):
                obj.destroy()
    except Exception as exc:
        log.warning("The backup wrapping key %s stayed on %s (%s): kms-tui doctor lists it.", label, where,
                    type(exc).__name__)


def _kek_objects(session: Session, label: str | None) -> list[Object]:
    from pkcs11 import Attribute, ObjectClass

    template: O.Template = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.TOKEN: True}
    if label is not None:
        template[Attribute.LABEL] = label
    found = []
    for obj in session.get_objects(template):
        named = obj.get_attributes([Attribute.LABEL]).get(Attribute.LABEL, "")
        if isinstance(named, str) and named.startswith(KEK_PREFIX):
            found.append(obj)
    return found


def leftover_keks(shared: Shared) -> list[str]:
    """Labels of backup KEK objects on the token (public objects: the user session sees them)."""
    from pkcs11 import Attribute

    return sorted(str(obj.get_attributes([Attribute.LABEL])[Attribute.LABEL])
                  for obj in _kek_objects(shared.session, None))


# ---------------------------------------------------------------- the way back


def key_type_of(public_key: K.PublicKey) -> KeyType:
    from pkcs11 import KeyType

    if isinstance(public_key, rsa.RSAPublicKey):
        return KeyType.RSA
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return KeyType.EC
    return KeyType.EC_EDWARDS


def public_template(public_key: K.PublicKey, label: str, object_id: bytes) -> O.Template:
    """A token public key object holding ``public_key``, named like a created key's."""
    from pkcs11 import Attribute, ObjectClass

    template: O.Template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: key_type_of(public_key),
                            **O.public_flags(label, object_id)}
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        template[Attribute.MODULUS] = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        template[Attribute.PUBLIC_EXPONENT] = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        template[Attribute.EC_PARAMS] = O.EC_PARAMS_BY_SIZE[A.SIZE_BY_CURVE[public_key.curve.name]]
        template[Attribute.EC_POINT] = O.der_octet_string(point)
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        template[Attribute.EC_PARAMS] = O.ED25519_PARAMS
        template[Attribute.EC_POINT] = O.der_octet_string(
            public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    return template


def unwrap_template(key_type: KeyType, label: str, object_id: bytes) -> O.Template:
    """The explicit minimal template of a restored private key: python-pkcs11's default one adds
    every capability attribute, which SoftHSM2 refuses on a private key (AttributeTypeInvalid)."""
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.constants import DEFAULT

    dropped = (Attribute.ENCRYPT, Attribute.DECRYPT, Attribute.WRAP, Attribute.UNWRAP, Attribute.VERIFY,
               Attribute.DERIVE)
    return {
        **{attribute: DEFAULT for attribute in dropped},
        Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: key_type, Attribute.TOKEN: True,
        Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True,
        Attribute.ID: object_id, Attribute.LABEL: label,
    }


def unwrap_private(shared: Shared, where: str, wrapped: bytes, kek: bytes, public_key: K.PublicKey,
                   label: str, object_id: bytes) -> Object:
    """The private key of ``wrapped`` as a token object, through a session KEK destroyed after."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    check_kek(kek)
    if not isinstance(wrapped, bytes) or len(wrapped) < 16 or len(wrapped) % 8:
        raise WrappedKeyRefused("The wrapped key is not RFC 5649 wrapped data (a multiple of 8 bytes, at least 16).")
    mechanism = wrap_mechanism(shared, where)
    key_type = key_type_of(public_key)
    made = shared.session.create_object({
        Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.VALUE: kek,
        Attribute.TOKEN: False, Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
        Attribute.UNWRAP: True, Attribute.WRAP: False, Attribute.ENCRYPT: False, Attribute.DECRYPT: False,
        Attribute.DERIVE: False,
    })
    unwrapping = cast("UnwrapMixin", made)  # a secret key object made with CKA_UNWRAP
    try:
        return unwrapping.unwrap_key(ObjectClass.PRIVATE_KEY, key_type, wrapped, mechanism=mechanism, store=True,
                                     template=unwrap_template(key_type, label, object_id))
    except Exception as exc:
        # SoftHSM2 answers a failed RFC 5649 integrity check with CKR_GENERAL_ERROR.
        if _names(exc) & {"WrappedKeyInvalid", "WrappedKeyLenRange", "EncryptedDataInvalid", "GeneralError",
                          "EncryptedDataLenRange", "DataInvalid", "DataLenRange", "FunctionFailed"}:
            raise WrappedKeyRefused(f"The wrapped key does not open under this backup's key on {where} "
                                    f"({type(exc).__name__}): the wrapped data or the key is not the backup's, "
                                    "or the token cannot read a key of this type.") from None
        raise
    finally:
        with contextlib.suppress(Exception):
            made.destroy()
