"""Both AWS drivers against the shared contract suite, on a real moto server.

The drivers follow AWS. Where moto answers differently, the KMS class below says so and
checks what the driver sent (which is what AWS needs) and what moto did with it:

- moto hashes a ``MessageType=DIGEST`` message again, as if it were RAW, so its signature
  is over ``hash(digest)``. AWS signs the digest itself (checked with AWS's semantics in
  test_aws_kms.py::test_kms_requests_sign_what_was_asked_with_aws_semantics).
- moto makes RSASSA-PSS signatures with the maximum salt length; AWS uses the hash length.
- moto implements neither GetParametersForImport nor ImportKeyMaterial (HTTP 500): the
  import case runs the same driver against botocore's Stubber, and the wrapped material is
  unwrapped with the wrapping private key (see test_aws_kms_import.py).
The Secrets Manager driver signs locally: moto only stores its secrets, and the suite runs
unchanged.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from engines import algorithms as A
from engines import keys as K
from engines.testing import MESSAGE, EngineContract, verify_independently
from tests.engines.aws.moto_server import Sent, kms_engine, secrets_engine
from tests.engines.aws.support import stubbed_import

HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
CURVE_HASH = {256: "ECDSA_SHA_256", 384: "ECDSA_SHA_384", 521: "ECDSA_SHA_512"}


def expected_request(key, name: str, message_type: str, data: bytes) -> tuple[str, str, bytes]:
    """What AWS must be sent (SigningAlgorithm, MessageType, Message), from AWS's documentation."""
    digest = data if message_type == "DIGEST" else hashlib.new("sha" + name[-3:], data).digest()
    if key.algorithm == "ECDSA" and name != CURVE_HASH[key.size]:
        # KMS takes only the curve's own hash: the digest, fitted to its length, goes instead
        width = int(CURVE_HASH[key.size][-3:]) // 8
        fitted = digest[:width] if len(digest) >= width else bytes(width - len(digest)) + digest
        return CURVE_HASH[key.size], "DIGEST", fitted
    if message_type == "RAW" and 0 < len(data) <= 4096:
        return name, "RAW", data
    return name, "DIGEST", digest


def verify_as_moto_signs(public_key, request: tuple[str, str, bytes], signature: bytes) -> None:
    """moto signs the Message as RAW whatever the MessageType, and PSS with the maximum salt."""
    name, _, message = request
    h = HASH[name[-3:]]()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, message, ec.ECDSA(h))
    elif "PSS" in name:
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.AUTO), h)
    else:
        public_key.verify(signature, message, padding.PKCS1v15(), h)


class TestAwsKmsContract(EngineContract):
    KEY_TYPES = (("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521), ("RSA", 2048), ("RSA", 3072), ("RSA", 4096))
    # moto has neither ECC_NIST_EDWARDS25519 nor ML_DSA_*: those key types run against botocore's
    # Stubber in test_aws_kms_pq.py.
    STUBBED_TYPES = (("Ed25519", 256), ("ML-DSA", 44), ("ML-DSA", 65), ("ML-DSA", 87))
    SLOW_SIZES = frozenset({("RSA", 3072), ("RSA", 4096)})

    @pytest.fixture(scope="class")
    def driver(self, moto):
        with kms_engine(moto, "aws-kms-contract", region="eu-west-1") as engine:
            engine.sent = Sent(engine._conn.client())
            yield engine

    def unknown_ref(self, driver) -> str:
        return str(uuid.uuid4())  # well formed, so the question really reaches moto

    def test_key_types_match_driver(self, driver):
        reported = sorted((a, int(s)) for a, sizes in driver.supported_key_types().items() for s in sizes)
        assert sorted(self.KEY_TYPES + self.STUBBED_TYPES) == reported

    def sign_and_verify(self, driver, key, name, message_type):
        data = MESSAGE if message_type == "RAW" else hashlib.new("sha" + name[-3:], MESSAGE).digest()
        request = expected_request(key, name, message_type, data)
        if request == (name, "RAW", data) and "PSS" not in name:
            return super().sign_and_verify(driver, key, name, message_type)  # moto behaves as AWS here
        driver.sent.clear()
        signature = driver.sign(key.ref, A.signing_algorithm(name), data, A.MessageType(message_type))
        sent = [p for op, p in driver.sent.calls if op == "Sign"]
        assert [(p["SigningAlgorithm"], p["MessageType"], p["Message"]) for p in sent] == [request]
        verify_as_moto_signs(key.public_key, request, signature)
        with pytest.raises(InvalidSignature):
            verify_as_moto_signs(key.public_key, (request[0], request[1], request[2] + b"!"), signature)

    def test_import(self, import_driver, import_type, wrapping_key):
        """moto cannot import: the same driver class runs the import against botocore's Stubber."""
        algorithm, size = import_type
        parsed = K.parse_key(self.import_material(algorithm, size))
        key, unwrapped = stubbed_import(parsed, wrapping_key)
        assert key.key_id == parsed.key_id == K.key_id_of(unwrapped.public_key())
        assert (key.algorithm, key.size, key.has_private_key) == (algorithm, size, True)
        verify_independently(unwrapped.public_key(), A.algorithms_for_key(algorithm)[0], MESSAGE,
                             K.sign_with(unwrapped, A.signing_algorithm(A.algorithms_for_key(algorithm)[0]),
                                         MESSAGE, A.MessageType.RAW))


class TestAwsSecretsContract(EngineContract):
    KEY_TYPES = (
        ("ECDSA", 224), ("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521),
        ("Ed25519", 256),
        ("RSA", 2048), ("RSA", 3072), ("RSA", 4096),
        ("ML-DSA", 44), ("ML-DSA", 65), ("ML-DSA", 87),
    )
    SLOW_SIZES = frozenset({("RSA", 3072), ("RSA", 4096), ("ML-DSA", 44), ("ML-DSA", 87)})

    @pytest.fixture(scope="class")
    def driver(self, moto):
        with secrets_engine(moto, "aws-sm-contract", region="eu-west-2") as engine:
            yield engine
