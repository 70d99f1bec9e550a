"""AWS Secrets Manager engine (Lamassu ``AWS_SECRETS_MANAGER``): one secret per private key.

Layout, as Lamassu writes it: a secret named ``<prefix><key_id>`` (no prefix by default)
whose ``SecretString`` is ``{"key": "<base64 of the PEM PKCS#8 private key>"}``, the PEM
in clear inside the secret (Secrets Manager encrypts it at rest with KMS). Signing fetches
the key, signs here with ``cryptography`` and drops it: a private key lives only for the
operation and is never written to disk or to the metadata store.

Deletion has a recovery window (7-30 days, default 7) unless forced; a deleted key is
gone for every use but the ``restore`` action. Cost of ``inventory``: one ListSecrets call
per page, and one BatchGetSecretValue per 20 keys not read before at their current
version (one GetSecretValue per key where the policy does not allow the batch call);
a key ``known`` to the caller is a light entry, not read (unless ``full``). Create, import,
signing and the integrity proof are ``StoredKeyEngine``'s (engines.stored); this module
names, reads, writes, lists and deletes the secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Collection, Iterator
from typing import Any, TypeGuard

from .. import errors as E
from .. import keys as K
from .. import lamassu
from ..base import NativeKey, OptionSpec, SecretSpec, check_options
from ..stored import StoredKeyEngine
from .common import AWS_OPTIONS, AwsConnection, validate_aws_options
from .errors import AwsAccessDenied, ErrorCodes, KeyPendingDeletion, KeyStateConflict, clean

log = logging.getLogger("engines.aws.secrets_manager")

_PREFIX = re.compile(r"[A-Za-z0-9/_+=.@-]{0,256}")
_HEX = frozenset("0123456789abcdef")
_BATCH = 20  # BatchGetSecretValue takes at most 20 secret ids


def lamassu_secret_string(private_key: K.PrivateKey) -> str:
    """The SecretString Lamassu writes: ``{"key": "<base64 of PEM PKCS#8>"}``, byte for byte."""
    return json.dumps({"key": base64.b64encode(K.private_pkcs8_pem(private_key)).decode("ascii")})


def _is_key_id(text: str) -> bool:
    """A key id (64 hex) or a legacy SKI id (40 hex), lowercase."""
    return len(text) in (64, 40) and set(text) <= _HEX


class AwsSecretsEngine(StoredKeyEngine):
    TYPE = "AWS_SECRETS_MANAGER"
    DISPLAY = "AWS Secrets Manager"
    PROVIDER = "Amazon Web Services"
    SECURITY_LEVEL = 0
    OPTIONS = AWS_OPTIONS + (OptionSpec("prefix", "prefix of the secret names, e.g. lamassu/ (default: none)"),)
    SECRET = SecretSpec("secret access key", required=False)
    DELETE_OPTIONS = (
        OptionSpec("recovery_window_days", "days AWS keeps a deleted key recoverable (7-30)", default="7"),
        OptionSpec("force", "delete at once, without recovery (true/false)", default="false", choices=("true", "false")),
    )
    KEY_ACTIONS = {"restore": "restore a deleted key within its recovery window"}
    _page_size = 100  # secrets per ListSecrets call (the AWS maximum)

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        super().__init__(engine_id, options, secret)
        self.prefix = self.options.get("prefix", "")
        self._conn = AwsConnection(self.DISPLAY, "secretsmanager", engine_id, self.options, secret)
        self._secret = None  # the connection alone holds it, and never shows it
        self._public: dict[tuple[str, str], NativeKey] = {}  # (name, version id) -> key, public parts only
        self._batch = True  # cleared when the policy does not allow BatchGetSecretValue

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.engine_id!r} {self._conn.region}>"

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        options = {k: v.strip() if isinstance(v, str) else v for k, v in options.items()}
        options = validate_aws_options(super().validate_options(options), cls.TYPE)
        if not _PREFIX.fullmatch(options.get("prefix", "")):
            raise E.EngineConfigError("Option 'prefix' may hold up to 256 letters, digits and /_+=.@- only.")
        if options.get("prefix") and lamassu.shared(options):
            # lamassuiot/lamassuiot engines/crypto/aws/secretsmanager.go: CreateSecret and
            # GetSecretValue name the secret by the key id alone.
            raise E.EngineConfigError(
                "A Secrets Manager engine shared with Lamassu takes no prefix: Lamassu names each secret "
                "<key id>, and would find no secret named with a prefix.",
                hint="Leave the prefix option out.",
            )
        return options

    @classmethod
    def needs_secret(cls, options: dict[str, str]) -> bool:
        return bool(options.get("access_key_id"))

    def check(self) -> None:
        self._conn.call("list_secrets", "listing secrets", MaxResults=1)

    def close(self) -> None:
        self._conn.close()

    # --- names and secrets ---------------------------------------------------

    def _not_found(self, ref: object, why: str = "") -> E.KeyNotFoundInEngine:
        shown = clean(repr(ref[:100] if isinstance(ref, str) else ref), 80)
        return E.KeyNotFoundInEngine(f"Engine {self.engine_id!r} holds no key {shown}{why}.")

    def _is_key_name(self, name: object) -> TypeGuard[str]:
        return isinstance(name, str) and name.startswith(self.prefix) and _is_key_id(name[len(self.prefix):])

    def _name(self, ref: object) -> str:
        """Only ``<prefix><key id>`` names, the layout's, are ever sent to AWS."""
        if not self._is_key_name(ref):
            raise self._not_found(ref)
        return ref

    def _codes(self, name: str) -> ErrorCodes:
        def invalid_request(message: str) -> E.KmsError:
            if "delet" in message.lower():
                return KeyPendingDeletion(f"Key {name} of engine {self.engine_id!r} is deleted; it can be restored "
                                          "until its recovery window ends.", hint="Run the restore action.")
            return E.EngineError(f"AWS Secrets Manager refused the request for {name}: {message}")

        return {"ResourceNotFoundException": lambda m: self._not_found(name), "InvalidRequestException": invalid_request}

    def _parse(self, name: str, secret_string: object) -> K.PrivateKey:
        """The private key object in a secret; the secret's text is never quoted in an error or a log."""
        parsed = None
        if isinstance(secret_string, (str, bytes, bytearray)):  # None: a secret of binary data only
            try:
                pem = base64.b64decode(json.loads(secret_string)["key"], validate=True)
                parsed = K.parse_key(pem)
            except (ValueError, KeyError, TypeError, RecursionError, binascii.Error, E.KmsError):
                parsed = None  # RecursionError: JSON nested deeper than it reads
        if parsed is None or parsed.private_key is None:
            raise E.KeyParseError(f"Secret {name} does not hold a private key in Lamassu's layout "
                                  '({"key": base64 of a PEM PKCS#8 key}).')
        return parsed.private_key

    def _native(self, name: str, private: K.PrivateKey) -> NativeKey:
        native = super()._native(name, private)
        named = name[len(self.prefix):]
        if len(named) == 64 and named != native.key_id:
            log.warning("Secret %s holds key %s: it is misnamed.", name, native.key_id)
        return native

    def _fetch(self, name: str, doing: str) -> K.PrivateKey:
        value = self._conn.call("get_secret_value", doing, SecretId=name, codes=self._codes(name))
        return self._parse(name, value.get("SecretString"))

    def _read_private(self, ref: str, *, signing: bool = False) -> K.PrivateKey:
        name = self._name(ref)
        return self._fetch(name, f"fetching key {name} to sign" if signing else f"reading key {name}")

    def _write_private(self, key_id: str, private: K.PrivateKey) -> str:
        name = self.prefix + key_id

        def exists(message: str) -> E.KmsError:
            return E.KeyExists(f"Key {key_id} already exists in engine {self.engine_id!r} (secret {name}).")

        codes: ErrorCodes = {"ResourceExistsException": exists, "InvalidRequestException": lambda m: (
            exists(m) if "delet" in m.lower() else E.EngineError(f"AWS Secrets Manager refused storing {name}: {m}"))}
        self._conn.call("create_secret", f"storing key {key_id}", Name=name,
                        SecretString=lamassu_secret_string(private), codes=codes)
        return name

    # --- keys ------------------------------------------------------------

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        known = known if isinstance(known, (set, frozenset)) else frozenset(known)
        params: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [self.prefix]}]} if self.prefix else {}
        for page in self._conn.pages("list_secrets", "listing secrets", self._page_size, **params):
            wanted: list[tuple[str, str]] = []
            for secret in page.get("SecretList", []):
                name = secret.get("Name", "")
                if not self._is_key_name(name):
                    if self.prefix and name.startswith(self.prefix):
                        log.warning("Secret %s is under prefix %r but not named by a key id: skipped.",
                                    clean(name, 120), self.prefix)
                    continue  # without a prefix, any other secret of the account is no concern of ours
                if name in known and not full:
                    yield NativeKey.seen(name)  # listed is present: its value is not read again
                    continue
                stages = secret.get("SecretVersionsToStages") or {}
                version = next((v for v, s in stages.items() if "AWSCURRENT" in s), "")
                if (name, version) in self._public:
                    yield self._public[(name, version)]
                else:
                    wanted.append((name, version))
            for start in range(0, len(wanted), _BATCH):
                yield from self._read_many(wanted[start:start + _BATCH])

    def _read_many(self, chunk: list[tuple[str, str]]) -> Iterator[NativeKey]:
        values: list[tuple[str, str, object]] = []
        if self._batch:
            try:
                answer = self._conn.call("batch_get_secret_value", f"reading {len(chunk)} keys",
                                         SecretIdList=[name for name, _ in chunk])
                values = [(v.get("Name"), v.get("VersionId", ""), v.get("SecretString"))
                          for v in answer.get("SecretValues", [])]
                for error in answer.get("Errors", []):
                    if error.get("ErrorCode") != "ResourceNotFoundException":  # deleted while listing
                        log.warning("Secret %s could not be read: %s.", clean(error.get("SecretId"), 120),
                                    clean(error.get("ErrorCode"), 60))
                chunk = []
            except AwsAccessDenied:
                log.info("Engine %s may not call BatchGetSecretValue; reading secrets one by one.", self.engine_id)
                self._batch = False
        for name, version in chunk:
            try:
                value = self._conn.call("get_secret_value", f"reading key {name}", SecretId=name,
                                        codes=self._codes(name))
            except E.KeyNotFoundInEngine:
                continue  # deleted while listing
            values.append((name, version or value.get("VersionId", ""), value.get("SecretString")))
        for name, version, secret_string in values:
            try:
                native = self._native(name, self._parse(name, secret_string))
            except E.KeyParseError as exc:
                log.warning("Skipped secret %s: %s.", name, exc.title)
                continue
            self._public[(name, version)] = native
            yield native

    # --- deletion --------------------------------------------------------

    def delete(self, ref: str, **options: str) -> str | None:
        opts = check_options(self.DELETE_OPTIONS, options, f"deleting from {self.DISPLAY}")
        days, force = opts["recovery_window_days"], opts["force"] == "true"
        if not force and (not days.isdigit() or not 7 <= int(days) <= 30):
            raise E.EngineConfigError("recovery_window_days must be a whole number of days from 7 to 30.")
        name = self._name(ref)
        if force:
            # AWS answers a forced delete of a missing secret with success: look first.
            meta = self._conn.call("describe_secret", f"reading secret {name}", SecretId=name, codes=self._codes(name))
            if meta.get("DeletedDate"):
                raise KeyPendingDeletion(f"Key {name} of engine {self.engine_id!r} is already deleted.",
                                         hint="Restore it first to delete it at once.")
            self._conn.call("delete_secret", f"deleting key {name}", SecretId=name, ForceDeleteWithoutRecovery=True,
                            codes=self._codes(name))
            return None
        self._conn.call("delete_secret", f"deleting key {name}", SecretId=name, RecoveryWindowInDays=int(days),
                        codes=self._codes(name))
        return "PendingDeletion"

    def discard(self, ref: str) -> None:
        """A key that could not be recorded goes at once, with no recovery window."""
        name = self._name(ref)
        self._conn.call("delete_secret", f"discarding key {name}", SecretId=name, ForceDeleteWithoutRecovery=True,
                        codes=self._codes(name))

    def key_action(self, ref: str, action: str) -> NativeKey:
        if action != "restore":
            raise E.OperationNotSupported(f"{self.DISPLAY} has no key action {action[:40]!r}.",
                                          hint="Actions: restore.")
        name = self._name(ref)
        meta = self._conn.call("describe_secret", f"reading secret {name}", SecretId=name, codes=self._codes(name))
        if not meta.get("DeletedDate"):
            raise KeyStateConflict(f"Key {name} of engine {self.engine_id!r} is not deleted: there is nothing to restore.")
        self._conn.call("restore_secret", f"restoring key {name}", SecretId=name, codes=self._codes(name))
        return self.get(name)
