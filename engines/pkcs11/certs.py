"""X.509 certificates next to a key pair on a token: ``CKO_CERTIFICATE`` objects sharing its ``CKA_ID``.

What other PKCS#11 clients (p11tool, pkcs11-tool, OpenSSL's pkcs11 provider, step-kms-plugin)
expect: a token certificate object of type ``CKC_X_509`` holding the DER in ``CKA_VALUE``, its
subject, issuer and DER serial number, and the key pair's ``CKA_ID`` and ``CKA_LABEL``. Every
function here runs on a ``Shared`` session handed out by ``TokenLink.run`` (one lock, one session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidInput
from . import lookup as L

if TYPE_CHECKING:
    from pkcs11 import Object

    from . import objects as O
    from .session import Shared


def der_integer(value: int) -> bytes:
    """The DER INTEGER of ``value`` (tag, length, two's complement content)."""
    content = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    length = len(content)
    if length < 0x80:
        head = bytes([length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(size)]) + size
    return b"\x02" + head + content


def _template(der: bytes) -> O.Template:
    """The attributes read from the certificate itself (its DER must parse)."""
    from cryptography import x509
    from pkcs11 import Attribute, CertificateType, ObjectClass

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise InvalidInput("Not an X.509 certificate in DER; nothing was written to the token.") from None
    return {
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.VALUE: der,
        Attribute.SUBJECT: cert.subject.public_bytes(),
        Attribute.ISSUER: cert.issuer.public_bytes(),
        Attribute.SERIAL_NUMBER: der_integer(cert.serial_number),
    }


def _key_names(shared: Shared, where: str, ref: str) -> tuple[str, bytes]:
    """(CKA_LABEL, CKA_ID) of the key pair at ``ref``."""
    from pkcs11 import Attribute

    got = L.read_attributes(L.find_private(shared, where, ref), [Attribute.LABEL, Attribute.ID])
    return got.get(Attribute.LABEL, ""), got.get(Attribute.ID, b"")


def _certificate_objects(shared: Shared, object_id: bytes) -> list[tuple[Object, bytes]]:
    """(object, DER) of the X.509 certificate objects carrying this CKA_ID."""
    from pkcs11 import Attribute, CertificateType, ObjectClass

    if not object_id:
        return []
    template: O.Template = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: object_id,
                            Attribute.CERTIFICATE_TYPE: CertificateType.X_509}
    found = []
    for obj in shared.session.get_objects(template):
        value = L.read_attributes(obj, [Attribute.VALUE]).get(Attribute.VALUE)
        if value:
            found.append((obj, bytes(value)))
    return found


def put(shared: Shared, where: str, ref: str, der: bytes) -> None:
    """Write ``der`` next to the key at ``ref`` (label and id the key's), unless it is there already."""
    from pkcs11 import Attribute

    label, object_id = _key_names(shared, where, ref)
    if not object_id:
        raise InvalidInput(f"The key {ref[:80]!r} has no CKA_ID on {where}: a certificate could not be paired "
                           "with it; nothing was written.")
    if any(value == der for _, value in _certificate_objects(shared, object_id)):
        return
    template = _template(der)
    template[Attribute.ID] = object_id
    if label:
        template[Attribute.LABEL] = label
    shared.session.create_object(template)


def listed(shared: Shared, where: str, ref: str) -> list[bytes]:
    """The DER of every X.509 certificate object sharing the key's CKA_ID."""
    _, object_id = _key_names(shared, where, ref)
    return [value for _, value in _certificate_objects(shared, object_id)]


def every_certificate(shared: Shared) -> list[bytes]:
    """The DER of every X.509 certificate object on the token: one search, whatever the number of keys."""
    from pkcs11 import Attribute, CertificateType, ObjectClass

    template: O.Template = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509}
    found = []
    for obj in shared.session.get_objects(template):
        value = L.read_attributes(obj, [Attribute.VALUE]).get(Attribute.VALUE)
        if value:
            found.append(bytes(value))
    return found


def remove(shared: Shared, where: str, ref: str, der: bytes) -> bool:
    """Destroy the certificate objects next to the key whose value is exactly ``der``; whether any was."""
    _, object_id = _key_names(shared, where, ref)
    doomed = [obj for obj, value in _certificate_objects(shared, object_id) if value == der]
    for obj in doomed:
        obj.destroy()
    return bool(doomed)
