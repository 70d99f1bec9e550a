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
===================  ===========================  =============================================
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from store import CredentialStore

from .audit import AuditService
from .ceremony import CeremonyEngine, CeremonyService
from .core import DEFAULT_ENGINE_ID, SecretPrompt, SecretRequest, ServiceContext
from .deletion import ExpiredKey
from .doctor import DoctorService
from .doctor_report import DoctorReport, Finding
from .engine_ops import EngineService
from .engine_secrets import LOCATIONS as SECRET_LOCATIONS
from .engine_secrets import EngineSecrets
from .engine_views import EngineCheck, EngineRemoval, EngineTypeInfo, EngineView
from .errors import user_errors
from .integrity import KeyProofs
from .inventory import InventoryService, SyncReport
from .key_ops import KeyService
from .signing import BatchSummary, SigningService


class Kms:
    """Every operation of the workstation (DESIGN §3), grouped in services (see the module docstring)."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        credentials: CredentialStore | None = None,
        prompt: SecretPrompt | None = None,
    ) -> None:
        with user_errors():  # a database or directory refused as it opens
            context = ServiceContext(data_dir, credentials=credentials, prompt=prompt)
        self.context = context
        self.keys = KeyService(context)
        self.engines = EngineService(context, EngineSecrets(context))
        self.signing = SigningService(context, self.keys, KeyProofs(context))
        self.inventory = InventoryService(context)
        self.audit = AuditService(context)
        self.doctor = DoctorService(context, self.engines, self.inventory, self.signing.proofs)
        self.ceremony = CeremonyService(context, self.engines)

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


__all__ = [
    "BatchSummary", "CeremonyEngine", "DEFAULT_ENGINE_ID", "DoctorReport", "EngineCheck", "EngineRemoval",
    "EngineTypeInfo", "EngineView", "ExpiredKey", "Finding", "Kms", "SECRET_LOCATIONS", "SecretPrompt",
    "SecretRequest", "ServiceContext", "SyncReport",
]
