"""``--output lamassu``: ``keys show|list`` and ``stats`` as the JSON documents of Lamassu's KMS API.

Our output is compared field by field with the documents in tests/fixtures/lamassu/, written by hand
from Lamassu's Go code (lamassuiot/lamassuiot; commits as the code index gives them):

- core/pkg/models/kms.go — ``Key``: pkcs11_uri, key_id, name, aliases, engine_id, has_private_key,
  algorithm, size, public_key, creation_ts (time.Time), tags, metadata (map[string]any), in that
  order; ``KeyStats``: total_keys, keys_distribution_per_engine, keys_distribution_per_algorithm;
  ``BuildPKCS11ID`` / ``AfterFind``: "pkcs11:token-id=<engine_id>;id=<key_id>;type=private|public".
  Read: the stored version with Tags, KeyStats and BuildPKCS11ID (index id 71167114039); commit
  1e3dac8dd1d8027c1ac249120eb97c7f9716fe62 has the same Key without tags.
- core/pkg/resources/iterable.go @ 6482e8c0cfda713ee033c27a7a988945de3beb97 — ``IterableList``:
  ``next`` (the bookmark), then ``list``.
- core/pkg/resources/caresp.go, the version declaring ``GetKeysResponse struct {
  IterableList[models.Key] }`` (index id 52485263857): the list envelope, embedded, so flat.
- backend/pkg/controllers/kms.go and backend/pkg/routes/kms.go @ 0b7c6d4087cc5cc7a1992c9330b4de14ad715233
  — ``GET /v1/keys`` answers GetKeysResponse, ``GET /v1/keys/:id`` one Key (mounted under /api/kms).
- backend/pkg/services/kms.go @ 08cd8a57a080dbc7e3f443a8fd7425c6bfa651aa — algorithm "RSA" or
  "ECDSA", size in bits (the curve's for ECDSA), public_key = base64 of pem.EncodeToMemory of a
  "PUBLIC KEY" block of x509.MarshalPKIXPublicKey, aliases ``[]``, tags and metadata never null;
  its CreateKey/ImportKey make RSA and ECDSA keys only.
- backend/pkg/specs/kms-openapi.yaml @ b85b8303a7fed22d9b06a89514677096b7355e8c — ``GET /stats``
  (KeyStats), the Key schema's algorithm enum RSA / ECDSA / Ed25519 (so an Ed25519 key has a
  document; DSA has none and is refused), public_key "Base64 encoded", the ``bookmark`` parameter.
- docs/RFC008-filtered-stats.md @ f3b461bec268dd0eb0e9c69d1f11f006e56ed377 — every registered
  engine and each of RSA, ECDSA, Ed25519 appear in the distributions, zero included.
- Go's encoding/json (standard library, as gin's ctx.JSON uses it): struct members in declaration
  order, map keys sorted, ``<`` ``>`` ``&`` written ``\\u003c`` ``\\u003e`` ``\\u0026``; time.Time as
  RFC 3339 with the fraction's trailing zeros dropped and "Z" for UTC.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa

from kms_tui.cli import lamassu_output as lamassu
from kms_tui.service.errors import InvalidInput, Refused
from kms_tui.service.types import BINDINGS_KEY, KeyRecord

FIXTURES = Path(__file__).parents[1] / "fixtures"
CREATED = "2026-01-02T03:04:05Z"  # the creation time of the records the formatting tests build
GO_UTC_SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# fixture: (key file in tests/fixtures/keys, name, aliases, tags, free metadata, bindings)
KEYS = {
    "key_rsa": ("rsa2048", "signer-rsa", [], ["pki"], {}, []),
    "key_ecdsa_bound": ("p256", "issuing-ca", ["issuing"], [], {"owner": "pki & ops"}, [("certificate", "1a:2b:3c")]),
    "key_ed25519": ("ed25519", "ed-device", [], [], {}, []),
}


def fixture(name: str):
    return json.loads((FIXTURES / "lamassu" / f"{name}.json").read_text())


def _public_pem(key_file: str) -> str:
    private = serialization.load_pem_private_key((FIXTURES / "keys" / f"{key_file}.pem").read_bytes(), None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _record(fixture_name: str, **changes) -> KeyRecord:
    """The kms-tui record of a fixture's key, built from the key file (not from the fixture)."""
    key_file, key_name, aliases, tags, metadata, bindings = KEYS[fixture_name]
    expected = fixture(fixture_name)
    meta = dict(metadata)
    if bindings:
        meta[BINDINGS_KEY] = [{"resource_type": t, "resource_id": i} for t, i in bindings]
    fields = dict(
        key_id=expected["key_id"], engine_id="golang-default", name=key_name, algorithm=expected["algorithm"],
        size=expected["size"], strength="HIGH", has_private_key=True, public_key=_public_pem(key_file),
        native_ref=expected["key_id"], creation_ts=CREATED, tags=list(tags), metadata=meta, aliases=list(aliases),
    )
    fields.update(changes)
    return KeyRecord(**fields)


# --- the documents, from records --------------------------------------------


@pytest.mark.parametrize("name", sorted(KEYS))
def test_each_key_is_lamassus_key_document(name):
    document = lamassu.key_document(_record(name))
    expected = fixture(name)
    for field, value in expected.items():
        assert document[field] == value, field
    assert list(document) == list(expected)  # the Go struct's field order, nothing more


def test_the_text_is_what_go_writes():
    text = lamassu.key_text(_record("key_ecdsa_bound"))
    assert json.loads(text) == fixture("key_ecdsa_bound")
    assert '"owner":"pki \\u0026 ops"' in text and "&" not in text  # HTML-escaped as encoding/json does
    assert text.index(f'"{BINDINGS_KEY}"') < text.index('"owner"')  # a map's keys sorted
    assert text.index('"resource_id"') < text.index('"resource_type"')
    assert ", " not in text and '": ' not in text  # compact, as gin writes it
    assert lamassu.go_json({"b": {"z": 1, "a": 2.0}, "a": "<x>"}) == '{"b":{"a":2,"z":1},"a":"\\u003cx\\u003e"}'


def test_a_public_key_only_record_says_so_in_its_uri():
    document = lamassu.key_document(_record("key_rsa", has_private_key=False))
    assert document["has_private_key"] is False
    assert document["pkcs11_uri"].endswith(";type=public")


def test_public_key_is_the_pem_go_writes_whatever_the_recorded_wrapping():
    pem = _public_pem("rsa2048")
    body = "".join(pem.splitlines()[1:-1])
    odd = "-----BEGIN PUBLIC KEY-----\r\n" + "\r\n".join(body[i:i + 76] for i in range(0, len(body), 76)) \
        + "\r\n-----END PUBLIC KEY-----"
    assert lamassu.key_document(_record("key_rsa", public_key=odd))["public_key"] == fixture("key_rsa")["public_key"]


@pytest.mark.parametrize(("stored", "go"), [
    ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
    ("2026-01-02T03:04:05+00:00", "2026-01-02T03:04:05Z"),
    ("2026-01-02T03:04:05.120000+02:00", "2026-01-02T03:04:05.12+02:00"),
    ("2026-01-02T03:04:05.000001-05:30", "2026-01-02T03:04:05.000001-05:30"),
    ("", "0001-01-01T00:00:00Z"),  # Go's zero time.Time: what Lamassu shows without a creation time
])
def test_timestamps_as_go_marshals_time(stored, go):
    assert lamassu.go_time(stored) == go


def test_a_dsa_key_has_no_lamassu_document():
    record = _record("key_rsa", algorithm="DSA", size=2048, name="old-dsa")
    with pytest.raises(Refused) as caught:
        lamassu.key_document(record)
    assert "DSA" in caught.value.message and "Lamassu" in caught.value.message


def test_stats_count_every_engine_and_lamassus_three_algorithms():
    stats = {"total": 5, "by_engine": {"golang-default": 5, "hsm": 0},
             "by_algorithm": {"DSA": 1, "ECDSA": 4}, "bound": 0, "unbound": 5}
    assert lamassu.stats_document(stats) == {
        "total_keys": 5,
        "keys_distribution_per_engine": {"golang-default": 5, "hsm": 0},
        "keys_distribution_per_algorithm": {"RSA": 0, "ECDSA": 4, "Ed25519": 0},
    }


def test_bookmarks_resume_at_the_next_offset():
    assert lamassu.next_bookmark(0, None, 10) == ""
    assert lamassu.next_bookmark(5, 5, 10) == ""
    assert lamassu.bookmark_offset(lamassu.next_bookmark(2, 3, 10)) == 5
    nested = base64.b64encode(b"[" * 100_000).decode()  # deeper than any JSON reader goes
    for bad in ("", "not base64!", "eyJ4IjoxfQ==", "eyJvZmZzZXQiOi0xfQ==", nested):  # {"x":1}, {"offset":-1}
        with pytest.raises(InvalidInput):
            lamassu.bookmark_offset(bad)


# --- through the command line -------------------------------------------------


def _lamassu(cli, *args):
    return json.loads(cli(*args, "--output", "lamassu").stdout)


def _same_but_creation(document, expected, record):
    for field, value in expected.items():
        if field != "creation_ts":
            assert document[field] == value, field
    assert list(document) == list(expected)
    assert GO_UTC_SECOND.match(document["creation_ts"]) and document["creation_ts"] == record["creation_ts"]


def _import_fixture_keys(cli):
    records = {}
    for name, (key_file, key_name, aliases, tags, metadata, bindings) in KEYS.items():
        args = ["keys", "import", str(FIXTURES / "keys" / f"{key_file}.pem"), "--name", key_name,
                "--metadata", json.dumps(metadata)]
        for alias in aliases:
            args += ["--alias", alias]
        for tag in tags:
            args += ["--tag", tag]
        records[name] = cli.json(*args)
        for resource_type, resource_id in bindings:
            records[name] = cli.json("keys", "bind", key_name, "--type", resource_type, "--id", resource_id)
    return records


def test_show_list_and_stats_are_lamassus_documents(cli):
    records = _import_fixture_keys(cli)
    for name, record in records.items():
        _same_but_creation(_lamassu(cli, "keys", "show", record["name"]), fixture(name), record)
    # The second page of a listing by name, one key a page: the envelope, the key, and where to go on.
    page = _lamassu(cli, "keys", "list", "--limit", "1", "--bookmark", "eyJvZmZzZXQiOjF9")
    expected = fixture("keys_page")
    assert list(page) == ["next", "list"] and page["next"] == expected["next"]
    [key] = page["list"]
    _same_but_creation(key, expected["list"][0], records["key_ecdsa_bound"])
    assert _lamassu(cli, "stats") == fixture("stats")
    # --json stays kms-tui's own document
    assert cli.json("keys", "show", "issuing-ca")["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "total" in cli.json("stats") and "total_keys" not in cli.json("stats")


def test_a_listing_pages_with_bookmarks_and_ends_with_an_empty_next(cli):
    _import_fixture_keys(cli)
    names, bookmark, pages = [], None, 0
    while bookmark != "" and pages < 4:  # bounded: a bookmark that does not move on fails, never hangs
        args = ["keys", "list", "--limit", "2"] + (["--bookmark", bookmark] if bookmark else [])
        page = _lamassu(cli, *args)
        names += [k["name"] for k in page["list"]]
        bookmark, pages = page["next"], pages + 1
    assert names == ["ed-device", "issuing-ca", "signer-rsa"] and pages == 2
    whole = _lamassu(cli, "keys", "list")
    assert whole["next"] == "" and [k["name"] for k in whole["list"]] == names
    assert _lamassu(cli, "keys", "list", "--algorithm", "DSA") == {"next": "", "list": []}


def test_what_lamassu_cannot_show_is_refused_before_anything_is_written(cli, tmp_path):
    _import_fixture_keys(cli)
    public = dsa.generate_private_key(1024).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "dsa.pem").write_bytes(public)
    cli("keys", "import", str(tmp_path / "dsa.pem"), "--name", "old-dsa")
    shown = cli("keys", "show", "old-dsa", "--output", "lamassu", code=3)
    assert shown.stdout == b"" and b"DSA" in shown.stderr and b"Lamassu" in shown.stderr
    listed = cli("keys", "list", "--output", "lamassu", code=3)
    assert listed.stdout == b"" and b"1 of the keys to list is DSA" in listed.stderr
    assert [k["name"] for k in _lamassu(cli, "keys", "list", "--algorithm", "ECDSA")["list"]] == ["issuing-ca"]
    assert _lamassu(cli, "stats")["total_keys"] == 4  # Lamassu's total counts every key; its algorithms, three
    both = cli("keys", "show", "issuing-ca", "--output", "lamassu", "--json", code=3)
    assert b"choose one" in both.stderr and both.stdout == b""
    bad = cli("keys", "list", "--output", "lamassu", "--bookmark", "nonsense", code=3)
    assert b"--bookmark" in bad.stderr and bad.stdout == b""
