"""The Kms is a small object holding a shared context and named services, each built from what it needs."""

from __future__ import annotations

import inspect

from kms_tui.service import Kms, ServiceContext
from kms_tui.service.audit import AuditService
from kms_tui.service.backup import BackupService
from kms_tui.service.ceremony import CeremonyService
from kms_tui.service.certificates import CertificateService
from kms_tui.service.certs import CertService
from kms_tui.service.doctor import DoctorService
from kms_tui.service.engine_ops import EngineService
from kms_tui.service.engine_secrets import EngineSecrets
from kms_tui.service.errors import Service
from kms_tui.service.integrity import KeyProofs
from kms_tui.service.inventory import InventoryService
from kms_tui.service.key_ops import KeyService
from kms_tui.service.rotation import RotationService
from kms_tui.service.signing import SigningService
from store import CredentialStore

SERVICES = {"keys": KeyService, "engines": EngineService, "signing": SigningService, "inventory": InventoryService,
            "audit": AuditService, "doctor": DoctorService, "ceremony": CeremonyService, "rotation": RotationService,
            "certificates": CertificateService, "certs": CertService, "backup": BackupService}


def test_each_service_is_reachable_by_name(kms):
    for name, cls in SERVICES.items():
        assert type(getattr(kms, name)) is cls, name
    assert type(kms.engines.secrets) is EngineSecrets
    assert type(kms.signing.proofs) is KeyProofs
    assert type(kms.context) is ServiceContext and kms.data_dir == kms.context.data_dir


def test_the_kms_keeps_no_operation_of_its_own(kms):
    public = {name for name in dir(Kms) if not name.startswith("_")}
    assert public == {"close", "data_dir", "prompt"}  # plus the context and the services, per instance
    assert set(vars(kms)) == {"context"}  # each service is built when first used
    built = {name: getattr(kms, name) for name in SERVICES}
    assert set(vars(kms)) == {"context", *SERVICES}
    assert all(vars(kms)[name] is service for name, service in built.items())  # once, then kept
    assert all(not inspect.isroutine(getattr(kms, name)) for name in vars(kms))
    assert not hasattr(kms, "sign") and not hasattr(kms, "list")


def test_no_service_inherits_from_another():
    """Services share only the error boundary; none is built by inheriting another's methods."""
    for cls in [*SERVICES.values(), EngineSecrets, KeyProofs]:
        assert cls.__bases__ == (Service,), cls
    assert ServiceContext.__bases__ == (object,)
    assert [name for name in vars(Service) if not name.startswith("_")] == []


def test_the_prompt_is_the_contexts(kms):
    def asked(request):
        return None

    kms.prompt = asked
    assert kms.context.prompt is asked and kms.prompt is asked


def test_services_built_from_a_context_alone(data_dir, memory_keyring):
    context = ServiceContext(data_dir, credentials=CredentialStore(backend=memory_keyring))
    try:
        keys = KeyService(context)
        signing = SigningService(context, keys, KeyProofs(context))
        record = keys.create("ECDSA", 256, "composed")
        signature = signing.sign("composed", "ECDSA_SHA_256", b"m")
        assert signing.verify(record.key_id, "ECDSA_SHA_256", b"m", signature)
        actions = [row.action for row in AuditService(context).rows(limit=10)]
        assert actions[:2] == ["key.sign", "key.create"]
        assert InventoryService(context).stats()["total"] == 1
    finally:
        context.close()


def test_forgetting_a_driver_forgets_its_proofs(kms):
    kms.keys.create("ED25519", 256, "proven")
    kms.signing.sign("proven", "ED25519", b"m")
    proofs = kms.signing.proofs
    assert any(key[0] == "golang-default" for key in proofs._cache)
    kms.context.forget_driver("golang-default")
    assert not proofs._cache


def test_a_service_first_used_by_several_threads_is_built_once(kms):
    import threading

    start = threading.Barrier(6)
    seen = []

    def use() -> None:
        start.wait()
        seen.append(kms.doctor)

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(seen) == 6 and all(service is kms.doctor for service in seen)
    assert kms.doctor.__class__ is DoctorService
