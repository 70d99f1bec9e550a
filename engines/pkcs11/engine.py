"""PKCS#11 engine (Lamassu ``PKCS11``): key pairs on an HSM token through python-pkcs11.

Layout, as Lamassu keeps it: a token chosen by label (or serial); each key is a
private and a public object with ``CKA_ID`` = ``CKA_LABEL`` = the ASCII hex key id;
generated private keys are ``SENSITIVE``, not ``EXTRACTABLE``, ``SIGN`` only (a key made
with a backup policy leaves the token only wrapped under a trusted key: ``wrapping``). Keys
made by other tools (any label, any id) are listed and used too; the key id is
always derived from the public key. Supported key types come from the token's
mechanisms. All token access goes through one shared, logged-in session per token
(``session``, over the modules of ``module``); key look-up is in
``lookup``, key material in ``objects``, URIs in ``uri``.
Tested on SoftHSM2; written for any conforming module.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .. import algorithms as A
from .. import keys as K
from ..base import Capabilities, EngineDriver, NativeKey, OptionSpec, SecretSpec
from ..errors import EngineConfigError, KmsError, OperationNotSupported, UnsupportedKeyType
from . import certs as C
from . import errors as PE
from . import lookup as L
from . import mldsa as M
from . import objects as O
from . import wrapping as W
from .module import load_module
from .session import Shared, TokenLink
from .uri import build_uri, parse_uri

if TYPE_CHECKING:
    from pkcs11 import Object
    from pkcs11.types import SignMixin

log = logging.getLogger("engines.pkcs11")
# What a token answers C_CopyObject when it cannot copy a key to a token object at all:
# the module has no C_CopyObject, or will not let a copy change CKA_TOKEN, CKA_LABEL or
# CKA_ID. Any other failure is an error of that one key, not a reason to stop copying
# (the rename path is the one a crash can leave half-made).
_COPY_REFUSED = frozenset({"FunctionNotSupported", "AttributeReadOnly"})

__all__ = ["Pkcs11Engine", "build_uri", "parse_uri"]


@dataclass(frozen=True)
class _Prepared:
    """What a signature needs besides the data: found once per batch."""

    shared: Shared
    obj: SignMixin
    plan: O.SignPlan
    sig_alg: A.SigningAlgorithm
    message_type: A.MessageType
    pin: str | None
    digest_size: int | None  # what a DIGEST message must measure
    session_key: tuple[str, str] = ("", "")  # the link's key of ``shared`` in its module's sessions when the key was found

    @property
    def digest_prefix(self) -> bytes | None:
        """What goes before a DIGEST of the right length (b"" when the token signs it as it is);
        None when ``payload`` must make the payload (a RAW message is hashed here, or signed whole)."""
        plan = self.plan
        if self.message_type is not A.MessageType.DIGEST or not plan.prehash:
            return None
        return O.DIGEST_INFO[self.sig_alg.digest_hash()] if plan.digest_info else b""

    def payload(self, data: bytes) -> bytes:
        """What the mechanism signs: the message, its digest, or the digest in a DigestInfo."""
        plan = self.plan
        if not plan.prehash:
            return data
        hash_name = self.sig_alg.digest_hash()
        if self.message_type is A.MessageType.RAW:
            payload = hashlib.new(hash_name, data).digest()
        elif len(data) != self.digest_size:
            A.prepare_digest(self.sig_alg, data, self.message_type)  # raises the typed length error
        else:
            payload = data
        return O.DIGEST_INFO[hash_name] + payload if plan.digest_info else payload


class Pkcs11Engine(EngineDriver):
    TYPE = "PKCS11"
    DISPLAY = "PKCS#11 HSM"
    PROVIDER = "PKCS#11 token"
    SECURITY_LEVEL = 2
    OPTIONS = (
        OptionSpec("module", "path of the vendor's PKCS#11 library (.so)", required=True),
        OptionSpec("token", "label of the token (registration lists the tokens the module shows)"),
        OptionSpec("serial", "serial number of the token: instead of the label, or to pick one of several"),
    )
    SECRET = SecretSpec("user PIN")
    CAPABILITIES = Capabilities(can_create=True, can_import=True, can_import_public=False, can_delete=True,
                                native_verify=False)
    BACKUP_WRAP = True
    BACKUP_NEEDS_OFFICER = True
    DELETE_NOTICE = ("A PKCS#11 token destroys key objects at once: the deletion is immediate, with no "
                     "pending window, and cannot be undone.")

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        super().__init__(engine_id, options, secret)
        if secret is None:  # never: the PIN is a required secret, refused above when missing
            raise EngineConfigError(f"Engine {engine_id!r} needs its user PIN.")
        self._link = TokenLink(self.options["module"], self.options.get("token"), self.options.get("serial"), secret)
        self._skipped: list[tuple[str, str, str]] | None = None  # what the latest inventory skipped

    def __repr__(self) -> str:
        return f"Pkcs11Engine({self.engine_id!r}, {self._link!r})"

    # --- configuration ---------------------------------------------------

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        options = {k: (v.strip() if isinstance(v, str) else v) for k, v in options.items()}
        if options.get("module"):
            # Stored absolute: the CLI and the TUI may run from other directories later.
            options["module"] = os.path.abspath(os.path.expanduser(options["module"]))
        checked = super().validate_options(options)
        if not checked.get("token") and not checked.get("serial"):
            raise EngineConfigError(
                "A PKCS#11 engine needs its token's label (option token) or serial number (option serial).",
                hint="List the tokens with: kms-tui engines discover PKCS11 --option module=PATH",
            )
        return checked

    @classmethod
    def option_choices(cls, options: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        module = str((options or {}).get("module") or "").strip()
        if not module:
            return {}
        tokens = load_module(module).tokens(rescan=True)
        return {"token": [
            {"value": t.label, "label": t.label, "serial": t.serial, "manufacturer": t.manufacturer,
             "model": t.model, "initialized": t.initialized}
            for t in tokens
        ]}

    # --- facts -----------------------------------------------------------

    def check(self) -> None:
        self._link.run("open a session", lambda shared: None)

    def supported_key_types(self) -> dict[str, tuple[int, ...]]:
        return self._link.run("list its mechanisms", O.supported_key_types)

    # --- keys ------------------------------------------------------------

    def _native(self, shared: Shared, ref: str, public_key: K.PublicKey, label: str,
                object_id: bytes) -> NativeKey:
        algorithm, size = K.describe(public_key)
        return NativeKey(
            ref=ref, key_id=K.key_id_of(public_key), public_key=public_key, algorithm=algorithm, size=size,
            pkcs11_uri=build_uri(shared.info.label, object_id, label),
            extra={"label": label, "id": object_id.hex(), "token": shared.info.label},
        )

    def get(self, ref: str) -> NativeKey:
        def read(shared: Shared) -> NativeKey:
            obj = L.find_private(shared, self._link.where, ref)
            _, _, public_key, label, object_id, _ = L.describe_private(shared.session, obj)
            return self._native(shared, ref, public_key, label, object_id)

        return self._link.run("read a key", read)

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        """Every key pair on the token whose public key is known; others are logged and skipped."""
        yield from self._link.run("list its keys", self._inventory)

    def unusable(self) -> list[tuple[str, str, str]]:
        """Private key objects the latest inventory skipped: their key id cannot be derived
        (no public half, e.g. a token write cut short), or their label and id are shared."""
        if self._skipped is None:
            self._link.run("list its keys", self._inventory)
        return list(self._skipped or ())

    def _inventory(self, shared: Shared) -> list[NativeKey]:
        from pkcs11 import Attribute, ObjectClass

        entries: list[L.Entry] = []
        skipped: list[tuple[str, str, str]] = []
        for obj in list(shared.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})):
            got = obj.get_attributes([Attribute.LABEL, Attribute.ID])
            entries.append(L.Entry(obj, got.get(Attribute.LABEL, ""), got.get(Attribute.ID, b"")))
        found: list[NativeKey] = []
        counts, publics = L.ref_counts(entries), L.PublicIndex(shared.session)  # one token search, not one per key
        for entry in entries:
            ref = L.ref_for(entry, entries, counts)
            try:
                if ref is None:
                    raise UnsupportedKeyType("its label and id are shared with other keys or unusable")
                _, _, public_key, label, object_id, _ = L.describe_private(shared.session, entry.obj, publics)
            except KmsError as exc:
                why = getattr(exc, "message", type(exc).__name__)
                log.warning("Skipped private key %r (id %s) on %s: %s", entry.label[:80], entry.object_id.hex()[:64],
                            self._link.where, why)
                shown = f"private key object {entry.label[:80]!r} (id {entry.object_id.hex()[:64] or 'none'})"
                todo = ("Look at it with pkcs11-tool --list-objects; if no one needs it, delete it with "
                        "pkcs11-tool --login --delete-object --type privkey"
                        + (f" --id {entry.object_id.hex()}" if entry.object_id else "") + ".")
                skipped.append((shown, why, todo))
                continue
            found.append(self._native(shared, ref, public_key, label, object_id))
        self._skipped = skipped
        return found

    def create(self, algorithm: str, size: int) -> NativeKey:
        return self._create(algorithm, size, wrappable=False)

    def create_wrappable(self, algorithm: str, size: int) -> NativeKey:
        """Like ``create``, with a private key that leaves the token only wrapped under a key its
        security officer marked trusted (EXTRACTABLE, WRAP_WITH_TRUSTED, SENSITIVE)."""
        W.check_algorithm(self._link.module(), A.normalise_algorithm(algorithm), self._link.where)
        return self._create(algorithm, size, wrappable=True)

    def _create(self, algorithm: str, size: int, *, wrappable: bool) -> NativeKey:
        algorithm = A.normalise_algorithm(algorithm)
        supported = self.supported_key_types()
        if algorithm in O.MECHANISMS and algorithm not in supported:
            missing = self._link.run("list its mechanisms", lambda shared: O.missing_mechanism(shared, algorithm))
            raise PE.KeyTypeNotOnToken(
                f"{self._where()} has no {missing or 'suitable'} mechanism: it cannot create {algorithm} keys.",
                hint="It supports: " + (", ".join(supported) or "no key type") + ".")
        algorithm, size = A.validate_spec(algorithm, size, supported)
        return self._link.run(f"create a {algorithm} {size} key",
                              lambda shared: self._generate(shared, algorithm, size, wrappable=wrappable), retry=False)

    def _where(self) -> str:
        where = self._link.where
        return where[:1].upper() + where[1:]

    def _generate(self, shared: Shared, algorithm: str, size: int, *, wrappable: bool = False) -> NativeKey:
        """Generate a pair and store it under Lamassu's label and id (the key id).

        The key id is known only once the public key exists. So the pair is generated
        as session objects (they vanish with the session: a killed process leaves
        nothing) and copied to the token already named, the public object first and
        the private one last. The token never holds a private key without its public
        half, and no object is rewritten (SoftHSM2 rewrites an object's file in place:
        a kill during that write loses the object). A token that refuses to copy
        objects gets the pair generated on it and renamed instead (``_generate_renamed``).
        """
        if shared.copy_refused:
            return self._generate_renamed(shared, algorithm, size, wrappable=wrappable)
        from pkcs11 import Attribute
        from pkcs11.exceptions import PKCS11Error

        pub, priv = self._generate_pair(shared, algorithm, size, store=False, wrappable=wrappable)
        try:
            public_key, key_id = self._named(shared, priv)
            final: O.Template = {Attribute.TOKEN: True, Attribute.ID: key_id.encode("ascii"),
                                 Attribute.LABEL: key_id}
            try:
                stored = pub.copy(final)
            except PKCS11Error as exc:
                if type(exc).__name__ not in _COPY_REFUSED:
                    raise
                log.info("%s refused to copy a key (%s): keys are generated on it and renamed.",
                         self._where(), type(exc).__name__)
                shared.copy_refused = True
            else:
                try:
                    priv.copy(final)
                except BaseException:
                    with contextlib.suppress(Exception):
                        stored.destroy()
                    raise
                return self._native(shared, key_id, public_key, key_id, key_id.encode("ascii"))
        finally:
            for obj in (priv, pub):
                with contextlib.suppress(Exception):
                    obj.destroy()
        return self._generate_renamed(shared, algorithm, size, wrappable=wrappable)

    def _generate_renamed(self, shared: Shared, algorithm: str, size: int, *, wrappable: bool = False) -> NativeKey:
        """Generate the pair on the token under a placeholder, then rename it: the private
        object first, so a pair cut short between any two writes is still found (same id,
        else same label, else its id names the public key's key id: ``lookup``)."""
        from pkcs11 import Attribute

        pub, priv = self._generate_pair(shared, algorithm, size, store=True, wrappable=wrappable)
        try:
            public_key, key_id = self._named(shared, priv)
            for obj in (priv, pub):
                obj[Attribute.ID] = key_id.encode("ascii")
                obj[Attribute.LABEL] = key_id
        except BaseException:
            for obj in (priv, pub):
                with contextlib.suppress(Exception):
                    obj.destroy()
            raise
        return self._native(shared, key_id, public_key, key_id, key_id.encode("ascii"))

    @staticmethod
    def _generate_pair(shared: Shared, algorithm: str, size: int, *, store: bool,
                       wrappable: bool = False) -> tuple[Object, Object]:
        """(public, private) objects of a new pair under a unique placeholder label and id;
        with ``wrappable``, a private key that leaves the token only wrapped under a trusted key."""
        from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag

        placeholder = f"kms-tui-pending-{secrets.token_hex(8)}"
        pub_extra: O.Template = {}
        key_length: int | None = None
        if algorithm == A.RSA:
            key_type, mechanism, key_length = KeyType.RSA, Mechanism.RSA_PKCS_KEY_PAIR_GEN, size
        elif algorithm == A.ECDSA:
            key_type, mechanism = KeyType.EC, Mechanism.EC_KEY_PAIR_GEN
            pub_extra = {Attribute.EC_PARAMS: O.EC_PARAMS_BY_SIZE[size]}
        elif algorithm == A.ML_DSA:  # PKCS#11 3.2, untested here (``mldsa``)
            key_type, mechanism = KeyType(M.CKK_ML_DSA), Mechanism(M.CKM_ML_DSA_KEY_PAIR_GEN)
            pub_extra = M.generation(size)
        else:
            key_type, mechanism = KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN
            pub_extra = {Attribute.EC_PARAMS: O.ED25519_PARAMS}
        where: O.Template = {Attribute.TOKEN: store}
        backup: O.Template = W.wrappable_flags() if wrappable else {}
        return shared.session.generate_keypair(
            key_type, key_length, store=store, mechanism=mechanism,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template={**O.public_flags(placeholder, placeholder.encode()), **pub_extra, **where},
            private_template={**O.private_flags(placeholder, placeholder.encode()), **where, **backup},
        )

    def _named(self, shared: Shared, priv: Object) -> tuple[K.PublicKey, str]:
        """(public key, key id) of a new pair, refusing a key id the token already uses."""
        _, _, public_key, _, _, _ = L.describe_private(shared.session, priv)
        key_id = K.key_id_of(public_key)
        self._refuse_taken(shared, key_id)
        return public_key, key_id

    def _refuse_taken(self, shared: Shared, key_id: str, public_key: K.PublicKey | None = None) -> list[Object]:
        """Refuse a key id some object already uses as label or id; except, when
        ``public_key`` is given, public objects holding that very key (the public half an
        interrupted import wrote first), which are returned to be used again."""
        from pkcs11 import Attribute, ObjectClass

        taken: dict[int | None, Object] = {}
        templates: tuple[O.Template, ...] = ({Attribute.LABEL: key_id}, {Attribute.ID: key_id.encode("ascii")})
        for template in templates:
            for obj in shared.session.get_objects(template):
                taken[obj.handle] = obj
        reusable = [obj for obj in taken.values() if public_key is not None
                    and obj.object_class == ObjectClass.PUBLIC_KEY and L.holds_public_key(obj, public_key)]
        if len(reusable) < len(taken):
            raise PE.KeyExists(f"{self._where()} already holds objects labelled or identified {key_id}.")
        return reusable

    def import_key(self, key: K.ParsedKey) -> NativeKey:
        private = key.private_key
        if private is None:
            raise OperationNotSupported(
                "A PKCS#11 engine holds key pairs only; a public key is kept as a public-key-only entry.")
        if key.algorithm not in O.MECHANISMS:
            raise UnsupportedKeyType(f"A PKCS#11 engine cannot hold {key.algorithm} keys.")
        return self._link.run(f"import a {key.algorithm} key", lambda shared: self._import(shared, key, private),
                              retry=False)

    def _import(self, shared: Shared, key: K.ParsedKey, private: K.PrivateKey) -> NativeKey:
        missing = O.missing_mechanism(shared, key.algorithm, create=False)
        if missing:
            raise PE.KeyTypeNotOnToken(f"{self._where()} has no {missing} mechanism: an imported {key.algorithm} "
                                       "key could not sign there.")
        key_id = key.key_id
        leftover = self._refuse_taken(shared, key_id, key.public_key)
        private_template, public_template = O.import_templates(private, key_id, key_id.encode("ascii"))
        # The public object first: a kill between the two writes leaves a public key
        # alone (used again by the retried import), never a private key without its half.
        pub = None if leftover else shared.session.create_object(public_template)
        try:
            shared.session.create_object(private_template)
        except BaseException:
            if pub is not None:
                with contextlib.suppress(Exception):
                    pub.destroy()
            raise
        finally:
            del private_template  # the key material lives only for this call
        return self._native(shared, key_id, key.public_key, key_id, key_id.encode("ascii"))

    def sign(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType) -> bytes:
        A.check_message(sig_alg, data, message_type)
        return self._link.run(f"sign with {sig_alg.name}", lambda shared: self._sign(shared, ref, sig_alg, data,
                                                                                     message_type))

    def _sign(self, shared: Shared, ref: str, sig_alg: A.SigningAlgorithm, data: bytes,
              message_type: A.MessageType) -> bytes:
        return self._sign_prepared(self._prepare_sign(shared, ref, sig_alg, message_type), data)

    def _prepare_sign(self, shared: Shared, ref: str, sig_alg: A.SigningAlgorithm,
                      message_type: A.MessageType) -> _Prepared:
        """Find the key object and choose the mechanism: once per signature, or once per batch."""
        from pkcs11 import Attribute

        obj = L.find_private(shared, self._link.where, ref)
        got = L.read_attributes(obj, [Attribute.KEY_TYPE, Attribute.ALWAYS_AUTHENTICATE, Attribute.MODULUS])
        algorithm = L.ALGORITHM_OF.get(got[Attribute.KEY_TYPE].name, got[Attribute.KEY_TYPE].name)
        modulus = got.get(Attribute.MODULUS)
        A.check_fits(sig_alg, algorithm, int.from_bytes(modulus, "big").bit_length() if modulus else None)
        try:
            plan = O.sign_plan(sig_alg, message_type, shared.mechanisms)
        except LookupError as missing:
            raise PE.MechanismNotSupported(
                f"{self._where()} has no {missing.args[0]} mechanism: it cannot sign {sig_alg.name}.") from None
        # Keys marked ALWAYS_AUTHENTICATE (smart cards, YubiHSM) want the PIN again for each signature.
        pin = self._secret if got.get(Attribute.ALWAYS_AUTHENTICATE) else None
        # A private key object found by its class signs: python-pkcs11 gives it the sign method.
        signing = cast("SignMixin", obj)
        return _Prepared(shared, signing, plan, sig_alg, A.MessageType.parse(message_type), pin,
                         sig_alg.digest_size, self._link.session_key or ("", ""))

    def _sign_prepared(self, prepared: _Prepared, data: bytes) -> bytes:
        plan = prepared.plan
        payload = prepared.payload(data)
        try:
            signature = prepared.obj.sign(payload, mechanism=plan.mechanism, mechanism_param=plan.param,
                                          pin=prepared.pin)
        except Exception as exc:
            translated = PE.translate(exc, self._link.where, f"sign with {prepared.sig_alg.name}",
                                      O.mechanism_name(plan.mechanism))
            if translated is exc or PE.is_session_lost(exc):
                raise
            raise translated from None
        return K.ecdsa_raw_to_der(bytes(signature)) if plan.raw_ecdsa else bytes(signature)

    @contextlib.contextmanager
    def signer(self, ref: str, sig_alg: A.SigningAlgorithm, message_type: A.MessageType, *,
               expected: K.PublicKey | None = None) -> Iterator[Callable[[bytes], bytes]]:
        """One object lookup and mechanism choice for a batch, on the shared session.

        Each signature still takes the module lock (other threads may use the
        token between two), and a session lost mid-batch is reopened and the key
        found again. With ``expected``, the private key object found (at the start,
        and again after a lost session) is first proven to hold that public key.
        """
        prepared: list[_Prepared] = []
        prefixes: list[bytes | None] = []  # prepared[0].digest_prefix, made once
        what = f"sign with {sig_alg.name}"

        def prepare(shared: Shared) -> None:
            found = self._prepare_sign(shared, ref, sig_alg, message_type)
            if expected is not None:
                self._prove_object(shared, found.obj, ref, expected)
            prepared[:], prefixes[:] = [found], [found.digest_prefix]

        def sign_on(shared: Shared, data: bytes) -> bytes:
            if not prepared or prepared[0].shared is not shared:
                prepare(shared)
            return self._sign_prepared(prepared[0], data)

        if expected is not None:
            self._link.run("find the key to sign with", prepare)

        digest_size = sig_alg.digest_size if A.MessageType.parse(message_type) is A.MessageType.DIGEST else None

        link = self._link
        lock = link.module().lock
        sessions = link.module().sessions
        to_der = K.ecdsa_raw_to_der

        def sign_one(data: bytes) -> bytes:
            if digest_size is not None and len(data) != digest_size:
                A.check_message(sig_alg, data, message_type)  # raises the typed length error
            if prepared:
                # The usual case: the session the key was found on is still this link's (its
                # module still holds it under the key it was found with). Anything but a typed
                # error (a lost session, a vanished key) takes the full path below, which reopens
                # the session, finds the key again and says why it cannot when it cannot.
                p, prefix = prepared[0], prefixes[0]
                plan = p.plan
                payload = p.payload(data) if prefix is None else prefix + data
                with lock:
                    if sessions.get(p.session_key) is p.shared:
                        try:
                            signature = p.obj.sign(payload, mechanism=plan.mechanism, mechanism_param=plan.param,
                                                   pin=p.pin)
                            return to_der(signature) if plan.raw_ecdsa else bytes(signature)
                        except KmsError:
                            raise
                        except Exception:  # noqa: S110 - retried below, where errors are explained
                            pass
            return link.run(what, lambda shared: sign_on(shared, data))

        def sign_many(datas: list[bytes]) -> list[bytes]:
            """Signatures of many digests in one hold of the module lock (other threads get the token
            between two calls); whatever is unusual goes through ``sign_one``, and any failure raises
            (the batch then signs the messages one by one, where each error is explained)."""
            prefix = prefixes[0] if prefixes else None
            if prefix is None or digest_size is None or not all(len(data) == digest_size for data in datas):
                return [sign_one(data) for data in datas]
            p = prepared[0]
            plan = p.plan
            mechanism, param, pin = plan.mechanism, plan.param, p.pin
            # python-pkcs11's ``sign`` only sends bytes on to ``_sign``, at 2 µs an item beside a
            # token's 65 µs signature; every input here is bytes, so a part calls ``_sign`` itself.
            sign = getattr(p.obj, "_sign", None)
            if sign is None:
                return [sign_one(data) for data in datas]
            with lock:
                raw = ([sign(prefix + data, mechanism, param, pin) for data in datas]
                       if sessions.get(p.session_key) is p.shared else None)
            if raw is None:
                return [sign_one(data) for data in datas]
            return K.ecdsa_raw_many_to_der(raw) if plan.raw_ecdsa else list(map(bytes, raw))

        sign_one.many = sign_many  # type: ignore[attr-defined]  # see EngineDriver.signer
        try:
            yield sign_one
        finally:
            prepared.clear()
            prefixes.clear()

    def _prove_object(self, shared: Shared, obj: Object, ref: str, expected: K.PublicKey) -> None:
        """The private key object has ``expected`` as its public key: its own CKA_MODULUS (RSA), or
        the public half paired with it by its CKA_ID (else its label), as ``get`` derives it."""
        from ..integrity import require_same_key

        _, _, public_key, *_ = L.describe_private(shared.session, obj)
        require_same_key(self.engine_id, ref, public_key, expected)

    def delete(self, ref: str, **options: str) -> None:
        def destroy(shared: Shared) -> None:
            obj = L.find_private(shared, self._link.where, ref)
            publics: list[Object]
            try:
                *_, publics = L.describe_private(shared.session, obj)
            except KmsError:  # no readable public half: the private key still goes
                publics = []
            obj.destroy()  # the private key first: a leftover public object is harmless
            for public in publics:
                public.destroy()

        self._link.run("delete a key", destroy, retry=False)

    # --- certificates next to a key (certs) -----------------------------------

    def put_certificate(self, ref: str, der: bytes) -> None:
        self._link.run("write a certificate", lambda shared: C.put(shared, self._link.where, ref, der), retry=False)

    def certificates(self, ref: str) -> list[bytes]:
        return self._link.run("list certificates", lambda shared: C.listed(shared, self._link.where, ref))

    def all_certificates(self) -> list[bytes]:
        return self._link.run("list certificates", C.every_certificate)

    def remove_certificate(self, ref: str, der: bytes) -> bool:
        return self._link.run("remove a certificate", lambda shared: C.remove(shared, self._link.where, ref, der),
                              retry=False)

    # --- backup under split custody (wrapping) -----------------------------------

    def wrap_key(self, ref: str, kek: bytes, *, officer_pin: str | None = None) -> bytes:
        """The key's PKCS#8 DER wrapped by the token (CKM_AES_KEY_WRAP_PAD) under ``kek``, which the
        security officer puts on the token as a trusted key for this wrap only (``wrapping``)."""
        return W.wrap(self._link, ref, kek, officer_pin)

    def unwrap_key(self, wrapped: bytes, kek: bytes, public_key: K.PublicKey, *, label: str) -> NativeKey:
        """A restored key pair named as ``create`` names one (``label`` names it in messages): the
        public object first, then the private one unwrapped as SENSITIVE and non-extractable; a
        private key that does not sign for ``public_key`` is destroyed and refused."""
        public_key = K.supported_public(public_key)
        algorithm, _ = K.describe(public_key)
        if algorithm not in O.MECHANISMS:
            raise UnsupportedKeyType(f"A PKCS#11 engine cannot hold {algorithm} keys.")
        W.check_algorithm(self._link.module(), algorithm, self._link.where, restore=True)
        W.check_kek(kek)
        return self._link.run(f"restore the key {label[:80]!r}",
                              lambda shared: self._unwrap(shared, wrapped, kek, public_key), retry=False)

    def _unwrap(self, shared: Shared, wrapped: bytes, kek: bytes, public_key: K.PublicKey) -> NativeKey:
        algorithm, _ = K.describe(public_key)
        missing = O.missing_mechanism(shared, algorithm, create=False)
        if missing:
            raise PE.KeyTypeNotOnToken(f"{self._where()} has no {missing} mechanism: a restored {algorithm} "
                                       "key could not sign there.")
        key_id = K.key_id_of(public_key)
        object_id = key_id.encode("ascii")
        leftover = self._refuse_taken(shared, key_id, public_key)
        # The public object first: a kill between the two writes leaves a public key alone
        # (used again by the retried restore), never a private key without its half.
        pub = None if leftover else shared.session.create_object(W.public_template(public_key, key_id, object_id))
        priv: Object | None = None
        try:
            priv = W.unwrap_private(shared, self._link.where, wrapped, kek, public_key, key_id, object_id)
            self._self_test(shared, key_id, public_key, algorithm)
        except BaseException:
            for obj in (priv, pub):
                if obj is not None:
                    with contextlib.suppress(Exception):
                        obj.destroy()
            raise
        return self._native(shared, key_id, public_key, key_id, object_id)

    def _self_test(self, shared: Shared, ref: str, public_key: K.PublicKey, algorithm: str) -> None:
        """The private key at ``ref`` signs a random challenge that ``public_key`` verifies."""
        from ..errors import KeyIntegrityError

        _, size = K.describe(public_key)
        sig_alg = A.signing_algorithm(K.natural_algorithm(algorithm, size))
        challenge = secrets.token_bytes(32)
        signature = self._sign(shared, ref, sig_alg, challenge, A.MessageType.RAW)
        if not K.verify_with(public_key, sig_alg, challenge, A.MessageType.RAW, signature):
            raise KeyIntegrityError(f"The unwrapped key on {self._link.where} does not sign for the public key "
                                    "the backup records: it was destroyed again.")

    def leftover_backup_keks(self) -> list[str]:
        return self._link.run("list backup wrapping keys", W.leftover_keks)

    def close(self) -> None:
        self._link.release()
