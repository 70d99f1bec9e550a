"""Which clients of a backend can use a key of a given algorithm and size, before it is made.

One pure, table-driven check (``check``): for an engine type, whether the engine is shared with a
Lamassu deployment, an algorithm and a size, a verdict per client that reads that backend —
usable, or not and why. Clients that never read an engine type are left out of its verdicts
(the PKCS#11 tools only read PKCS#11 tokens). The create and import paths call it: front ends
show the reasons as warnings, and the key service refuses a key Lamassu cannot use on an engine
shared with Lamassu (``LamassuIncompatible``), before anything is generated or written.

Each fact comes from the client's own code, or from running the client on this system:

- Lamassu creates RSA and ECDSA keys only (``CreateKey`` switches on "RSA" / "ECDSA" and refuses
  any other algorithm), imports ``*rsa.PrivateKey`` / ``*ecdsa.PrivateKey`` only, signs with
  RSASSA / ECDSA algorithms only (``parseAlgorithm``) and knows the curves P-224, P-256, P-384
  and P-521: lamassuiot/lamassuiot, backend/pkg/services/kms.go.
- Lamassu's PKCS#11 engine lists a token with crypto11's ``FindAllKeyPairs`` and, when that
  fails, logs the error and lists no key at all (``GetPrivateKeys``): lamassuiot/lamassuiot,
  engines/crypto/pkcs11/pkcs11.go. It pins github.com/ThalesIgnite/crypto11 v1.2.5:
  lamassuiot/lamassuiot, engines/crypto/pkcs11/go.mod.
- crypto11 builds a key pair for CKK_RSA, CKK_ECDSA and CKK_DSA only; any other key type is an
  "unsupported key type" error that ``FindKeyPairsWithAttributes`` returns for the whole search
  (only a missing CKA_ID or public half is skipped): ThalesGroup/crypto11, keys.go
  (``makeKeyPair``). Ed25519 (CKK_EC_EDWARDS) came later, in ed25519.go.
- libengine-pkcs11-openssl 0.4.12 (Debian 12; the OpenSSL 3 PKCS#11 provider is not packaged)
  cannot enumerate a token that holds an Ed25519 key: no key of that token loads, RSA and ECDSA
  included. ssh-keygen -D of OpenSSH 9.2 skips Ed25519 keys ("skipping unsupported key type")
  and lists the others, a P-224 key as "ssh-unknown" (ssh knows P-256, P-384 and P-521 only).
  Both were seen on Debian 12 with SoftHSM 2.6.1; tests/engines/pkcs11/test_pkcs11_interop.py
  runs them against keys kms-tui makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engines import algorithms as A

from .errors import ServiceError

LAMASSU = "Lamassu"
CRYPTO11 = "crypto11"
OPENSSL = "OpenSSL (libengine-pkcs11-openssl)"
SSH_KEYGEN = "ssh-keygen -D"

PKCS11 = "PKCS11"
ENGINE_TYPES = ("GOLANG", PKCS11, "AWS_KMS", "AWS_SECRETS_MANAGER", "AZURE_KEY_VAULT", "HASHICORP_VAULT_KV_V2")

# The clients that read each engine type's keys; an unknown (plug-in) type has Lamassu only.
CLIENTS: dict[str, tuple[str, ...]] = {PKCS11: (LAMASSU, CRYPTO11, OPENSSL, SSH_KEYGEN)}

LAMASSU_ALGORITHMS = (A.RSA, A.ECDSA)
LAMASSU_CURVES = (224, 256, 384, 521)
SSH_CURVES = (256, 384, 521)


@dataclass(frozen=True)
class Verdict:
    """Whether one client can use the key; ``reason`` says why not."""

    client: str
    usable: bool
    reason: str = ""

    def line(self) -> str:
        """The warning a front end shows for an unusable verdict."""
        return f"{self.client} cannot use this key: {self.reason}"


@dataclass(frozen=True)
class Compatibility:
    """Every client's verdict on one key spec on one engine type."""

    engine_type: str
    shared: bool
    algorithm: str
    size: int
    verdicts: tuple[Verdict, ...]

    @property
    def problems(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.usable)

    def verdict(self, client: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.client == client), None)

    @property
    def refusal(self) -> Verdict | None:
        """Lamassu's verdict when the engine is shared with Lamassu and Lamassu cannot use the key."""
        lamassu = self.verdict(LAMASSU)
        return lamassu if self.shared and lamassu is not None and not lamassu.usable else None

    def warnings(self) -> list[str]:
        return [v.line() for v in self.problems]


class LamassuIncompatible(ServiceError):
    """A key Lamassu cannot use, asked for on an engine shared with Lamassu."""

    title = "Not usable by Lamassu"


Rule = Callable[[str, str, int], str]  # (engine type, algorithm, size) -> the reason, or "" when usable


def _lamassu(engine_type: str, algorithm: str, size: int) -> str:
    if algorithm not in LAMASSU_ALGORITHMS:
        if engine_type == PKCS11 and algorithm == A.ED25519:
            return ("Lamassu's crypto11 stops listing a token at its first Ed25519 key, "
                    "so Lamassu would list no key of this token at all")
        return "Lamassu creates, imports and signs with RSA and ECDSA keys only"
    if algorithm == A.ECDSA and size not in LAMASSU_CURVES:
        return "Lamassu knows the curves P-224, P-256, P-384 and P-521 only"
    return ""


def _crypto11(engine_type: str, algorithm: str, size: int) -> str:
    if algorithm == A.ED25519:
        return ("crypto11 before its Ed25519 support (Lamassu pins v1.2.5) fails the listing "
                "of the whole token on an Ed25519 key")
    return ""


def _openssl(engine_type: str, algorithm: str, size: int) -> str:
    if algorithm == A.ED25519:
        return "libengine-pkcs11-openssl 0.4.12 cannot enumerate a token holding an Ed25519 key: no key of it loads"
    return ""


def _ssh_keygen(engine_type: str, algorithm: str, size: int) -> str:
    if algorithm == A.ED25519:
        return "OpenSSH 9.2 skips PKCS#11 Ed25519 keys"
    if algorithm == A.ECDSA and size not in SSH_CURVES:
        return "ssh knows the curves P-256, P-384 and P-521 only"
    if algorithm not in (A.RSA, A.ECDSA):
        return f"ssh does not read {algorithm} keys from a token"
    return ""


RULES: dict[str, Rule] = {LAMASSU: _lamassu, CRYPTO11: _crypto11, OPENSSL: _openssl, SSH_KEYGEN: _ssh_keygen}


def clients(engine_type: str) -> tuple[str, ...]:
    """The clients that read keys of this engine type."""
    return CLIENTS.get(engine_type, (LAMASSU,))


def check(engine_type: str, shared: bool, algorithm: str, size: int) -> Compatibility:
    """Each client's verdict on a key of ``algorithm`` / ``size`` on an engine of ``engine_type``."""
    algorithm = A.normalise_algorithm(algorithm)
    verdicts = []
    for client in clients(engine_type):
        reason = RULES[client](engine_type, algorithm, size)
        verdicts.append(Verdict(client, not reason, reason))
    return Compatibility(engine_type, shared, algorithm, size, tuple(verdicts))


def refuse_unusable(compatibility: Compatibility, engine_id: str) -> None:
    """Raise ``LamassuIncompatible`` when the engine is shared with Lamassu and Lamassu cannot use the key."""
    refusal = compatibility.refusal
    if refusal is not None:
        raise LamassuIncompatible(
            f"Engine {engine_id!r} is shared with Lamassu, and {refusal.reason}.",
            hint="Choose an RSA or ECDSA key, or another engine.",
        )
