"""Certificates for the test Key Vault: its TLS identity and service-principal certificates.

The TLS certificate is self-signed for ``localhost`` and ``127.0.0.1`` and is its own
trust anchor: a client trusts the server by passing the certificate file as its CA
bundle (``connection_verify``), exactly as an operator would for a private endpoint.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    cert_path: Path  # also the CA bundle clients trust
    key_path: Path


@dataclass(frozen=True)
class ClientCertificate:
    """A service principal's certificate: ``pem_path`` holds key and certificate, as azure-identity reads it."""

    pem_path: Path
    certificate: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))


def _write_private(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def make_tls_files(directory: Path) -> TlsFiles:
    """A P-256 key and a self-signed server certificate for localhost and 127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name("kms-tui test Key Vault")
    builder = (
        _validity(x509.CertificateBuilder())
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    files = TlsFiles(directory / "vault-tls.pem", directory / "vault-tls.key")
    files.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(files.key_path, key)
    return files


def make_client_certificate(directory: Path, client_id: str) -> ClientCertificate:
    """An RSA-2048 certificate a service principal signs its token requests with."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = _name(f"kms-tui test principal {client_id}")
    cert = (
        _validity(x509.CertificateBuilder())
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{client_id}.pem"
    _write_private(path, key)
    with path.open("ab") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    return ClientCertificate(path, cert)
