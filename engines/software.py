"""Software engine (Lamassu ``GOLANG``): one PEM private key file per key in a directory.

Layout, as Lamassu's filesystem engine keeps it: ``<directory>/<key_id>``, file mode
0600, directory 0700. Lamassu writes clear PKCS#8; here keys are encrypted at rest by
default (PKCS#8 ``ENCRYPTED PRIVATE KEY`` with the engine passphrase), and clear files
found in the directory (PKCS#8, PKCS#1, SEC1) are read as they are, so keys made by
either side are usable by both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator

from . import algorithms as A
from . import errors as E
from . import keys as K
from .base import Capabilities, EngineDriver, NativeKey, OptionSpec, SecretSpec

log = logging.getLogger("engines.software")

_HEX = frozenset("0123456789abcdef")
_CACHE_SIZE = 64  # private key objects kept decrypted, so a batch of signatures decrypts once
_ENCRYPTED_MARKERS = (b"ENCRYPTED PRIVATE KEY", b"Proc-Type: 4,ENCRYPTED")


def _valid_ref(ref: object) -> bool:
    """Only a key id (64 hex) or a legacy SKI id (40 hex), lowercase, ever becomes a path."""
    return isinstance(ref, str) and len(ref) in (64, 40) and set(ref) <= _HEX


class SoftwareEngine(EngineDriver):
    TYPE = "GOLANG"
    DISPLAY = "Software"
    PROVIDER = "Lamassu (software)"
    SECURITY_LEVEL = 0
    OPTIONS = (
        OptionSpec("directory", "the directory holding one PEM file per key", required=True),
        OptionSpec("encrypt", "encrypt private keys at rest (true/false)", default="true", choices=("true", "false")),
    )
    SECRET = SecretSpec("at-rest passphrase", generated=True, required=False)
    # create, import and delete; public keys are recorded by the service, without an engine
    CAPABILITIES = Capabilities(can_import_public=False, native_verify=False)
    SUPPORTED = {A.RSA: A.RSA_CREATE_SIZES, A.ECDSA: A.ECDSA_SIZES, A.ED25519: A.ED25519_SIZES}

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        super().__init__(engine_id, options, secret)
        self.directory = os.path.abspath(os.path.expanduser(self.options["directory"]))
        self.encrypt = self.options.get("encrypt") == "true"
        if self.encrypt and not secret:
            raise E.EngineConfigError(
                f"Engine {engine_id!r} encrypts keys at rest and needs its at-rest passphrase.",
                hint="Give one, or set encrypt=false to keep clear Lamassu files.",
            )
        # Also kept when encrypt is off, so encrypted files already in the directory stay readable.
        self._passphrase = secret.encode("utf-8") if secret else None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple, object]] = OrderedDict()

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        options = dict(options)
        if options.get("encrypt") is not None:  # accept True / "TRUE" from forms and flags
            options["encrypt"] = str(options["encrypt"]).strip().lower()
        return super().validate_options(options)

    @classmethod
    def needs_secret(cls, options: dict[str, str]) -> bool:
        # Optional in SECRET because a clear (Lamassu-style) engine has none; encryption needs it.
        return str(options.get("encrypt", "true")).strip().lower() == "true"

    @classmethod
    def default_options(cls, engine_id: str, data_dir: str) -> dict[str, str]:
        return {"directory": f"{data_dir}/keys/{engine_id}"}

    def supported_key_types(self) -> dict[str, tuple[int, ...]]:
        return dict(self.SUPPORTED)

    # --- files -----------------------------------------------------------

    def _not_found(self, ref: object) -> E.KeyNotFoundInEngine:
        shown = repr(ref[:100] if isinstance(ref, str) else ref)  # quoted and cut short: it may be hostile
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return E.KeyNotFoundInEngine(f"Engine {self.engine_id!r} holds no key {shown}.")

    def _path(self, ref: object) -> str:
        if not _valid_ref(ref):
            raise self._not_found(ref)
        return os.path.join(self.directory, ref)

    def _refuse_if_open_to_others(self) -> None:
        """A key directory that group or others may write to is not trusted, for reading or writing.

        Anyone with write access could have replaced a key file (or will); tightening the
        mode silently would hide that, so the operator is told and fixes it knowingly.
        """
        try:
            mode = stat.S_IMODE(os.stat(self.directory).st_mode)
        except OSError:
            return  # absent: created private on first write; unreadable: the caller says so
        if mode & 0o022:
            raise E.InsecurePermissions(
                f"The key directory {self.directory} of engine {self.engine_id!r} is writable by "
                f"{'group and others' if mode & 0o022 == 0o022 else 'its group' if mode & 0o020 else 'others'} "
                f"(mode {mode:04o}); its key files are neither read nor written.",
                hint=f"Check that its files are yours, then: chmod 700 {self.directory}",
            )

    def _names(self) -> list[str]:
        """Key file names; temp files, dotfiles and anything else are not keys."""
        self._refuse_if_open_to_others()
        try:
            with os.scandir(self.directory) as entries:
                return sorted(e.name for e in entries if _valid_ref(e.name))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise E.EngineUnavailable(f"The key directory {self.directory} cannot be listed: {exc.strerror}.") from None

    def _file(self, ref: str, read: bool = True) -> tuple[tuple, bytes]:
        """(identity of the file for the cache, its bytes when ``read``)."""
        path = self._path(ref)
        self._refuse_if_open_to_others()
        try:
            st = os.stat(path)
            # Checked before opening: a FIFO would block, and a huge file is never a key.
            if not stat.S_ISREG(st.st_mode) or st.st_size > K.MAX_KEY_FILE_BYTES:
                raise E.KeyParseError(f"Key file {path} is not a regular file of a key's size.")
            data = b""
            if read:
                with open(path, "rb") as fh:
                    data = fh.read(K.MAX_KEY_FILE_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(ref) from None
        except OSError as exc:
            raise E.KeyParseError(f"Key file {path} cannot be read: {exc.strerror}.") from None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size), data

    def _parse(self, ref: str, data: bytes):
        try:
            parsed = K.parse_key(data, self._passphrase)
        except E.WrongPassphrase:
            why = "the engine has no passphrase" if self._passphrase is None else "the passphrase does not decrypt it"
            raise E.WrongPassphrase(f"Key {ref} of engine {self.engine_id!r} is encrypted and {why}.") from None
        except E.KmsError:
            # parse_key's message may quote parts of the file (JWK members): not repeated here.
            raise E.KeyParseError(
                f"Key file {self._path(ref)} is not a readable private key (PEM PKCS#8, PKCS#1 or SEC1)."
            ) from None
        if not parsed.has_private_key:
            raise E.KeyParseError(f"Key file {self._path(ref)} holds no private key.")
        return parsed.private_key

    def _load(self, ref: str):
        """The private key object, from the cache while the file is unchanged."""
        signature, _ = self._file(ref, read=False)  # also notices a file removed or replaced
        with self._lock:
            hit = self._cache.get(ref)
            if hit is not None and hit[0] == signature:
                self._cache.move_to_end(ref)
                return hit[1]
        private = self._parse(ref, self._file(ref)[1])
        key_id = K.key_id_of(private.public_key())
        if len(ref) == 64 and ref != key_id:
            # Lamassu names the file by the key id: another key under that name was put there.
            raise E.KeyIntegrityError(
                f"Key file {self._path(ref)} of engine {self.engine_id!r} holds key {key_id[:16]}…, "
                f"not key {ref[:16]}…: it was replaced or damaged, and is not used.",
                hint="Restore the file from a backup; kms-tui doctor lists every such file.",
            )
        with self._lock:
            self._cache[ref] = (signature, private)
            self._cache.move_to_end(ref)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return private

    def _ensure_dir(self) -> None:
        try:
            # Every directory made here is 0700 whatever the umask (makedirs would give the
            # parents the umask's mode, e.g. 0777 under umask 0).
            missing, path = [], self.directory
            while not os.path.isdir(path):
                missing.append(path)
                path = os.path.dirname(path)
            for path in reversed(missing):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(path, 0o700)
                os.chmod(path, 0o700)
            self._refuse_if_open_to_others()
            if stat.S_IMODE(os.stat(self.directory).st_mode) & 0o077:
                os.chmod(self.directory, 0o700)  # readable by others only: made private again
        except OSError as exc:
            raise E.EngineUnavailable(
                f"The key directory {self.directory} cannot be created or secured: {exc.strerror}."
            ) from None

    def _fsync_dir(self) -> None:
        # Makes a new or removed name durable; some filesystems refuse fsync on a directory.
        with contextlib.suppress(OSError):
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _write(self, key_id: str, private) -> None:
        self._ensure_dir()
        final = self._path(key_id)
        exists = E.KeyExists(f"Key {key_id} already exists in engine {self.engine_id!r}.")
        if os.path.lexists(final):
            raise exists
        pem = K.private_pkcs8_pem(private, self._passphrase if self.encrypt else None)
        # A dotfile name: never taken for a key by inventory, even if a crash leaves it behind.
        tmp = os.path.join(self.directory, f".{key_id}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o600)  # exact mode whatever the umask
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, final)  # atomic like os.replace, but never replaces an existing file
            except FileExistsError:
                raise exists from None
            except OSError:  # a filesystem without hard links: the lexists check above must do
                os.replace(tmp, final)
        except OSError as exc:
            raise E.EngineUnavailable(f"Key {key_id} could not be written to {self.directory}: {exc.strerror}.") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._fsync_dir()

    # --- keys ------------------------------------------------------------

    def _native(self, ref: str, private) -> NativeKey:
        public = private.public_key()
        algorithm, size = K.describe(public)
        key_id = K.key_id_of(public)  # equal to a 64-hex ref: _load refuses a file that holds another key
        return NativeKey(ref=ref, key_id=key_id, public_key=public, algorithm=algorithm, size=size)

    def get(self, ref: str) -> NativeKey:
        return self._native(ref, self._load(ref))

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        """Every readable key file, by name; a wrong passphrase is raised so a sync never takes keys for gone."""
        for name in self._names():
            try:
                yield self.get(name)
            except E.WrongPassphrase:
                raise
            except E.KeyNotFoundInEngine:
                continue  # deleted while we were listing
            except E.KmsError as exc:
                # exc.title only: a message may quote the file, and the log must not.
                log.warning("Skipped key file %s in %s: %s.", name, self.directory, exc.title)

    def create(self, algorithm: str, size: int) -> NativeKey:
        algorithm, size = A.validate_spec(algorithm, size, self.supported_key_types())
        private = K.generate(algorithm, size)
        key_id = K.key_id_of(private.public_key())
        self._write(key_id, private)
        return NativeKey(ref=key_id, key_id=key_id, public_key=private.public_key(), algorithm=algorithm, size=size)

    def import_key(self, key: K.ParsedKey) -> NativeKey:
        if not key.has_private_key:
            raise E.OperationNotSupported(
                "The software engine stores private keys only; a public key is kept as a public-key-only entry."
            )
        if key.algorithm not in self.SUPPORTED:
            raise E.UnsupportedKeyType(f"The software engine cannot hold {key.algorithm} keys.")
        key_id = key.key_id
        self._write(key_id, key.private_key)
        return NativeKey(ref=key_id, key_id=key_id, public_key=key.public_key, algorithm=key.algorithm, size=key.size)

    def sign(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType) -> bytes:
        return K.sign_with(self._load(ref), sig_alg, data, message_type)

    @contextlib.contextmanager
    def signer(self, ref: str, sig_alg: A.SigningAlgorithm, message_type: A.MessageType):
        yield K.signer_for(self._load(ref), sig_alg, message_type)

    def delete(self, ref: str, **options: str) -> None:
        path = self._path(ref)
        self._refuse_if_open_to_others()
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(ref) from None
        except OSError as exc:
            raise E.EngineUnavailable(f"Key file {path} could not be deleted: {exc.strerror}.") from None
        finally:
            with self._lock:
                self._cache.pop(ref, None)
        self._fsync_dir()

    def check(self) -> None:
        self._ensure_dir()
        probe = os.path.join(self.directory, f".probe-{secrets.token_hex(6)}")
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(probe)
        except OSError as exc:
            raise E.EngineUnavailable(f"The key directory {self.directory} is not writable: {exc.strerror}.") from None
        if not self.encrypt:
            return
        wrong: E.WrongPassphrase | None = None
        for name in self._names():  # one encrypted file that decrypts proves the passphrase
            try:
                data = self._file(name)[1]
                if not any(marker in data for marker in _ENCRYPTED_MARKERS):
                    continue
                self._parse(name, data)
                return
            except E.WrongPassphrase as exc:
                wrong = wrong or exc
            except E.KmsError:
                continue
        if wrong is not None:
            raise wrong
