"""The Kms service: the one place that uses the engines and the store together.

Both front ends (the Textual app and the headless CLI) call this and nothing
below it. It never imports Textual. Methods block (engine I/O, key generation,
SQLite): the TUI calls them from thread workers.

``Kms`` holds a shared context and the named services; each service is a class
whose constructor takes the context and the services it calls:

===================  ===========================  =============================================
``kms.<service>``    class (module)               what it does
===================  ===========================  =============================================
``context``          ServiceContext (core)        data_dir, store, credentials, prompt, the open
                                                  drivers (``driver``, ``on_current_secret``,
                                                  ``forget_driver``, ``without_prompts``)
``keys``             KeyService (key_ops)         resolve, list, count, inspect, create, import,
                                                  export, rename, aliases, tags, metadata,
                                                  bind/unbind; delete, key actions and
                                                  purge_expired (KeyDeletion, deletion)
``engines``          EngineService (engine_ops)   list, get, register, test, types, default,
                                                  unregister
``engines.secrets``  EngineSecrets                location, set, reveal, rekey (rekey), pending;
                     (engine_secrets)             kept passphrases (custody)
``signing``          SigningService (signing)     sign, sign_batch, verify, verify_with_public_key
                                                  — needs ``keys``
``signing.proofs``   KeyProofs (integrity)        a signature comes only from the recorded key
``inventory``        InventoryService (inventory) sync, stats
``audit``            AuditService (audit)         rows, keys_known_as, verify
``doctor``           DoctorService (doctor)       run — needs ``engines``, ``inventory``,
                                                  ``signing.proofs``
``ceremony``         CeremonyService (ceremony)   the engine facts a key ceremony checks and
                                                  records — needs ``engines``
``csr``              CsrService (csr)             make: a CSR signed by any key's engine — needs
                                                  ``keys``, ``signing``
``certificates``     CertificateService           self_signed, issue: certificates from a profile,
                     (certificates)               linted by pkilint — needs ``keys``, ``signing``
``rotation``         RotationService (rotation)   plan, rotate (successor, aliases moved, links,
                                                  predecessor retired), links — needs ``keys``
``certs``            CertService (certs)          add, show, export, remove, list: certificates
                                                  bound to keys — needs ``keys``, ``signing.proofs``
``backup``           BackupService (backup)       create, read, check_share, restore: keys backed
                                                  up under M-of-N SLIP-39 shares; escrow_import:
                                                  AWS KMS import escrowed first — needs ``keys``
``quantum``          QuantumService               rows, exposure: the quantum migration inventory
                     (quantum_report)             (NIST IR 8547 draft dates, ML-DSA suggestions)
===================  ===========================  =============================================
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store import CredentialStore

    from .audit import AuditService
    from .backup import BackupService
    from .backup_policy import state as backup_state
    from .batch_run import BatchSummary
    from .ceremony import CeremonyEngine, CeremonyService
    from .certificates import CertificateResult, CertificateService
    from .certs import CertService, CertView
    from .compat import Compatibility, LamassuIncompatible, Verdict
    from .core import DEFAULT_ENGINE_ID, SecretPrompt, SecretRequest, ServiceContext
    from .csr import CsrResult, CsrService
    from .deletion import ExpiredKey
    from .doctor import DoctorService
    from .doctor_report import DoctorReport, Finding
    from .engine_ops import EngineService
    from .engine_secrets import LOCATIONS as SECRET_LOCATIONS
    from .engine_views import EngineCheck, EngineRemoval, EngineTypeInfo, EngineView
    from .inventory import InventoryService, SyncReport
    from .key_ops import KeyService
    from .quantum_report import QuantumService
    from .retirement import is_retired
    from .rotation import RotationPlan, RotationResult, RotationService
    from .rotation_links import RotationLinks
    from .signing import SigningService

# The names this package hands out, each imported from its module on first use (PEP 562): a
# one-shot command imports only the services it calls.
_EXPORTS = {
    "BatchSummary": ".batch_run", "CeremonyEngine": ".ceremony", "DEFAULT_ENGINE_ID": ".core",
    "DoctorReport": ".doctor_report", "EngineCheck": ".engine_views", "EngineRemoval": ".engine_views",
    "EngineTypeInfo": ".engine_views", "EngineView": ".engine_views", "ExpiredKey": ".deletion",
    "Finding": ".doctor_report", "SECRET_LOCATIONS": ".engine_secrets", "SecretPrompt": ".core",
    "SecretRequest": ".core", "ServiceContext": ".core", "SyncReport": ".inventory",
    "Compatibility": ".compat", "LamassuIncompatible": ".compat", "Verdict": ".compat", "CsrResult": ".csr",
    "CertificateResult": ".certificates",
    "RotationLinks": ".rotation_links", "is_retired": ".retirement", "RotationPlan": ".rotation", "RotationResult": ".rotation",
    "CertView": ".certs", "backup_state": ".backup_policy",
}
_RENAMED = {"SECRET_LOCATIONS": "LOCATIONS", "backup_state": "state"}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), _RENAMED.get(name, name))
    globals()[name] = value
    return value


class Kms:
    """Every operation of the workstation (DESIGN §3), grouped in services (see the module docstring).

    Each service is built, and its module imported, when it is first used, then kept as an
    attribute: a one-shot command pays only for the services it calls.
    """

    context: ServiceContext
    keys: KeyService
    engines: EngineService
    signing: SigningService
    inventory: InventoryService
    audit: AuditService
    doctor: DoctorService
    ceremony: CeremonyService
    csr: CsrService
    certificates: CertificateService
    rotation: RotationService
    certs: CertService
    backup: BackupService
    quantum: QuantumService

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        credentials: CredentialStore | None = None,
        prompt: SecretPrompt | None = None,
    ) -> None:
        from .core import ServiceContext
        from .errors import user_errors

        with user_errors():  # a database or directory refused as it opens
            context = ServiceContext(data_dir, credentials=credentials, prompt=prompt)
        self.context = context

    if not TYPE_CHECKING:  # to mypy, the services are the attributes declared above

        def __getattr__(self, name: str) -> Any:
            make = _SERVICES.get(name)
            if make is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            with _MAKING:  # built once, even when two threads ask first
                made = vars(self).get(name)
                if made is None:
                    made = make(self)
                    setattr(self, name, made)
            return made

    @property
    def data_dir(self) -> Path:
        return self.context.data_dir

    @property
    def prompt(self) -> SecretPrompt | None:
        """Asked for a secret the keyring does not hold (the front end's getpass or modal)."""
        return self.context.prompt

    @prompt.setter
    def prompt(self, prompt: SecretPrompt | None) -> None:
        self.context.prompt = prompt

    def close(self) -> None:
        """Close every open driver, then the store."""
        self.context.close()

    def __enter__(self) -> Kms:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _keys(kms: Kms) -> KeyService:
    from .key_ops import KeyService

    return KeyService(kms.context)


def _engines(kms: Kms) -> EngineService:
    from .engine_ops import EngineService
    from .engine_secrets import EngineSecrets

    return EngineService(kms.context, EngineSecrets(kms.context))


def _signing(kms: Kms) -> SigningService:
    from .integrity import KeyProofs
    from .signing import SigningService

    return SigningService(kms.context, kms.keys, KeyProofs(kms.context))


def _inventory(kms: Kms) -> InventoryService:
    from .inventory import InventoryService

    return InventoryService(kms.context, lambda: kms.certs)


def _audit(kms: Kms) -> AuditService:
    from .audit import AuditService

    return AuditService(kms.context)


def _doctor(kms: Kms) -> DoctorService:
    from .doctor import DoctorService

    return DoctorService(kms.context, kms.engines, kms.inventory, kms.signing.proofs, lambda: kms.certs)


def _ceremony(kms: Kms) -> CeremonyService:
    from .ceremony import CeremonyService

    return CeremonyService(kms.context, kms.engines)


def _csr(kms: Kms) -> CsrService:
    from .csr import CsrService

    return CsrService(kms.context, kms.keys, kms.signing)


def _certificates(kms: Kms) -> CertificateService:
    from .certificates import CertificateService

    return CertificateService(kms.context, kms.keys, kms.signing)


def _certs(kms: Kms) -> CertService:
    from .certs import CertService

    return CertService(kms.context, kms.keys, kms.signing.proofs)


def _rotation(kms: Kms) -> RotationService:
    from .rotation import RotationService

    return RotationService(kms.context, kms.keys)


def _backup(kms: Kms) -> BackupService:
    from .backup import BackupService

    return BackupService(kms.context, kms.keys)


def _quantum(kms: Kms) -> QuantumService:
    from .quantum_report import QuantumService

    return QuantumService(kms.context)


_SERVICES: dict[str, Callable[[Kms], object]] = {
    "keys": _keys, "engines": _engines, "signing": _signing, "inventory": _inventory, "audit": _audit,
    "doctor": _doctor, "ceremony": _ceremony, "csr": _csr,
    "certificates": _certificates, "certs": _certs,
    "rotation": _rotation, "backup": _backup, "quantum": _quantum,
}
_MAKING = threading.RLock()


__all__ = [
    "BatchSummary", "CeremonyEngine", "DEFAULT_ENGINE_ID", "DoctorReport", "EngineCheck", "EngineRemoval",
    "EngineTypeInfo", "EngineView", "ExpiredKey", "Finding", "Kms", "SECRET_LOCATIONS", "SecretPrompt",
    "SecretRequest", "ServiceContext", "SyncReport", "Compatibility", "LamassuIncompatible", "Verdict",
    "CsrResult", "CertificateResult", "CertView",
    "RotationLinks", "RotationPlan", "RotationResult", "backup_state", "is_retired",
]
