"""RFC 7512 ``pkcs11:`` URIs: building one for a key, and parsing untrusted ones.

``build_uri`` gives ``pkcs11:token=…;id=%..;object=…;type=private``. ``parse_uri``
reads any RFC 7512 URI into its attributes and raises only ``InvalidInput`` on bad
input (it is fed operator- and file-supplied text). Values are never quoted in
error messages: a URI may carry a ``pin-value``.
"""

from __future__ import annotations

from ..errors import InvalidInput

MAX_URI_CHARS = 4096

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 7512 pk11-res-avail / pk11-path-res-avail: allowed unescaped in path values.
_PATH_SAFE = _UNRESERVED | frozenset(b":[]@!$'()*+,=&")
_HEX = frozenset(b"0123456789abcdefABCDEF")

# Lamassu names every key ``pkcs11:token-id=<engine id>;id=<key id>;type=private|public``
# (lamassuiot/lamassuiot core/pkg/models/kms.go, Key.AfterFind): ``token-id`` is read as one more
# path attribute, the engine id.
LAMASSU_ENGINE = "token-id"
PATH_ATTRIBUTES = frozenset({
    "token", "manufacturer", "serial", "model", "library-manufacturer", "library-description",
    "library-version", "object", "type", "id", "slot-manufacturer", "slot-description", "slot-id",
    LAMASSU_ENGINE,
})
QUERY_ATTRIBUTES = frozenset({"pin-source", "pin-value", "module-name", "module-path"})
OBJECT_TYPES = frozenset({"public", "private", "cert", "secret-key", "data"})
BYTE_ATTRIBUTES = frozenset({"id"})  # every other value is UTF-8 text


def _encode(data: bytes, safe: frozenset[int]) -> str:
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in data)


def build_uri(token: str | None, object_id: bytes, label: str | None, object_type: str = "private") -> str:
    """``pkcs11:token=…;id=…;object=…;type=…``: id bytes all percent-encoded, text as UTF-8.

    Attributes that are None or empty are left out (any token; any label).
    """
    parts = [f"token={_encode(token.encode('utf-8', 'surrogateescape'), _PATH_SAFE)}"] if token else []
    if object_id:
        parts.append("id=" + "".join(f"%{b:02X}" for b in object_id))
    if label:
        parts.append(f"object={_encode(label.encode('utf-8', 'surrogateescape'), _PATH_SAFE)}")
    parts.append(f"type={object_type}")
    return "pkcs11:" + ";".join(parts)


def _decode(value: str, name: str) -> bytes:
    raw = value.encode("utf-8", "strict")
    out = bytearray()
    i = 0
    while i < len(raw):
        b = raw[i]
        if b == 0x25:  # '%'
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise InvalidInput(f"The pkcs11: URI has a broken percent-encoding in {name!r}.")
            out.append(int(pair, 16))
            i += 3
            continue
        out.append(b)
        i += 1
    return bytes(out)


def _name(name: str) -> str:
    shown = name if len(name) <= 40 else name[:37] + "..."
    return repr(shown)


def _split(text: str, sep: str, where: str, known: frozenset[str], result: dict[str, str | bytes]) -> None:
    if not text:
        return
    for item in text.split(sep):
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            raise InvalidInput(f"The pkcs11: URI {where} has an entry that is not name=value.")
        if name not in known and not name.startswith("x-"):
            if where == "query" and name not in PATH_ATTRIBUTES:
                continue  # another tool's setting (its own query attribute): not ours to read
            raise InvalidInput(f"The pkcs11: URI has an unknown {where} attribute {_name(name)}.")
        if name in result:
            raise InvalidInput(f"The pkcs11: URI gives the attribute {_name(name)} twice.")
        decoded = _decode(value, name)
        if name in BYTE_ATTRIBUTES:
            result[name] = decoded
            continue
        try:
            result[name] = decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"The pkcs11: URI attribute {_name(name)} is not valid UTF-8.") from None


def parse_uri(text: object) -> dict[str, str | bytes]:
    """The attributes of a ``pkcs11:`` URI (``id`` as bytes, the rest as text).

    Raises ``InvalidInput`` (a ``KmsError``) for anything that is not a valid RFC 7512 URI.
    """
    if not isinstance(text, str):
        raise InvalidInput("A pkcs11: URI must be text.")
    if len(text) > MAX_URI_CHARS:
        raise InvalidInput(f"The pkcs11: URI is longer than {MAX_URI_CHARS} characters.")
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() != "pkcs11":
        raise InvalidInput("The reference is not a pkcs11: URI.")
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in rest):
        raise InvalidInput("A pkcs11: URI may hold only printable ASCII; other characters must be percent-encoded.")
    path, _, query = rest.partition("?")
    result: dict[str, str | bytes] = {}
    _split(path, ";", "path", PATH_ATTRIBUTES, result)
    query_attrs: dict[str, str | bytes] = {}
    _split(query, "&", "query", QUERY_ATTRIBUTES, query_attrs)
    for name in query_attrs:
        if name in result:
            raise InvalidInput(f"The pkcs11: URI gives the attribute {_name(name)} twice.")
    result.update(query_attrs)
    if "type" in result and result["type"] not in OBJECT_TYPES:
        raise InvalidInput("The pkcs11: URI type must be public, private, cert, secret-key or data.")
    if "pin-source" in result and "pin-value" in result:
        raise InvalidInput("The pkcs11: URI gives both pin-source and pin-value.")
    return result


def _shown_id(value: bytes) -> str:
    """An id as its text when it is printable ASCII (Lamassu's hex key id), else as hex bytes."""
    if value and all(0x21 <= b <= 0x7E for b in value):
        return repr(value[:64].decode("ascii"))
    return value[:64].hex(":")


def describe(attrs: dict[str, str | bytes], limit: int = 200) -> str:
    """What parsed URI attributes ask for, for a message: the attributes that name a key only
    (never a PIN, where a PIN comes from, or a vendor attribute).

    ``id`` is shown as hex bytes, the rest as text; the whole is cut to ``limit`` characters.
    """
    shown = []
    for name in (LAMASSU_ENGINE, "token", "serial", "object", "id", "type"):
        if name not in attrs:
            continue
        value = attrs[name]
        text = _shown_id(value) if isinstance(value, bytes) else repr(value[:64])
        shown.append(f"{name} {text or '(empty)'}")
    result = ", ".join(shown) or "any key"
    return result if len(result) <= limit else result[: limit - 3] + "..."
