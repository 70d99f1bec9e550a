"""AWS KMS engine (Lamassu ``AWS_KMS``): one asymmetric ``SIGN_VERIFY`` KMS key per key.

Layout, as Lamassu keeps it: KeySpec ``RSA_2048|3072|4096`` or ``ECC_NIST_P256|P384|P521``,
alias ``alias/<key_id>``; kms-tui also makes ``ECC_NIST_EDWARDS25519`` (Ed25519) and
``ML_DSA_44|65|87`` keys, in the same layout (import takes the RSA and NIST-curve specs
only). The native reference is the KMS key id (a UUID). Keys without
our alias are listed too, so a sync adopts them (key id from ``GetPublicKey``). The private
key never leaves KMS: a signature costs a DescribeKey (a key that is not Enabled is refused
with its state named) and a Sign, whose message ``kms_keys.kms_request`` chooses.
Import wraps the private key for KMS (``kms_import``). Deletion is ``ScheduleKeyDeletion``
with a pending window; the key is then gone for every use but the ``cancel-deletion``
action, after which AWS leaves it Disabled.

Cost of ``inventory``: one ListAliases and one ListKeys call per page; for each key not
``known`` to the caller (every key when ``full``) one DescribeKey (no AWS listing carries
the key state) and one GetPublicKey when this driver has not read it before; the per-key
calls run a few at a time. A known key is a light entry without a state: a key disabled
or scheduled for deletion outside kms-tui shows in a ``full`` inventory only, where a known
key pending deletion or disabled (no public key shown) is a light entry with its state.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor

from .. import algorithms as A
from .. import errors as E
from .. import keys as K
from ..base import Capabilities, EngineDriver, NativeKey, OptionSpec, SecretSpec, check_options
from .common import AWS_OPTIONS, AwsConnection, validate_aws_options
from .errors import KeyNotEnabled, KeyStateConflict
from .kms_import import import_signing_key
from .kms_keys import IMPORT_SPECS, SPECS, KeyMetadata, KmsKeys, is_signing_key, kms_request

log = logging.getLogger("engines.aws.kms")

_UNLISTED_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion", "PendingImport", "Creating"})


class AwsKmsEngine(EngineDriver):
    TYPE = "AWS_KMS"
    DISPLAY = "AWS KMS"
    PROVIDER = "Amazon Web Services"
    SECURITY_LEVEL = 1
    OPTIONS = AWS_OPTIONS
    SECRET = SecretSpec("secret access key", required=False)
    CAPABILITIES = Capabilities(can_import_public=False, native_verify=True, external_mu=True)
    DELETE_OPTIONS = (OptionSpec("pending_window_days", "days before AWS deletes the key (7-30)", default="30"),)
    KEY_ACTIONS = {
        "cancel-deletion": "cancel a scheduled deletion (AWS leaves the key Disabled)",
        "enable": "enable the key so that it signs again",
        "disable": "disable the key: it cannot sign until enabled",
    }
    _page_size = 100  # items per listing call (AWS allows up to 1000)
    _workers = 4  # DescribeKey / GetPublicKey calls in flight during an inventory

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        super().__init__(engine_id, options, secret)
        self._conn = AwsConnection(self.DISPLAY, "kms", engine_id, self.options, secret)
        self._secret = None  # the connection alone holds it, and never shows it
        self._keys = KmsKeys(self._conn, engine_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.engine_id!r} {self._conn.region}>"

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        options = {k: v.strip() if isinstance(v, str) else v for k, v in options.items()}
        return validate_aws_options(super().validate_options(options), cls.TYPE)

    @classmethod
    def needs_secret(cls, options: dict[str, str]) -> bool:
        return bool(options.get("access_key_id"))

    def supported_key_types(self) -> dict[str, tuple[int, ...]]:
        return {A.RSA: (2048, 3072, 4096), A.ECDSA: (256, 384, 521), A.ED25519: A.ED25519_SIZES,
                A.ML_DSA: A.ML_DSA_SIZES}

    def importable_key_types(self) -> dict[str, tuple[int, ...]]:
        """What ImportKeyMaterial takes (kms_keys.IMPORT_SPECS): RSA and ECDSA only."""
        importable: dict[str, tuple[int, ...]] = {}
        for algorithm, size in IMPORT_SPECS:
            importable[algorithm] = (*importable.get(algorithm, ()), size)
        return importable

    def check(self) -> None:
        self._conn.call("list_keys", "listing keys", Limit=1)

    def close(self) -> None:
        self._conn.close()

    # --- reading -------------------------------------------------------------

    def get(self, ref: str) -> NativeKey:
        meta = self._keys.describe(self._keys.kid(ref))
        self._keys.check_signing_key(meta)
        return self._keys.native(meta)

    def prove(self, ref: str, public_key: K.PublicKey) -> None:
        """The public key KMS returns for the key (GetPublicKey, asked once per process and KMS key:
        a KMS key's material never changes) is the recorded one. The key's state is left to Sign."""
        from ..integrity import require_same_key

        require_same_key(self.engine_id, ref, self._keys.public_key(self._keys.kid(ref)), public_key)

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        known = known if isinstance(known, (set, frozenset)) else frozenset(known)
        ours: dict[str, str] = {}  # KMS key id -> key id named by alias/<key_id>
        labels: dict[str, str] = {}  # KMS key id -> another alias of it, a name for an adopted key
        for page in self._conn.pages("list_aliases", "listing aliases", self._page_size):
            for alias in page.get("Aliases", []):
                name, target = alias.get("AliasName", ""), alias.get("TargetKeyId")
                if not target or not name.startswith("alias/") or name.startswith("alias/aws/"):
                    continue
                if K.is_key_id(name[6:]):
                    ours[target] = name[6:]
                else:
                    labels.setdefault(target, name[6:])
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            for page in self._conn.pages("list_keys", "listing keys", self._page_size):
                kids = [k["KeyId"] for k in page.get("Keys", [])]
                if not full:  # known keys: listed is present, nothing more is asked
                    yield from (NativeKey.seen(kid) for kid in kids if kid in known)
                    kids = [kid for kid in kids if kid not in known]
                for native in pool.map(lambda kid: self._listed(kid, labels.get(kid), kid in known), kids):
                    if native is None:
                        continue
                    if not native.light and ours.get(native.ref, native.key_id) != native.key_id:
                        log.warning("KMS key %s is named alias/%s but holds key %s.", native.ref,
                                    ours[native.ref], native.key_id)
                    yield native

    def _listed(self, kid: str, label: str | None, known: bool = False) -> NativeKey | None:
        state = None
        try:
            meta = self._keys.describe(kid)
            state = meta.get("KeyState")
            if not is_signing_key(meta):
                return None
            if state in _UNLISTED_STATES:
                return NativeKey.seen(kid, state) if known else None
            return self._keys.native(meta, label)
        except KeyStateConflict as exc:  # AWS does not show the public key of a disabled key
            if known:
                return NativeKey.seen(kid, state)
            log.warning("Skipped KMS key %s of engine %s: %s", kid, self.engine_id, exc.message)
        except E.KeyNotFoundInEngine:
            pass  # deleted while listing
        return None

    # --- making keys ---------------------------------------------------------

    def discard(self, ref: str) -> None:
        """AWS never deletes a KMS key at once: the shortest pending window (7 days) is the nearest."""
        kid = self._keys.kid(ref)
        self._conn.call("schedule_key_deletion", f"discarding key {kid}", KeyId=kid, PendingWindowInDays=7,
                        codes=self._keys.codes(kid))

    def _discard(self, kid: str) -> None:
        """Discard a half-made key; a failure is logged, the caller's error is what the operator sees."""
        try:
            self.discard(kid)
        except E.KmsError as exc:
            log.warning("KMS key %s of engine %s was left behind: %s", kid, self.engine_id, exc.title)

    def create(self, algorithm: str, size: int) -> NativeKey:
        algorithm, size = A.validate_spec(algorithm, size, self.supported_key_types())
        meta: KeyMetadata = self._conn.call(
            "create_key", f"creating an {algorithm} {size} key", KeyUsage="SIGN_VERIFY",
            KeySpec=SPECS[(algorithm, size)], Description="kms-tui signing key")["KeyMetadata"]
        try:
            native = self._keys.native(meta)
            self._conn.call("create_alias", f"naming key {meta['KeyId']}", AliasName=f"alias/{native.key_id}",
                            TargetKeyId=meta["KeyId"])
        except BaseException:
            self._discard(meta["KeyId"])
            raise
        return native

    def import_key(self, key: K.ParsedKey) -> NativeKey:
        meta = import_signing_key(self._conn, self.engine_id, key, self._discard)
        self._keys.public[meta["KeyId"]] = key.public_key
        return NativeKey(ref=meta["KeyId"], key_id=key.key_id, public_key=key.public_key, algorithm=key.algorithm,
                         size=key.size, state="Enabled", extra={"arn": meta.get("Arn"), "key_spec": meta["KeySpec"]})

    # --- signing -------------------------------------------------------------

    def _request(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType
                 ) -> tuple[str, KeyMetadata, tuple[str, str, bytes]]:
        kid = self._keys.kid(ref)
        meta = self._keys.describe(kid)
        algorithm, size = self._keys.check_signing_key(meta)
        A.check_fits(sig_alg, algorithm, size)
        A.check_message(sig_alg, data, message_type)
        return kid, meta, kms_request(sig_alg, algorithm, size, data, message_type,
                                      lambda: self._keys.public_key(kid))

    def sign(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType) -> bytes:
        kid, meta, (name, mtype, message) = self._request(ref, sig_alg, data, message_type)
        state = meta.get("KeyState")
        if state != "Enabled":  # AWS refuses too; this names the state first
            raise KeyNotEnabled(f"KMS key {kid} is {state}: it signs only when Enabled.",
                                hint="Run the enable action." if state == "Disabled" else None)
        signature: bytes = self._conn.call("sign", f"signing with key {kid}", KeyId=kid, Message=message,
                                           MessageType=mtype, SigningAlgorithm=name,
                                           codes=self._keys.codes(kid))["Signature"]
        return signature

    def verify(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType,
               signature: bytes) -> bool:
        kid, _, (name, mtype, message) = self._request(ref, sig_alg, data, message_type)
        invalid = E.KmsError("invalid signature")  # KMS answers an invalid signature with an error
        codes = {**self._keys.codes(kid), "KMSInvalidSignatureException": lambda m: invalid}
        try:
            return bool(self._conn.call("verify", f"verifying with key {kid}", KeyId=kid, Message=message,
                                        MessageType=mtype, Signature=signature, SigningAlgorithm=name,
                                        codes=codes)["SignatureValid"])
        except E.KmsError as exc:
            if exc is invalid:
                return False
            raise

    # --- aliases -------------------------------------------------------------

    def engine_aliases(self, ref: str) -> list[str]:
        """``alias/…`` names of the KMS key, except ``alias/<key_id>`` (this driver's) and AWS's own."""
        kid = self._keys.kid(ref)
        found = []
        for page in self._conn.pages("list_aliases", f"listing the aliases of key {kid}", self._page_size, KeyId=kid):
            for alias in page.get("Aliases", []):
                name = alias.get("AliasName", "")
                if name.startswith("alias/") and not name.startswith("alias/aws/") and not K.is_key_id(name[6:]):
                    found.append(name)
        return sorted(found)

    def move_alias(self, alias: str, new_ref: str) -> None:
        """UpdateAlias: ``alias`` (``alias/…``) names the KMS key ``new_ref`` from now on."""
        if not alias.startswith("alias/") or alias.startswith("alias/aws/") or K.is_key_id(alias[6:]):
            raise E.InvalidInput(f"{alias[:80]!r} is not an alias kms-tui moves (alias/NAME, not alias/aws/… "
                                 "nor a key's own alias/<key id>).")
        kid = self._keys.kid(new_ref)
        self._conn.call("update_alias", f"pointing {alias[:80]} at key {kid}", AliasName=alias, TargetKeyId=kid,
                        codes=self._keys.codes(kid))

    # --- deletion and states -------------------------------------------------

    def delete(self, ref: str, **options: str) -> str:
        days = check_options(self.DELETE_OPTIONS, options, f"deleting from {self.DISPLAY}")["pending_window_days"]
        if not days.isdigit() or not 7 <= int(days) <= 30:
            raise E.EngineConfigError("pending_window_days must be a whole number of days from 7 to 30.")
        kid = self._keys.kid(ref)
        self._keys.check_signing_key(self._keys.describe(kid))
        with contextlib.suppress(KeyStateConflict):  # read while AWS shows it: the view after a cancel needs it
            self._keys.public_key(kid)
        self._conn.call("schedule_key_deletion", f"scheduling the deletion of key {kid}", KeyId=kid,
                        PendingWindowInDays=int(days), codes=self._keys.codes(kid))
        return "PendingDeletion"

    def key_action(self, ref: str, action: str) -> NativeKey:
        if action not in self.KEY_ACTIONS:
            raise E.OperationNotSupported(f"{self.DISPLAY} has no key action {action[:40]!r}.",
                                          hint="Actions: " + ", ".join(self.KEY_ACTIONS) + ".")
        kid = self._keys.kid(ref)
        meta = self._keys.describe(kid)
        if action == "cancel-deletion":
            if meta.get("KeyState") != "PendingDeletion":
                raise KeyStateConflict(f"KMS key {kid} is {meta.get('KeyState')}, not pending deletion: "
                                       "there is no deletion to cancel.")
            self._conn.call("cancel_key_deletion", f"cancelling the deletion of key {kid}", KeyId=kid,
                            codes=self._keys.codes(kid))
        else:
            self._keys.check_signing_key(meta)  # a key pending deletion is neither enabled nor disabled
            with contextlib.suppress(KeyStateConflict):
                self._keys.public_key(kid)
            self._conn.call(f"{action}_key", f"{action[:-1]}ing key {kid}", KeyId=kid, codes=self._keys.codes(kid))
        return self._keys.state_view(kid)
