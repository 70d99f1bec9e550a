"""The driver contract every crypto engine implements.

A driver is built from an engine id, its non-secret options and its one secret
(or ``None``); it knows nothing of the metadata store. The service records what
drivers return. Modelled on keyring's backend base: class-level facts
(type, display name, security level, options), a ``check`` for reachability,
capability flags, and one shared contract test suite (``engines.testing``).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from . import lamassu
from .algorithms import MessageType, SigningAlgorithm
from .errors import EngineConfigError, EngineError, OperationNotSupported

if TYPE_CHECKING:  # in annotations only: importing the driver base does not load cryptography
    from .keys import ParsedKey, PublicKey


@dataclass(frozen=True)
class OptionSpec:
    """One non-secret engine option (DESIGN §2), as the CLI and the TUI form show it."""

    name: str
    help: str
    default: str | None = None
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretSpec:
    """The one secret an engine needs, kept in the keyring."""

    label: str  # "user PIN", "at-rest passphrase", ...
    generated: bool = False  # the engine can make one up when none is given
    required: bool = True
    min_length: int = 1  # a new secret shorter than this is refused (a passphrase that encrypts keys)


@dataclass(frozen=True)
class Capabilities:
    can_create: bool = True
    can_import: bool = True
    can_import_public: bool = False
    can_delete: bool = True
    native_verify: bool = False
    # Signs an ML-DSA external mu (MessageType.EXTERNAL_MU): a message hashed by the caller.
    external_mu: bool = False


@dataclass
class NativeKey:
    """A key as the engine holds it.

    ``ref`` is the engine-native reference (file name, label, ARN, kid, path).
    ``public_key`` is a ``cryptography`` public key object; None in a light entry, and
    where the engine will not show it in the key's state (AWS, for a disabled key).

    A *light* entry (``light=True``, made by ``NativeKey.seen``) says only "the
    engine still holds the key at ``ref``": an inventory yields one for a
    reference the caller named as known, without reading the key. Its
    ``key_id``, ``public_key``, ``algorithm`` and ``size`` are empty; ``state``
    is the engine's state when the listing carried it, else None (unknown).
    """

    ref: str
    key_id: str
    public_key: PublicKey | None
    algorithm: str
    size: int
    has_private_key: bool = True
    pkcs11_uri: str | None = None
    state: str | None = None  # engine-reported state, e.g. "Enabled", "PendingDeletion"
    extra: dict[str, Any] = field(default_factory=dict)
    light: bool = False

    @classmethod
    def seen(cls, ref: str, state: str | None = None) -> NativeKey:
        """A light entry: the key at ``ref`` is there (in ``state``, when known); nothing else was read."""
        return cls(ref=ref, key_id="", public_key=None, algorithm="", size=0, state=state, light=True)

    def shown_public_key(self) -> PublicKey:
        """``public_key`` of an entry that carries one; ``EngineError`` for one that does not."""
        if self.public_key is None:
            raise EngineError(f"The engine did not show the public key of key {self.ref[:80]!r}.")
        return self.public_key


def check_options(specs: tuple[OptionSpec, ...], options: dict[str, str], what: str) -> dict[str, str]:
    """Options with defaults filled in; unknown or missing ones are errors."""
    known = {o.name: o for o in specs}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise EngineConfigError(
            f"Unknown option(s) for {what}: {', '.join(unknown)}.",
            hint="Known: " + (", ".join(known) or "none") + ".",
        )
    result: dict[str, str] = {}
    for spec in specs:
        value = options.get(spec.name, spec.default)
        if value is None or value == "":
            if spec.required:
                raise EngineConfigError(f"Option {spec.name!r} is required for {what}: {spec.help}")
            continue
        value = str(value)
        if spec.choices and value not in spec.choices:
            raise EngineConfigError(
                f"Option {spec.name!r} must be one of {', '.join(spec.choices)}; got {value!r}."
            )
        result[spec.name] = value
    return result


# Every engine type takes it (EngineDriver.__init_subclass__ appends it to OPTIONS). What it
# restricts is each driver's validate_options: the software engine keeps clear PEM only, Secrets
# Manager and Vault KV v2 take no prefix. PKCS#11, AWS KMS and Azure Key Vault need nothing: their
# names already are Lamassu's (CKA_ID = the ASCII key id, which lamassuiot/lamassuiot
# engines/crypto/pkcs11/pkcs11.go looks a key up by; alias/<key id>, as engines/crypto/aws/awskms.go
# names and finds keys; the x-lamassu-id tag engines/crypto/azure/keyvault.go finds keys by).
LAMASSU_OPTION = OptionSpec(lamassu.OPTION, lamassu.HELP, default="false", choices=("true", "false"))


def _lamassu_checked(options: dict[str, str]) -> dict[str, str]:
    """``lamassu`` spelt true/false whatever the case; dropped when false (records read the same as before)."""
    options = dict(options)
    value = options.get(lamassu.OPTION)
    if value is not None:
        options[lamassu.OPTION] = str(value).strip().lower()
    return options


class EngineDriver(abc.ABC):
    """Abstract base of the engine drivers."""

    TYPE: ClassVar[str]
    DISPLAY: ClassVar[str]
    PROVIDER: ClassVar[str]
    SECURITY_LEVEL: ClassVar[int]
    OPTIONS: ClassVar[tuple[OptionSpec, ...]] = ()
    SECRET: ClassVar[SecretSpec | None] = None
    CAPABILITIES: ClassVar[Capabilities] = Capabilities()
    # Options a delete takes (e.g. AWS KMS's pending window), passed as keyword strings.
    DELETE_OPTIONS: ClassVar[tuple[OptionSpec, ...]] = ()
    # Engine-specific key actions (name -> one-line description), e.g. "cancel-deletion", "purge".
    KEY_ACTIONS: ClassVar[dict[str, str]] = {}
    # Keys can be made whose material leaves the engine wrapped (create_wrappable, wrap_key).
    BACKUP_WRAP: ClassVar[bool] = False
    # A wrap needs the security officer's PIN (PKCS#11).
    BACKUP_NEEDS_OFFICER: ClassVar[bool] = False
    # The function ``signer`` yields may be called from several threads at once, and lets go of
    # the GIL while it signs (a key in memory, signed by ``cryptography``): a batch signs side by side.
    CONCURRENT_SIGNER: ClassVar[bool] = False
    # What a delete does to the key material, said in the typed confirmation of a delete.
    DELETE_NOTICE: ClassVar[str] = ("The engine deletes the key material; this cannot be undone unless the "
                                    "engine keeps deleted keys.")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if all(option.name != lamassu.OPTION for option in cls.OPTIONS):
            cls.OPTIONS = (*cls.OPTIONS, LAMASSU_OPTION)

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        self.engine_id = engine_id
        self.options = self.validate_options(options)
        self._secret = secret
        if self.SECRET and self.SECRET.required and not secret:
            raise EngineConfigError(f"Engine {engine_id!r} needs its {self.SECRET.label}.")

    # --- configuration ---------------------------------------------------

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        """Options with defaults filled in; unknown or missing ones are errors."""
        checked = check_options(cls.OPTIONS, _lamassu_checked(options), cls.TYPE)
        if not lamassu.shared(checked):
            checked.pop(lamassu.OPTION, None)
        return checked

    @classmethod
    def needs_secret(cls, options: dict[str, str]) -> bool:
        """Whether an engine with these (validated) options needs its secret."""
        return cls.SECRET is not None and cls.SECRET.required

    @classmethod
    def option_choices(cls, options: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        """What a registration form can offer for some options, given the ones filled in so far.

        E.g. PKCS#11 lists the tokens a module shows: {"token": [{"value": label, "label": ..., ...}]}.
        May reach the backend; raises typed errors.
        """
        return {}

    @classmethod
    def default_options(cls, engine_id: str, data_dir: str) -> dict[str, str]:
        """Options derived from the data directory (e.g. the software key directory)."""
        return {}

    # --- facts -----------------------------------------------------------

    @abc.abstractmethod
    def supported_key_types(self) -> dict[str, tuple[int, ...]]:
        """Algorithm -> sizes this instance can create."""

    def importable_key_types(self) -> dict[str, tuple[int, ...]]:
        """Algorithm -> sizes of private keys this instance can import (by default what it can create)."""
        return self.supported_key_types()

    def check(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Raise a typed error when the engine cannot be reached or used."""

    def warnings(self) -> list[str]:
        """Sentences about what works but deserves a look (a key directory open to others)."""
        return []

    # --- the secret ----------------------------------------------------------

    @classmethod
    def guarded_material(cls, options: dict[str, str]) -> int | None:
        """How many stored items only this engine's secret opens (encrypted key files).

        0 for engines whose secret grants access and nothing more (a PIN, a cloud
        credential): losing it loses no key. While this is above 0 the secret is
        never deleted or replaced without a check. None when it cannot be known
        (the key directory is not there: an unmounted disk); callers then treat
        the secret as guarding something. Reads no secret.
        """
        return 0

    def prove_secret(self, thorough: bool = False) -> str:
        """Check that this driver's secret opens what the engine already holds, before it is kept.

        ``thorough``: every item it guards, not just one (before a secret replaces
        another). Raises the engine's typed error (wrong PIN, wrong passphrase,
        refused credentials); returns what was checked, for the audit row.
        """
        self.check()
        return "the engine accepted it"

    # --- keys ------------------------------------------------------------

    @abc.abstractmethod
    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        """Every key the engine really holds, each once.

        ``known`` holds the native references the caller already records. For
        one of them a driver may yield a light entry (``NativeKey.seen``)
        instead of reading the key, so that a re-sync of a remote engine costs
        its listing calls only, not calls per key. Drivers of local engines may
        ignore ``known``. ``full`` asks for every key to be read again, known
        or not (a key disabled or scheduled for deletion since the last sync);
        a known key the engine holds but will not show in full in its state
        (AWS shows no public key of a disabled key) is then a light entry with
        that state, never left out. An unknown key is never a light entry.
        """

    def unusable(self) -> list[tuple[str, str, str]]:
        """Key objects the engine holds that its inventory skipped, each as (what, why, what
        to do): a private key object without its public half, say. From this driver's
        latest inventory (one is listed first if there was none). Most engines have none."""
        return []

    @abc.abstractmethod
    def get(self, ref: str) -> NativeKey:
        """One key by native reference; ``KeyNotFoundInEngine`` when absent."""

    def prove(self, ref: str, public_key: PublicKey) -> None:
        """``KeyIntegrityError`` unless the material at ``ref`` has ``public_key`` (DESIGN §7.2).

        Asked before the first signature with a key in a process and once per batch,
        so that a record pointed at another key (or a key replaced in the engine)
        never signs. The default asks ``get``, which reads the key where it signs:
        the software and PKCS#11 drivers derive it from the private key, Secrets
        Manager and Vault from the fetched private key, Azure from the vault's key.
        A driver whose ``get`` does not answer from that material overrides this.
        """
        from .integrity import require_same_key

        require_same_key(self.engine_id, ref, self.get(ref).shown_public_key(), public_key)

    def proof_stamp(self, ref: str) -> object:
        """What changes when the material at ``ref`` may have changed; a proof holds while it is equal.

        None (the default): nothing local can tell, so a proof holds for the process
        (and each batch proves again). The software engine returns its key file's identity.
        """
        return None

    @abc.abstractmethod
    def create(self, algorithm: str, size: int) -> NativeKey:
        """Generate a key pair inside the engine."""

    def import_key(self, key: ParsedKey) -> NativeKey:
        raise OperationNotSupported(f"{self.DISPLAY} engines cannot import keys.")

    @abc.abstractmethod
    def sign(self, ref: str, sig_alg: SigningAlgorithm, data: bytes, message_type: MessageType) -> bytes:
        """Sign; ECDSA signatures are returned DER-encoded. Inputs are validated by the caller."""

    @contextlib.contextmanager
    def signer(
        self, ref: str, sig_alg: SigningAlgorithm, message_type: MessageType, *,
        expected: PublicKey | None = None,
    ) -> Iterator[Callable[[bytes], bytes]]:
        """A signing function for many messages with one key (batch signing).

        Drivers override this to do once what ``sign`` does every time: fetch and
        parse a stored key, find a token object, pick a mechanism. Whatever is
        held (a private key object) is dropped when the context ends. With
        ``expected`` (the recorded public key), the material the batch will sign
        with is first proven to be that key (``KeyIntegrityError`` otherwise):
        overriding drivers check what they fetched, so a batch reads its key once.
        The function may carry ``many``: the signatures of a list of messages at once (a token
        signs them in one hold of its lock), raising at the first problem; the batch then signs
        those messages one by one.
        """
        if expected is not None:
            self.prove(ref, expected)
        yield lambda data: self.sign(ref, sig_alg, data, message_type)

    def verify(
        self, ref: str, sig_alg: SigningAlgorithm, data: bytes, message_type: MessageType, signature: bytes
    ) -> bool:
        raise OperationNotSupported(f"{self.DISPLAY} engines have no verify of their own.")

    def delete(self, ref: str, **options: str) -> str | None:
        """Delete a key, or schedule its deletion.

        Returns None when the key is gone, or the engine state it is left in
        (e.g. "PendingDeletion", a soft-deleted secret) while it can still be
        recovered. ``options`` were checked against ``DELETE_OPTIONS``.
        """
        raise OperationNotSupported(f"{self.DISPLAY} engines cannot delete keys.")

    def discard(self, ref: str) -> None:
        """Remove a key this engine just made that could not be recorded (failed self-test, cancel).

        Unlike ``delete``, nothing recoverable should stay behind; engines with
        soft deletion override this.
        """
        self.delete(ref)

    def key_action(self, ref: str, action: str) -> NativeKey | None:
        """Run one of ``KEY_ACTIONS``; returns the key as it is now, or None when it is gone."""
        raise OperationNotSupported(f"{self.DISPLAY} engines have no action {action[:40]!r}.")

    def engine_aliases(self, ref: str) -> list[str]:
        """The engine's own aliases of a key (not the one this driver names the key by), each as
        ``move_alias`` takes it. Engines without aliases of their own have none."""
        return []

    def move_alias(self, alias: str, new_ref: str) -> None:
        """Point one of the engine's own aliases at another key of the engine (key rotation)."""
        raise OperationNotSupported(f"{self.DISPLAY} engines have no aliases of their own to move.")

    # --- certificates kept next to a key (optional) ----------------------------

    def put_certificate(self, ref: str, der: bytes) -> None:
        """Store an X.509 certificate (DER) next to the key at ``ref``, as other clients of the
        engine expect to find it; nothing when the engine already holds that certificate there."""
        raise OperationNotSupported(f"{self.DISPLAY} engines keep no certificates.")

    def certificates(self, ref: str) -> list[bytes]:
        """The X.509 certificates (DER) the engine keeps next to the key at ``ref``."""
        raise OperationNotSupported(f"{self.DISPLAY} engines keep no certificates.")

    def all_certificates(self) -> list[bytes]:
        """Every X.509 certificate (DER) the engine keeps, whatever key it sits next to (one listing: sync)."""
        raise OperationNotSupported(f"{self.DISPLAY} engines keep no certificates.")

    def remove_certificate(self, ref: str, der: bytes) -> bool:
        """Remove the certificate with exactly this DER kept next to the key at ``ref``; False
        when the engine holds no such certificate there (nothing else is ever removed)."""
        raise OperationNotSupported(f"{self.DISPLAY} engines keep no certificates.")

    # --- backup under split custody (optional) ---------------------------------

    def create_wrappable(self, algorithm: str, size: int) -> NativeKey:
        """Like ``create``, a key whose material can leave the engine, but only wrapped (``wrap_key``)."""
        raise OperationNotSupported(
            f"{self.DISPLAY} engines cannot make keys whose material may leave them, even wrapped."
        )

    def wrap_key(self, ref: str, kek: bytes, *, officer_pin: str | None = None) -> bytes:
        """The private key at ``ref`` as PKCS#8 PrivateKeyInfo DER, wrapped under ``kek`` (32 bytes)
        with RFC 5649 AES key wrap with padding. ``officer_pin``: the security officer's PIN on
        engines that need it (``BACKUP_NEEDS_OFFICER``); never kept."""
        raise OperationNotSupported(f"{self.DISPLAY} engines never let key material leave them.")

    def unwrap_key(self, wrapped: bytes, kek: bytes, public_key: PublicKey, *, label: str) -> NativeKey:
        """The reverse of ``wrap_key``: a new key in this engine from ``wrapped``, returned like
        ``create`` returns one. Never replaces a key the engine already holds."""
        raise OperationNotSupported(f"{self.DISPLAY} engines cannot take in wrapped key material.")

    def leftover_backup_keks(self) -> list[str]:
        """Labels of backup key-encryption key objects a backup left behind in the engine."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release sessions and connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
