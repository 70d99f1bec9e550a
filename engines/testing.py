"""The one contract suite every engine driver passes (DESIGN §6), shipped for outside engines too.

An engine's test module subclasses ``EngineContract``::

    class TestSoftwareContract(EngineContract):
        KEY_TYPES = (("RSA", 2048), ("RSA", 3072), ("ECDSA", 256), ("Ed25519", 256))
        SLOW_SIZES = frozenset({("RSA", 4096)})

        @pytest.fixture(scope="class")
        def driver(self, tmp_path_factory):
            ...  # a ready EngineDriver, shared by the tests of the class

``KEY_TYPES`` lists every (algorithm, size) the driver reports as creatable (a test
checks they agree, so the list cannot drift). Each type is created once per class and
the key is shared by the create and sign tests, so ``driver`` should be class-scoped (a
function-scoped one works, but then keys are created again for every test).
``SLOW_SIZES`` are left out of the import tests only (another size of the same
algorithm is imported instead); they are still created and sign with every algorithm.
Optional hooks: the ``import_driver`` fixture (defaults to ``driver``), ``unknown_ref``
and ``import_material``.

An engine from another package (declared in the ``kms_tui.engines`` entry-point group,
see ``engines``) runs the same suite: with kms-tui and pytest installed in its test
environment, its ``conftest.py`` calls ``pytest.register_assert_rewrite("engines.testing")``
(before anything imports this module, so that failures show the compared values), and
one of its test modules does ``from engines.testing import EngineContract`` and
subclasses it as above. ``test_engine_facts`` looks the driver's type up in the registry,
so the package must be installed (its entry point visible) when the tests run. This
module imports pytest; nothing in ``engines`` imports it, so the drivers never need pytest.

Signatures are checked with ``cryptography`` directly against the exported public key,
and key ids with ``hashlib`` over the DER SubjectPublicKeyInfo: nothing here trusts
``engines.keys`` to check the driver's work.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa

from . import algorithms as A
from . import engine_type
from . import keys as K
from .base import Capabilities, EngineDriver, NativeKey, OptionSpec
from .errors import (
    InvalidInput,
    KeyExists,
    KeyNotFoundInEngine,
    KmsError,
    OperationNotSupported,
    UnsupportedKeyType,
)

MESSAGE = b"kms-tui contract suite: a message to sign \x00\xff"
CREATABLE = {"RSA": (2048, 3072, 4096), "ECDSA": (224, 256, 384, 521), "Ed25519": (256,), "ML-DSA": (44, 65, 87)}
CURVES: dict[int, type[ec.EllipticCurve]] = {
    224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1,
}
HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512,
}
BAD_SPECS: tuple[tuple[str, int], ...] = (
    ("RSA", 1000), ("RSA", 1024), ("RSA", 0), ("ECDSA", 200), ("ECDSA", 192), ("Ed25519", 448), ("ED448", 456),
    ("NOPE", 256),
)


# ---------------------------------------------------------------- independent checks


def spki_der(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def spki_sha256(public_key: Any) -> str:
    """Lamassu's key id, computed without engines.keys."""
    return hashlib.sha256(spki_der(public_key)).hexdigest()


def verify_independently(public_key: Any, sig_alg_name: str, message: bytes, signature: bytes) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` signs ``message``, using cryptography only.

    A DIGEST signature is checked against the message it is the digest of: the signer
    must have produced exactly what signing the message would have.
    """
    exported = serialization.load_pem_public_key(K.export_public(public_key, "pem"))
    if sig_alg_name == "ED25519":
        assert isinstance(exported, ed25519.Ed25519PublicKey)
        exported.verify(signature, message)
        return
    if sig_alg_name == "ML_DSA_SHAKE_256":  # pure ML-DSA, empty context
        assert isinstance(exported, (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey))
        exported.verify(signature, message)
        return
    match = re.fullmatch(r"(RSASSA_PKCS1_V1_5|RSASSA_PSS|ECDSA)_SHA_(256|384|512)", sig_alg_name)
    assert match, f"unknown signing algorithm {sig_alg_name}"
    scheme, bits = match.groups()
    h = HASHES[bits]()
    if scheme == "ECDSA":
        assert isinstance(exported, ec.EllipticCurvePublicKey)
        exported.verify(signature, message, ec.ECDSA(h))  # DER, or it fails
        return
    assert isinstance(exported, rsa.RSAPublicKey)
    if scheme == "RSASSA_PSS":
        exported.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    else:
        exported.verify(signature, message, padding.PKCS1v15(), h)


def check_kms_error(exc: BaseException) -> None:
    assert isinstance(exc, KmsError), f"{type(exc).__name__} is not a KmsError: {exc!r}"
    assert isinstance(exc.title, str) and exc.title.strip()
    assert isinstance(exc.message, str) and exc.message.strip()


@contextlib.contextmanager
def raises_kms(kind: type[KmsError]) -> Iterator[pytest.ExceptionInfo[KmsError]]:
    """``pytest.raises`` that also requires a readable typed error."""
    with pytest.raises(kind) as info:
        yield info
    check_kms_error(info.value)


def _hash_name(sig_alg_name: str) -> str:
    return "sha" + sig_alg_name.rsplit("_", 1)[1]


def _case_id(case: tuple[object, ...]) -> str:
    return "-".join(str(part) for part in case)


# ---------------------------------------------------------------- the contract


class EngineContract:
    """Contract tests; not collected itself (no ``Test`` prefix), only through subclasses."""

    KEY_TYPES: tuple[tuple[str, int], ...] = ()
    SLOW_SIZES: frozenset[tuple[str, int]] = frozenset()

    # --- hooks ------------------------------------------------------------

    @pytest.fixture
    def import_driver(self, driver: EngineDriver) -> EngineDriver:
        """The driver the import tests use; override for engines that import elsewhere."""
        return driver

    def unknown_ref(self, driver: EngineDriver) -> str:
        """A reference the engine certainly does not hold."""
        return hashlib.sha256(os.urandom(32)).hexdigest()

    def import_material(self, algorithm: str, size: int) -> bytes:
        """A fresh private key as PKCS#8 PEM, made with cryptography alone."""
        private: K.PrivateKey
        if algorithm == "ML-DSA":
            kinds: dict[int, type[K.MLDSAPrivateKey]] = {
                44: mldsa.MLDSA44PrivateKey, 65: mldsa.MLDSA65PrivateKey, 87: mldsa.MLDSA87PrivateKey}
            private = kinds[size].generate()
        elif algorithm == "RSA":
            private = rsa.generate_private_key(public_exponent=65537, key_size=size)
        elif algorithm == "ECDSA":
            private = ec.generate_private_key(CURVES[size]())
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        return private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    # --- parametrisation from the subclass's KEY_TYPES ---------------------

    def import_types(self) -> list[tuple[str, int]]:
        chosen = [t for t in self.KEY_TYPES if t not in self.SLOW_SIZES]
        for algorithm in {a for a, _ in self.KEY_TYPES} - {a for a, _ in chosen}:
            chosen.append(min(t for t in self.KEY_TYPES if t[0] == algorithm))
        return sorted(chosen)

    def cheapest_type(self) -> tuple[str, int]:
        rank = {"Ed25519": 0, "ECDSA": 1, "RSA": 2}
        return min(self.KEY_TYPES, key=lambda t: (rank.get(t[0], 3), t[1] != 256, t[1]))

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "key_type" in metafunc.fixturenames:
            metafunc.parametrize("key_type", list(self.KEY_TYPES), ids=_case_id)
        if "import_type" in metafunc.fixturenames:
            metafunc.parametrize("import_type", self.import_types(), ids=_case_id)
        if "sign_case" in metafunc.fixturenames:
            cases = [
                (algorithm, size, name, message_type)
                for algorithm, size in self.KEY_TYPES
                for name in A.algorithms_for_key(algorithm)
                for message_type in ("RAW",) + (("DIGEST",) if A.signing_algorithm(name).hash_name else ())
                + (("EXTERNAL_MU",) if algorithm == A.ML_DSA else ())
            ]
            metafunc.parametrize("sign_case", cases, ids=_case_id)
        if "bad_spec" in metafunc.fixturenames:
            metafunc.parametrize("bad_spec", BAD_SPECS, ids=_case_id)

    @pytest.fixture(scope="class")
    def key_cache(self) -> dict[tuple[str, int], tuple[EngineDriver, NativeKey]]:
        """(algorithm, size) -> (driver, NativeKey): each type is created once per class."""
        return {}

    def created(self, driver: EngineDriver, key_cache: dict[tuple[str, int], tuple[EngineDriver, NativeKey]],
                algorithm: str, size: int) -> NativeKey:
        entry = key_cache.get((algorithm, size))
        if entry is None or entry[0] is not driver:
            entry = key_cache[(algorithm, size)] = (driver, driver.create(algorithm, size))
        return entry[1]

    def sign_and_verify(self, driver: EngineDriver, key: NativeKey, name: str, message_type: str) -> None:
        if message_type == "EXTERNAL_MU":  # FIPS 204 mu of MESSAGE, made by cryptography alone
            assert isinstance(key.public_key, (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey))
            hasher = mldsa.MLDSAMuHasher(key.public_key)
            hasher.update(MESSAGE)
            data = hasher.finalize()
            if not driver.CAPABILITIES.external_mu:
                with pytest.raises(KmsError):
                    driver.sign(key.ref, A.signing_algorithm(name), data, A.MessageType.EXTERNAL_MU)
                return
        else:
            data = MESSAGE if message_type == "RAW" else hashlib.new(_hash_name(name), MESSAGE).digest()
        signature = driver.sign(key.ref, A.signing_algorithm(name), data, A.MessageType(message_type))
        assert isinstance(signature, bytes) and signature
        verify_independently(key.public_key, name, MESSAGE, signature)
        with pytest.raises(InvalidSignature):
            verify_independently(key.public_key, name, MESSAGE + b"!", signature)

    # --- engine facts -------------------------------------------------------

    def test_engine_facts(self, driver: Any) -> None:
        cls = type(driver)
        assert isinstance(driver, EngineDriver)
        registered = engine_type(cls.TYPE)  # UnknownEngineType when it is not a registered type
        assert registered.type == cls.TYPE
        assert registered.display == cls.DISPLAY
        assert registered.security_level == cls.SECURITY_LEVEL
        assert driver.SECURITY_LEVEL in (0, 1, 2)
        assert isinstance(cls.PROVIDER, str) and cls.PROVIDER.strip()
        assert all(isinstance(option, OptionSpec) for option in cls.OPTIONS)
        assert isinstance(cls.CAPABILITIES, Capabilities)
        supported = driver.supported_key_types()
        assert supported, "an engine must be able to create at least one key type"
        for algorithm, sizes in supported.items():
            assert algorithm in CREATABLE, f"{algorithm} cannot be created by any engine"
            assert sizes and set(sizes) <= set(CREATABLE[algorithm]), (algorithm, sizes)

    def test_key_types_match_driver(self, driver: Any) -> None:
        reported = sorted((a, int(s)) for a, sizes in driver.supported_key_types().items() for s in sizes)
        assert sorted(self.KEY_TYPES) == reported

    def test_check_passes(self, driver: Any) -> None:
        assert driver.check() is None

    # --- create, get, inventory -------------------------------------------

    def test_create(self, driver: Any, key_cache: Any, key_type: Any) -> None:
        algorithm, size = key_type
        key = self.created(driver, key_cache, algorithm, size)
        assert isinstance(key, NativeKey)
        assert key.key_id == spki_sha256(key.public_key)
        assert (key.algorithm, key.size) == (algorithm, size)
        assert key.has_private_key
        assert isinstance(key.ref, str) and key.ref
        fetched = driver.get(key.ref)
        assert fetched.key_id == key.key_id
        assert spki_der(fetched.public_key) == spki_der(key.public_key)
        assert (fetched.algorithm, fetched.size) == (algorithm, size)
        assert any(k.ref == key.ref and k.key_id == key.key_id for k in driver.inventory())

    def test_inventory_entries_are_well_formed(self, driver: Any, key_cache: Any) -> None:
        self.created(driver, key_cache, *self.cheapest_type())
        listed = list(driver.inventory())
        assert listed
        for key in listed:
            assert isinstance(key, NativeKey)
            assert key.public_key is not None
            assert key.key_id == spki_sha256(key.public_key)
            assert key.algorithm in CREATABLE or key.algorithm == A.DSA
            assert K.describe(key.public_key) == (key.algorithm, key.size)
        assert len({k.ref for k in listed}) == len(listed), "inventory lists a key twice"

    # --- sign ---------------------------------------------------------------

    def test_sign(self, driver: Any, key_cache: Any, sign_case: Any) -> None:
        algorithm, size, name, message_type = sign_case
        key = self.created(driver, key_cache, algorithm, size)
        self.sign_and_verify(driver, key, name, message_type)

    def test_signing_algorithms_cover_the_spec(self) -> None:
        # The sign cases come from algorithms_for_key: make sure that table is the spec's.
        names = {n for a in ("RSA", "ECDSA", "Ed25519") for n in A.algorithms_for_key(a)}
        expected = {f"{s}_SHA_{b}" for s in ("RSASSA_PKCS1_V1_5", "RSASSA_PSS", "ECDSA") for b in (256, 384, 512)}
        assert names == expected | {"ED25519"}

    # --- import -------------------------------------------------------------

    def test_import(self, import_driver: Any, import_type: Any) -> None:
        algorithm, size = import_type
        parsed = K.parse_key(self.import_material(algorithm, size))
        if not import_driver.CAPABILITIES.can_import:
            with raises_kms(OperationNotSupported):
                import_driver.import_key(parsed)
            return
        key = import_driver.import_key(parsed)
        assert key.key_id == spki_sha256(parsed.public_key)
        assert (key.algorithm, key.size) == (algorithm, size)
        assert key.has_private_key
        assert spki_der(import_driver.get(key.ref).public_key) == spki_der(parsed.public_key)
        assert any(k.key_id == key.key_id for k in import_driver.inventory())
        for name in A.algorithms_for_key(algorithm):
            self.sign_and_verify(import_driver, key, name, "RAW")
        with raises_kms(KeyExists):
            import_driver.import_key(parsed)

    def test_import_public_only(self, import_driver: Any) -> None:
        algorithm, size = self.cheapest_type()
        private = serialization.load_pem_private_key(self.import_material(algorithm, size), None)
        parsed = K.parse_key(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        assert not parsed.has_private_key
        if import_driver.CAPABILITIES.can_import_public:
            key = import_driver.import_key(parsed)
            assert key.has_private_key is False
            assert key.key_id == spki_sha256(parsed.public_key)
        else:
            with raises_kms(OperationNotSupported):
                import_driver.import_key(parsed)

    # --- delete -------------------------------------------------------------

    def test_delete(self, driver: Any) -> None:
        key = driver.create(*self.cheapest_type())
        if not driver.CAPABILITIES.can_delete:
            with raises_kms(OperationNotSupported):
                driver.delete(key.ref)
            return
        state = driver.delete(key.ref)
        with raises_kms(KeyNotFoundInEngine):
            driver.get(key.ref)
        # Gone; or, when the delete left the key recoverable, listed in that state only.
        listed = [k for k in driver.inventory() if k.ref == key.ref or k.key_id == key.key_id]
        assert all(k.state == state for k in listed) if state is not None else listed == []
        with raises_kms(KeyNotFoundInEngine):
            driver.delete(key.ref)
        name = A.algorithms_for_key(key.algorithm)[0]
        with raises_kms(KeyNotFoundInEngine):
            driver.sign(key.ref, A.signing_algorithm(name), MESSAGE, A.MessageType.RAW)

    # --- errors -------------------------------------------------------------

    def test_unknown_ref(self, driver: Any) -> None:
        ref = self.unknown_ref(driver)
        with raises_kms(KeyNotFoundInEngine):
            driver.get(ref)
        name = A.algorithms_for_key(self.cheapest_type()[0])[0]
        with raises_kms(KeyNotFoundInEngine):
            driver.sign(ref, A.signing_algorithm(name), MESSAGE, A.MessageType.RAW)
        if driver.CAPABILITIES.can_delete:
            with raises_kms(KeyNotFoundInEngine):
                driver.delete(ref)

    def test_create_unsupported(self, driver: Any, bad_spec: Any) -> None:
        with raises_kms(UnsupportedKeyType):
            driver.create(*bad_spec)

    def test_create_unsupported_algorithm_of_the_spec(self, driver: Any) -> None:
        supported = driver.supported_key_types()
        for algorithm, sizes in CREATABLE.items():
            if algorithm not in supported:
                with raises_kms(UnsupportedKeyType):
                    driver.create(algorithm, sizes[0])

    def test_create_size_not_a_number(self, driver: Any) -> None:
        with raises_kms(InvalidInput):
            driver.create(self.cheapest_type()[0], "big")
