"""Software engine (Lamassu ``GOLANG``): one PEM private key file per key in a directory.

Layout, as Lamassu's filesystem engine keeps it: ``<directory>/<key_id>``, file mode
0600, directory 0700 when made here (an existing one keeps its mode; what is trusted
is in file_trust). Lamassu writes clear PKCS#8; here keys are encrypted at rest by
default (PKCS#8 ``ENCRYPTED PRIVATE KEY`` with the engine passphrase), and clear files
found in the directory (PKCS#8, PKCS#1, SEC1) are read as they are, so keys made by
either side are usable by both. Create, import, signing and the integrity proof are
``StoredKeyEngine``'s (engines.stored); this module reads, writes and lists the files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator
from typing import TypeGuard

from .. import errors as E
from .. import file_trust as FT
from .. import keys as K
from .. import lamassu
from ..base import NativeKey, OptionSpec, SecretSpec
from ..stored import StoredKeyEngine
from . import rekey as R
from .deletion import TrashDeletion
from .trash import fsync_dir, write_new_private

log = logging.getLogger("engines.software")

_HEX = frozenset("0123456789abcdef")
_CACHE_SIZE = 64  # private key objects kept decrypted, so a batch of signatures decrypts once


# PEM headers of clear private keys: Lamassu writes PKCS#8; PKCS#1 and SEC1 are read by both.
_CLEAR_PEM = (b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----", b"-----BEGIN EC PRIVATE KEY-----")


def _lamassu_encrypt(given: str | None) -> str:
    """``encrypt`` on an engine shared with Lamassu: false, which it is when not given."""
    if given not in (None, "", "false"):
        raise E.EngineConfigError(
            "A software engine shared with Lamassu cannot encrypt its key files (encrypt=true).",
            hint="Lamassu's filesystem engine reads clear PEM files only; leave encrypt out or set encrypt=false.",
        )
    return "false"


def _valid_ref(ref: object) -> TypeGuard[str]:
    """Only a key id (64 hex) or a legacy SKI id (40 hex), lowercase, ever becomes a path."""
    return isinstance(ref, str) and len(ref) in (64, 40) and set(ref) <= _HEX


class SoftwareEngine(TrashDeletion, StoredKeyEngine):
    TYPE = "GOLANG"
    DISPLAY = "Software"
    PROVIDER = "Lamassu (software)"
    SECURITY_LEVEL = 0
    OPTIONS = (
        OptionSpec("directory", "the directory holding one PEM file per key", required=True),
        OptionSpec("encrypt", "encrypt private keys at rest (true/false)", default="true", choices=("true", "false")),
    )
    SECRET = SecretSpec("at-rest passphrase", generated=True, required=False, min_length=12)
    HOLDER = "The software engine"

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
        self._cache: OrderedDict[str, tuple[FT.FileIdentity, K.PrivateKey]] = OrderedDict()

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        options = dict(options)
        if options.get("encrypt") is not None:  # accept True / "TRUE" from forms and flags
            options["encrypt"] = str(options["encrypt"]).strip().lower()
        if lamassu.shared(options):
            options["encrypt"] = _lamassu_encrypt(options.get("encrypt"))
        return super().validate_options(options)

    @classmethod
    def lamassu_files(cls, directory: str) -> int:
        """How many clear key files as Lamassu writes them a directory holds; 0 when it holds an encrypted one.

        Lamassu's filesystem engine writes ``<directory>/<key id>`` (the 64-hex SHA-256 of the
        public key) holding a clear PEM ``PRIVATE KEY`` (lamassuiot/lamassuiot
        engines/crypto/filesystem/filesystem.go ``importKey``; the PEM block from
        engines/crypto/software/software.go ``MarshalAndEncodePKIXPrivateKey``). Only the PEM
        header of each file is looked at; nothing is parsed, logged or kept.
        """
        directory = os.path.abspath(os.path.expanduser(directory))
        clear = 0
        try:
            with os.scandir(directory) as entries:
                names = [e.path for e in entries if K.is_key_id(e.name) and e.is_file(follow_symlinks=False)]
        except OSError:
            return 0
        for path in names:
            with contextlib.suppress(E.KmsError):
                head = R.read(path)[0][:128].lstrip()
                if R.is_encrypted(head):
                    return 0
                clear += head.startswith(_CLEAR_PEM)
        return clear

    @classmethod
    def needs_secret(cls, options: dict[str, str]) -> bool:
        # Optional in SECRET because a clear (Lamassu-style) engine has none; encryption needs it.
        return str(options.get("encrypt", "true")).strip().lower() == "true"

    @classmethod
    def default_options(cls, engine_id: str, data_dir: str) -> dict[str, str]:
        return {"directory": f"{data_dir}/keys/{engine_id}"}

    # --- files -----------------------------------------------------------

    def _path(self, ref: object) -> str:
        if not _valid_ref(ref):
            raise self._not_found(ref)
        return os.path.join(self.directory, ref)

    def _refuse_if_open_to_others(self) -> None:
        """A key directory that group or others may write to is not trusted, for reading or writing.

        Anyone with write access could have replaced a key file (or will); tightening the
        mode silently would hide that, so the operator is told and fixes it knowingly.
        Another user's directory is refused too (file_trust).
        """
        FT.check_key_dir(self.directory, self.engine_id)

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

    def _file(self, ref: str, read: bool = True) -> tuple[FT.FileIdentity, bytes]:
        """(identity of the file for the cache, its bytes when ``read``)."""
        path = self._path(ref)
        self._refuse_if_open_to_others()
        try:
            # Opened without following a link, then judged by its descriptor: no window between
            # the check and the read (file_trust). A symlink, another user's file or one that
            # group or others may write to is refused, as ssh refuses such a private key.
            fd, st = FT.open_key_file(path, self.engine_id)
            try:
                if st.st_size > K.MAX_KEY_FILE_BYTES:
                    raise E.KeyParseError(f"Key file {path} is larger than any key file.")
                data = FT.read_fd(fd, K.MAX_KEY_FILE_BYTES + 1) if read else b""
            finally:
                os.close(fd)
        except (FileNotFoundError, NotADirectoryError):
            raise self._gone(ref) from None  # pending deletion when it is in the trash
        except OSError as exc:
            raise E.KeyParseError(f"Key file {path} cannot be read: {exc.strerror}.") from None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size), data

    def _parse(self, ref: str, data: bytes) -> K.PrivateKey:
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
        if parsed.private_key is None:
            raise E.KeyParseError(f"Key file {self._path(ref)} holds no private key.")
        return parsed.private_key

    def _read_private(self, ref: str, *, signing: bool = False) -> K.PrivateKey:
        """The private key object, from the cache while the file is unchanged.

        A 64-hex file name is checked against the key it holds here; a legacy 40-hex name
        (an SKI, whose method the issuer chose) is not, so ``prove`` (which derives the
        public key from this very object) is what catches such a file overwritten.
        """
        signature, _ = self._file(ref, read=False)  # also notices a file removed or replaced
        with self._lock:
            hit = self._cache.get(ref)
            if hit is not None and hit[0] == signature:
                self._cache.move_to_end(ref)
                return hit[1]
        signature, data = self._file(ref)  # the identity of the file actually read is what is cached
        private = self._parse(ref, data)
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
            # parents the umask's mode, e.g. 0777 under umask 0). One that exists keeps its
            # mode: a Lamassu directory shared with its group at 0750 stays so.
            missing, path = [], self.directory
            while not os.path.isdir(path):
                missing.append(path)
                path = os.path.dirname(path)
            for path in reversed(missing):
                try:
                    os.mkdir(path, 0o700)
                except FileExistsError:
                    continue  # made meanwhile by someone else: not ours to change
                os.chmod(path, 0o700)
            self._refuse_if_open_to_others()
        except OSError as exc:
            raise E.EngineUnavailable(
                f"The key directory {self.directory} cannot be created or secured: {exc.strerror}."
            ) from None

    def _fsync_dir(self) -> None:
        fsync_dir(self.directory)

    def _write_private(self, key_id: str, private: K.PrivateKey) -> str:
        self._ensure_dir()
        with R.directory_lock(self.directory, exclusive=False):  # never beside a re-key
            if self.encrypt and self._passphrase and not R.still_current(self.directory, self._passphrase):
                raise E.PassphraseChanged(
                    f"The passphrase of engine {self.engine_id!r} opens none of the encrypted key files in "
                    f"{self.directory}: a new key under it would leave the directory under two passphrases, so "
                    "nothing was written.",
                    hint="If a re-key ran in another process, run the command again. Otherwise the files are "
                    "under another passphrase: give that one (kms-tui engines secret).")
            self._write_file(key_id, private)
        return key_id

    def _write_file(self, key_id: str, private: K.PrivateKey) -> None:
        final = self._path(key_id)
        exists = E.KeyExists(f"Key {key_id} already exists in engine {self.engine_id!r}.")
        if os.path.lexists(final):
            raise exists
        pem = K.private_pkcs8_pem(private, self._passphrase if self.encrypt else None)
        # A dotfile name: never taken for a key by inventory, even if a crash leaves it behind.
        tmp = os.path.join(self.directory, f".{key_id}.{secrets.token_hex(6)}.tmp")
        try:
            write_new_private(tmp, pem)
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

    def proof_stamp(self, ref: str) -> object:
        """The key file's identity (device, inode, mtime, size): a replaced or rewritten file is proven again."""
        return self._file(ref, read=False)[0]

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        """Every readable key file, by name, then the keys in the trash as pending deletion
        (see deletion); a wrong passphrase is raised so a sync never takes keys for gone."""
        names = self._names()
        yield from self._listed(names)
        yield from self._trashed(known, full, set(names))

    def _listed(self, names: list[str]) -> Iterator[NativeKey]:
        for name in names:
            try:
                yield self.get(name)
            except (E.WrongPassphrase, E.InsecurePermissions):
                raise  # an untrusted file (a link, another user's) is said, not taken for a key gone
            except E.KeyNotFoundInEngine:
                continue  # deleted while we were listing
            except E.KmsError as exc:
                # exc.title only: a message may quote the file, and the log must not.
                log.warning("Skipped key file %s in %s: %s.", name, self.directory, exc.title)

    def warnings(self) -> list[str]:
        found = FT.open_warning(self.directory, self.engine_id)
        return [found] if found else []

    def check(self) -> None:
        self._ensure_dir()
        probe = os.path.join(self.directory, f".probe-{secrets.token_hex(6)}")
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(probe)
        except OSError as exc:
            raise E.EngineUnavailable(f"The key directory {self.directory} is not writable: {exc.strerror}.") from None
        if self.encrypt:
            R.prove(self.directory, self._passphrase)  # one encrypted file that decrypts proves the passphrase
        elif lamassu.shared(self.options) and (encrypted := R.encrypted_files(self.directory)):
            raise E.EngineConfigError(
                f"The key directory {self.directory} holds {len(encrypted)} encrypted key file(s): Lamassu, with "
                "which this engine would be shared, reads clear PEM only and could not use them.",
                hint="Register the directory without lamassu=true (its passphrase then opens them), or move the "
                     "encrypted files out first. Nothing was changed.")

    # --- the passphrase --------------------------------------------------------

    @classmethod
    def guarded_material(cls, options: dict[str, str]) -> int | None:
        directory = options.get("directory")
        if not directory:
            return 0
        directory = os.path.abspath(os.path.expanduser(directory))
        if not os.path.isdir(directory):
            return None  # not there (yet, or not mounted): what it holds is unknown
        return len(R.encrypted_files(directory))

    def prove_secret(self, thorough: bool = False) -> str:
        self._refuse_if_open_to_others()
        if not os.path.isdir(self.directory):  # the caller refuses this when a secret was kept before
            return "no key directory yet: nothing to check it against"
        if thorough:  # every encrypted file opens under it, or plan raises WrongPassphrase
            opened = R.plan(self.directory, None, self._passphrase or b"", self.engine_id)[1].already
            return f"it decrypts all {opened} encrypted key file(s)" if opened else \
                "no encrypted key file to check it against"
        name = R.prove(self.directory, self._passphrase)
        return "no encrypted key file to check it against" if name is None else f"it decrypts key file {name}"

    def check_rekey(self, new_passphrase: str) -> int:
        """How many files a re-key would rewrite; refuses (changing nothing) if one opens under neither passphrase."""
        self._refuse_if_open_to_others()
        if not os.path.isdir(self.directory):
            raise E.EngineUnavailable(
                f"The key directory {self.directory} of engine {self.engine_id!r} is not there: a re-key now "
                "would leave its keys under a passphrase the keyring no longer holds; nothing was changed.",
                hint="Mount or restore the directory, then re-key.")
        return len(R.plan(self.directory, self._passphrase, new_passphrase.encode("utf-8"), self.engine_id)[0])

    def rekey(self, new_passphrase: str, progress: R.Progress | None = None) -> R.RekeyResult:
        """Re-encrypt every encrypted key file under ``new_passphrase`` (crash-safe, resumable: see rekey)."""
        self._refuse_if_open_to_others()
        result = R.reencrypt(self.directory, self._passphrase, new_passphrase.encode("utf-8"), progress,
                             self.engine_id)
        with self._lock:
            self._passphrase = new_passphrase.encode("utf-8")
            self._cache.clear()
        return result
