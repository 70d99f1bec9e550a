"""Data directories for the benchmarks: N recorded keys and one engine of each type.

Keys are recorded through the store's own ``add_key`` (one transaction for all),
so the database is exactly what kms-tui writes. Public keys are real and
distinct (P-256, P-384 and Ed25519, generated here); names, aliases and tags
look like a device fleet with a few CA keys.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from engines.algorithms import ED25519, strength
from store import EngineRecord, KeyRecord, Store

ENGINES = {  # one engine of each type; options that need no server to be recorded
    "pkcs11-hsm": ("PKCS11", {"module": "/usr/lib/softhsm/libsofthsm2.so", "token": "bench"}),
    "aws-kms": ("AWS_KMS", {"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9"}),
    "aws-sm": ("AWS_SECRETS_MANAGER", {"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9"}),
    "vault": ("HASHICORP_VAULT_KV_V2", {"address": "http://127.0.0.1:9"}),
    "azure": ("AZURE_KEY_VAULT", {"vault_url": "https://bench.vault.azure.net", "tenant_id": "00000000-0000-0000-0000-000000000000",
                                  "client_id": "00000000-0000-0000-0000-000000000001"}),
}
_SPKI = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
_DER = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_keys(n: int):
    makers = [(lambda: ec.generate_private_key(ec.SECP256R1()), "ECDSA", 256)] * 6 + [
        (lambda: ec.generate_private_key(ec.SECP384R1()), "ECDSA", 384),
        (ed25519.Ed25519PrivateKey.generate, ED25519, 256),
    ]
    for i in range(n):
        make, algorithm, size = makers[i % len(makers)]
        public = make().public_key()
        yield public.public_bytes(*_SPKI).decode(), hashlib.sha256(public.public_bytes(*_DER)).hexdigest(), algorithm, size


def make_inventory(data_dir: Path, n: int, *, with_engines: bool = True, seed: int = 7) -> float:
    """Fill a fresh data directory; returns the seconds it took."""
    started = time.perf_counter()
    shutil.rmtree(data_dir, ignore_errors=True)
    rng = random.Random(seed)
    from engines import driver_class
    from kms_tui.service.core import DEFAULT_ENGINE_ID

    store = Store(data_dir)
    try:
        cls = driver_class("GOLANG")
        options = cls.validate_options(cls.default_options(DEFAULT_ENGINE_ID, str(data_dir)))
        engine_ids = [DEFAULT_ENGINE_ID]
        with store.transaction():
            store.add_engine(EngineRecord(id=DEFAULT_ENGINE_ID, type="GOLANG", name="Default software engine",
                                          provider=cls.PROVIDER, security_level=cls.SECURITY_LEVEL, config=options,
                                          is_default=True, supported_key_types={}))
            if with_engines:
                for engine_id, (etype, opts) in ENGINES.items():
                    dcls = driver_class(etype)
                    store.add_engine(EngineRecord(id=engine_id, type=etype, name=engine_id, provider=dcls.PROVIDER,
                                                  security_level=dcls.SECURITY_LEVEL, config=dcls.validate_options(opts),
                                                  is_default=False, supported_key_types={}))
                    engine_ids.append(engine_id)
            for i, (pem, key_id, algorithm, size) in enumerate(_public_keys(n)):
                fleet = rng.choice(("gateway", "meter", "sensor", "camera", "router"))
                engine_id = engine_ids[i % len(engine_ids)] if i % 10 == 0 else DEFAULT_ENGINE_ID
                store.add_key(KeyRecord(
                    key_id=key_id, engine_id=engine_id, name=f"{fleet}-{i:06d}", algorithm=algorithm, size=size,
                    strength=strength(algorithm, size), has_private_key=True, public_key=pem, native_ref=key_id,
                    tags=[fleet, f"batch-{i // 1000:03d}"], aliases=[f"dev-{i:06d}"] if i % 50 == 0 else [],
                    metadata={"site": rng.choice(("madrid", "bilbao", "lyon"))},
                ))
    finally:
        store.close()
    return time.perf_counter() - started


if __name__ == "__main__":
    import sys

    target, count = Path(sys.argv[1]), int(sys.argv[2])
    print(f"{count} keys in {make_inventory(target, count):.1f} s -> {target}")
