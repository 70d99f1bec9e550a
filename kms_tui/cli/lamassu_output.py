"""``--output lamassu``: kms-tui's keys and counts as the JSON documents Lamassu's KMS API returns.

Three documents, each as Lamassu's Go code writes it (struct field order, json tags, Go's
encodings), so a script written against a Lamassu deployment reads kms-tui's output unchanged:

- ``keys show``  → ``GET /api/kms/v1/keys/{id}``: one ``models.Key``.
- ``keys list``  → ``GET /api/kms/v1/keys``: ``resources.GetKeysResponse``, the paged envelope
  ``{"next": BOOKMARK, "list": [Key, ...]}``.
- ``stats``      → ``GET /api/kms/v1/stats``: ``models.KeyStats``.

Where each fact comes from (lamassuiot/lamassuiot): ``core/pkg/models/kms.go`` (Key, KeyStats,
BuildPKCS11ID), ``core/pkg/resources/iterable.go`` (IterableList: ``next``, ``list``),
``backend/pkg/controllers/kms.go`` (GetKeys answers GetKeysResponse), ``backend/pkg/services/kms.go``
(algorithm "RSA"/"ECDSA", size in bits — the curve's for ECDSA —, public_key base64 of a
"PUBLIC KEY" PEM block, aliases/tags/metadata never null), ``backend/pkg/specs/kms-openapi.yaml``
(paths, the algorithm enum RSA/ECDSA/Ed25519, the ``bookmark`` query parameter) and
``docs/RFC008-filtered-stats.md`` (every engine and every one of RSA/ECDSA/Ed25519 counted, zero
included). tests/cli/test_lamassu_output.py cites the commits read.

Paging: Lamassu lists a page and hands back ``next``, an opaque bookmark the client sends back as
``bookmark``. kms-tui lists every matching key unless ``--limit`` cuts the list; then ``next`` is a
bookmark (base64 of ``{"offset": N}``) that ``keys list --bookmark NEXT`` with the same filters and
sort resumes from. When everything is listed ``next`` is ``""``, as Lamassu's last page has it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..service.algorithms import ECDSA, ED25519, KEY_ALGORITHMS, RSA
from ..service.errors import InvalidInput, Refused

OUTPUT = "lamassu"
# The algorithm enum of Lamassu's Key schema (kms-openapi.yaml) and the fixed list its stats count.
LAMASSU_ALGORITHMS = (RSA, ECDSA, ED25519)
UNREPRESENTABLE = tuple(a for a in KEY_ALGORITHMS if a not in LAMASSU_ALGORITHMS)
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # how Go writes a zero time.Time
_PEM_BODY = re.compile(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", re.S)
# Go's encoding/json escapes these inside strings (HTML safety); gin's ctx.JSON keeps it on.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def wanted(args: Any) -> bool:
    """Whether the command asked for ``--output lamassu``; refused together with --json or --jsonl."""
    if getattr(args, "output", None) != OUTPUT:
        return False
    for flag in ("json", "jsonl"):
        if getattr(args, flag, False):
            raise InvalidInput(f"--{flag} and --output lamassu are two different documents: choose one.")
    return True


# --- one key ---------------------------------------------------------------


def refusal(record: Any) -> str | None:
    """Why Lamassu's Key model cannot show this key, or None when it can."""
    if record.algorithm in LAMASSU_ALGORITHMS:
        return None
    return (f"Key {record.name} is {record.algorithm}: Lamassu's Key model knows only RSA, ECDSA and Ed25519 "
            "(its API's algorithm enum), so no Lamassu document can show it.")


def key_document(record: Any) -> dict[str, Any]:
    """``models.Key`` for ``record``, members in the Go struct's field order."""
    reason = refusal(record)
    if reason:
        raise Refused(reason, hint="Use --json for kms-tui's own document.")
    kind = "private" if record.has_private_key else "public"
    return {
        # Lamassu computes the URI from the engine and key ids (BuildPKCS11ID), whatever the backend.
        "pkcs11_uri": f"pkcs11:token-id={record.engine_id};id={record.key_id};type={kind}",
        "key_id": record.key_id,
        "name": record.name,
        "aliases": list(record.aliases),
        "engine_id": record.engine_id,
        "has_private_key": bool(record.has_private_key),
        "algorithm": record.algorithm,
        "size": int(record.size),
        "public_key": base64.b64encode(go_pem(record.public_key).encode()).decode(),
        "creation_ts": go_time(record.creation_ts),
        "tags": list(record.tags),
        # The bindings stay where Lamassu keeps them: metadata["lamassu.io/kms/binded-resources"].
        # kms-tui's status ("missing") and engine state have no field in Lamassu's Key: left out.
        "metadata": dict(record.metadata),
    }


def key_text(record: Any) -> str:
    return go_json(key_document(record))


def write_key(record: Any) -> None:
    sys.stdout.write(key_text(record) + "\n")


# --- the paged list --------------------------------------------------------


def write_key_list(records: Iterable[Any], next_bookmark: str) -> None:
    """``GetKeysResponse`` on stdout, each key written as it is read (``next`` first, as Go orders it)."""
    write = sys.stdout.write
    write('{"next":' + go_json(next_bookmark) + ',"list":[')
    separator = ""
    for record in records:
        write(separator + key_text(record))
        separator = ","
    write("]}\n")


def write_listing(kms: Any, query: Any) -> None:
    """``keys list --output lamassu``: refused before anything is written when a listed key cannot be shown."""
    found = unrepresentable_count(lambda name: kms.keys.count(replace(query, algorithm=name)), query.algorithm)
    if found:
        raise refuse_list(*found)
    total = kms.keys.count(query)
    write_key_list(kms.keys.iter(query), next_bookmark(query.offset, query.limit, total))


def next_bookmark(offset: int, limit: int | None, total: int) -> str:
    """``next`` of a page that starts at ``offset`` and holds at most ``limit`` of ``total`` keys."""
    if limit is None or offset + limit >= total:
        return ""
    return encode_bookmark(offset + limit)


def encode_bookmark(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}, separators=(",", ":")).encode()).decode()


def bookmark_offset(bookmark: str) -> int:
    """The offset a ``next`` bookmark resumes from."""
    try:
        value = json.loads(base64.b64decode(bookmark.strip(), validate=True)).get("offset")
    except (binascii.Error, ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        value = None
    if type(value) is not int or value < 0:
        raise InvalidInput("--bookmark is not a bookmark kms-tui wrote (the \"next\" of a keys list --output lamassu).")
    return value


def unrepresentable_count(count_of: Any, algorithm: str | None) -> tuple[str, int] | None:
    """The first algorithm Lamassu cannot show among the keys listed, and how many: None when there is none.

    ``count_of(algorithm)`` counts the listed keys of one algorithm (every page, not only this one).
    """
    for name in UNREPRESENTABLE:
        if algorithm not in (None, name):
            continue
        count = count_of(name)
        if count:
            return name, count
    return None


def refuse_list(algorithm: str, count: int) -> Refused:
    return Refused(
        f"{count} of the keys to list {'is' if count == 1 else 'are'} {algorithm}: Lamassu's Key model knows only "
        "RSA, ECDSA and Ed25519 (its API's algorithm enum), so no Lamassu document can list "
        f"{'it' if count == 1 else 'them'}.",
        hint="Narrow the list with --algorithm RSA, ECDSA or Ed25519, or use --json.",
    )


# --- stats -----------------------------------------------------------------


def stats_document(stats: Mapping[str, Any]) -> dict[str, Any]:
    """``models.KeyStats`` from kms-tui's stats: every engine and each of Lamassu's algorithms, zero included.

    ``total_keys`` counts every key, as Lamassu's total counts every row; the algorithm map has
    Lamassu's three entries only.
    """
    by_algorithm = stats.get("by_algorithm", {})
    return {
        "total_keys": int(stats["total"]),
        "keys_distribution_per_engine": {name: int(n) for name, n in stats.get("by_engine", {}).items()},
        "keys_distribution_per_algorithm": {name: int(by_algorithm.get(name, 0)) for name in LAMASSU_ALGORITHMS},
    }


def write_stats(stats: Mapping[str, Any]) -> None:
    sys.stdout.write(go_json(stats_document(stats)) + "\n")


# --- Go's encodings ----------------------------------------------------------


def go_json(value: Any) -> str:
    """``value`` as Go's json.Marshal writes it: compact, map keys sorted, struct members in order, HTML-escaped.

    Struct documents are dicts built in field order; the maps inside them (metadata, the
    distributions) are sorted, as Go sorts every map's keys.
    """
    text = json.dumps(_go_value(value, top=True), ensure_ascii=False, separators=(",", ":"))
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)  # these characters occur only inside strings in JSON text
    return text


def _go_value(value: Any, top: bool = False) -> Any:
    if isinstance(value, dict):
        items = value.items() if top else sorted(value.items())
        return {k: _go_value(v) for k, v in items}
    if isinstance(value, list):
        return [_go_value(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go writes a whole float64 without a fraction: 2.0 is "2"
    return value



def go_time(ts: str) -> str:
    """A kms-tui timestamp as Go's time.Time marshals it (RFC 3339, fraction trimmed, "Z" for UTC)."""
    if not ts:
        return GO_ZERO_TIME  # Lamassu's zero value: a Key without a creation time
    when = datetime.fromisoformat(ts)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    offset = when.utcoffset()
    if offset is None or not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def go_pem(pem: str) -> str:
    """The public key as Go's pem.EncodeToMemory writes a "PUBLIC KEY" block: 64-column base64, final newline."""
    match = _PEM_BODY.search(pem)
    if not match:
        raise InvalidInput("The key's recorded public key is not a PUBLIC KEY PEM block.")
    der = base64.b64decode("".join(match.group(1).split()))
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"
