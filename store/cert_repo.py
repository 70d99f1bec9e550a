"""Certificate rows: add, look up by fingerprint (or a unique prefix), list, count, delete.

Mixed into ``Store``; relies on ``self._conn``. A certificate belongs to one key row
(``key_rowid``) or to none (a chain member). The store keeps what it is given: the
service checks that the fingerprint is the DER's and that the DER is the key's.
"""

from __future__ import annotations

import string
from typing import Any

from .connection import Connection
from .errors import Conflict, InvalidValue, NotFound
from .models import CERT_SOURCES, CertRecord
from .records import utc_now
from .validation import check_text

CERT_COLUMNS = (
    "c.fingerprint, c.der, c.subject, c.issuer, c.serial, c.not_before, c.not_after, c.source, c.added_ts, "
    "k.engine_id, k.key_id"
)
_FROM = "certificates c LEFT JOIN keys k ON k.id = c.key_rowid"
MIN_PREFIX = 8
MAX_DER_BYTES = 1 << 20  # a certificate larger than this is not one anyone means


def _cert_from_row(row: dict[str, Any]) -> CertRecord:
    return CertRecord(
        fingerprint=row["fingerprint"], der=bytes(row["der"] or b""), subject=row["subject"], issuer=row["issuer"],
        serial=row["serial"], not_before=row["not_before"], not_after=row["not_after"], source=row["source"],
        engine_id=row["engine_id"], key_id=row["key_id"], added_ts=row["added_ts"],
    )


def check_fingerprint_prefix(text: object) -> str:
    """A fingerprint or a prefix of one: at least 8 hex digits, lowercased (colons allowed, as openssl prints)."""
    if not isinstance(text, str):
        raise InvalidValue("A certificate fingerprint must be text.")
    clean = text.strip().replace(":", "").lower()
    if len(clean) < MIN_PREFIX or len(clean) > 64 or any(c not in string.hexdigits for c in clean):
        raise InvalidValue(
            f"{text[:80]!r} is not a certificate fingerprint.",
            hint=f"Give the SHA-256 fingerprint (64 hex digits) or a unique prefix of at least {MIN_PREFIX}.")
    return clean


class CertRepository:
    _conn: Connection

    def _cert_rows(self, where: str, params: list[Any], tail: str = "") -> list[CertRecord]:
        rows = self._conn.rows(f"SELECT {CERT_COLUMNS} FROM {_FROM} WHERE {where} {tail}", params)
        return [_cert_from_row(row) for row in rows]

    def add_certificate(self, rec: CertRecord) -> CertRecord:
        """Record a certificate (of the key ``rec.engine_id``/``rec.key_id``, or of none); return it as stored."""
        fingerprint = check_fingerprint_prefix(rec.fingerprint)
        if len(fingerprint) != 64:
            raise InvalidValue("A certificate is recorded under its whole SHA-256 fingerprint.")
        if rec.source not in CERT_SOURCES:
            raise InvalidValue(f"Unknown certificate source {rec.source!r}.", hint="One of: " + ", ".join(CERT_SOURCES))
        if not isinstance(rec.der, bytes) or not rec.der or len(rec.der) > MAX_DER_BYTES:
            raise InvalidValue("A certificate's DER must be between 1 byte and 1 MiB.")
        texts = [check_text(getattr(rec, f), f.replace("_", " ")) for f in ("not_before", "not_after", "serial")]
        with self._conn.transaction() as db:
            rowid = None
            if rec.engine_id is not None or rec.key_id is not None:
                rowid = self._rowid(str(rec.engine_id), str(rec.key_id))  # type: ignore[attr-defined]
            if self._conn.scalar("SELECT 1 FROM certificates WHERE fingerprint = ?", [fingerprint]) is not None:
                raise Conflict(f"Certificate {fingerprint[:16]}… is already recorded.")
            db.execute(
                "INSERT INTO certificates (fingerprint, key_rowid, der, subject, issuer, serial, not_before, "
                "not_after, source, added_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [fingerprint, rowid, rec.der, rec.subject, rec.issuer, texts[2], texts[0], texts[1], rec.source,
                 rec.added_ts or utc_now()],
            )
            return self.get_certificate(fingerprint)

    def get_certificate(self, fingerprint: str) -> CertRecord:
        """The certificate with this fingerprint, or the only one it is a prefix of."""
        prefix = check_fingerprint_prefix(fingerprint)
        found = self._cert_rows("c.fingerprint >= ? AND c.fingerprint < ?", [prefix, prefix + "g"],
                                "ORDER BY c.fingerprint LIMIT 2")
        if not found:
            raise NotFound(f"No certificate {prefix[:64]} is recorded.",
                           hint="kms-tui certs list shows the recorded certificates.")
        if len(found) > 1:
            raise Conflict(f"Several certificates begin with {prefix}.", hint="Give more of the fingerprint.")
        return found[0]

    def certificates_of_key(self, engine_id: str, key_id: str) -> list[CertRecord]:
        return self._cert_rows("k.engine_id = ? AND k.key_id = ?", [engine_id, key_id], "ORDER BY c.not_after")

    def certificates_with_subject(self, subject: str) -> list[CertRecord]:
        return self._cert_rows("c.subject = ?", [subject], "ORDER BY c.fingerprint")

    def list_certificates(self, *, not_after_before: str | None = None, engine_id: str | None = None,
                          key_id: str | None = None) -> list[CertRecord]:
        """Certificates, soonest to expire first; only those ending before ``not_after_before`` (ISO UTC)."""
        where, params = ["1"], []
        if not_after_before is not None:
            where.append("c.not_after < ?")
            params.append(not_after_before)
        if engine_id is not None:
            where.append("k.engine_id = ?")
            params.append(engine_id)
        if key_id is not None:
            where.append("k.key_id = ?")
            params.append(key_id)
        return self._cert_rows(" AND ".join(where), params, "ORDER BY c.not_after, c.fingerprint")

    def count_certificates(self, not_after_before: str | None = None, *, bound_only: bool = True) -> int:
        """How many certificates (of keys, unless ``bound_only`` is False) end before ``not_after_before``."""
        where = ["1"] if not bound_only else ["key_rowid IS NOT NULL"]
        params: list[Any] = []
        if not_after_before is not None:
            where.append("not_after < ?")
            params.append(not_after_before)
        count: int = self._conn.scalar(f"SELECT count(*) FROM certificates WHERE {' AND '.join(where)}", params)
        return count

    def delete_certificate(self, fingerprint: str) -> None:
        with self._conn.transaction() as db:
            cursor = db.execute("DELETE FROM certificates WHERE fingerprint = ?", [fingerprint])
            if cursor.rowcount == 0:
                raise NotFound(f"No certificate {fingerprint[:64]} is recorded.")
