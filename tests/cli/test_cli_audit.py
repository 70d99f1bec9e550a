"""``kms-tui audit list --key``: a key's rows by what it is or was called, deleted keys too."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _public_pem(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "pub.pem"
    path.write_bytes(pem)
    return path


def _deleted_on_two_engines(cli, tmp_path) -> str:
    """One key id recorded on two engines under two names, renamed and aliased, then deleted from both."""
    pem = _public_pem(tmp_path)
    cli("engines", "add", "GOLANG", "--id", "soft-2", "--option", f"directory={tmp_path / 'soft-2'}",
        "--secret-stdin", input="a passphrase for soft-2\n")
    key_id = cli.json("keys", "import", str(pem), "--name", "first")["key_id"]
    cli("keys", "rename", "first", "second")
    cli("keys", "alias", "add", "second", "the-alias")
    cli.json("keys", "import", str(pem), "--name", "other", "--engine", "soft-2")
    cli("keys", "delete", "second", "--yes")
    cli("keys", "delete", "other", "--yes")
    assert cli.json("keys", "list") == []
    return key_id


def test_a_deleted_keys_rows_by_every_name_it_had(cli, tmp_path):
    key_id = _deleted_on_two_engines(cli, tmp_path)
    for ref in ("first", "second", "the-alias"):
        rows = cli.json("audit", "list", "--key", ref)
        assert [r["action"] for r in rows] == ["key.delete", "key.alias.add", "key.rename", "key.import"], ref
        assert {(r["engine_id"], r["key_id"], r["key_name"]) for r in rows} == {("golang-default", key_id, "second")}


def test_a_key_id_on_two_engines_shows_both_grouped_by_engine(cli, tmp_path):
    key_id = _deleted_on_two_engines(cli, tmp_path)
    rows = cli.json("audit", "list", "--key", key_id)
    assert [(r["engine_id"], r["action"]) for r in rows] == [
        ("golang-default", "key.delete"), ("golang-default", "key.alias.add"), ("golang-default", "key.rename"),
        ("golang-default", "key.import"), ("soft-2", "key.delete"), ("soft-2", "key.import")]
    text = cli("audit", "list", "--key", key_id.upper()).stdout.decode()
    heads = [line for line in text.splitlines() if line.startswith("Engine ")]
    assert heads == [f"Engine golang-default: key {key_id[:16]}… second (no longer recorded)",
                     f"Engine soft-2: key {key_id[:16]}… other (no longer recorded)"]
    assert text.index("soft-2:") > text.index("key.rename")  # each engine's rows under its heading


def test_rows_show_the_name_beside_the_id(cli):
    cli("keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "signer")
    text = cli("audit", "list").stdout.decode()
    header, _, row = text.splitlines()[:3]
    assert header.split() == ["SEQ", "TIME", "ACTION", "ENGINE", "KEY", "NAME"]
    assert row.split()[-3:] == ["golang-default", row.split()[-2], "signer"] and "key.create" in row


def test_a_name_no_key_ever_had_is_not_found(cli, tmp_path):
    _deleted_on_two_engines(cli, tmp_path)
    err = cli("audit", "list", "--key", "never", code=3)
    assert b"No key is or was known as 'never'" in err.stderr
    assert cli("audit", "list", "--key", "ab" * 32, code=3).returncode == 3


def test_an_alias_given_at_import_still_names_the_deleted_key(cli, tmp_path):
    key_id = cli.json("keys", "import", str(_public_pem(tmp_path)), "--name", "n", "--alias", "born-with")["key_id"]
    cli("keys", "delete", "n", "--yes")
    rows = cli.json("audit", "list", "--key", "born-with")
    assert [(r["action"], r["key_id"]) for r in rows] == [("key.delete", key_id), ("key.import", key_id)]
    assert rows[0]["details"]["aliases"] == ["born-with"]
