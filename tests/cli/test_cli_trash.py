"""``kms-tui keys delete`` / ``action restore|purge`` / ``purge-expired`` on the software engine's trash."""

from __future__ import annotations

import os


def _make(cli, name: str) -> dict:
    return cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", name)


def _trash(cli):
    return cli.key_dir() / ".trash"


def _snapshot(cli):
    return sorted(os.listdir(_trash(cli))), cli("keys", "list", "--json").stdout, cli("audit", "list", "--json").stdout


def test_delete_restore_and_a_purge_that_needs_the_key_named(cli, tmp_path):
    key = _make(cli, "dev")
    out = cli("keys", "delete", "dev", "--yes").stdout.decode()
    assert "PendingDeletion" in out and "recovered" in out
    listing = cli("keys", "list").stdout.decode()
    assert "STATE" in listing and "PendingDeletion" in listing
    assert [k["state"] for k in cli.json("keys", "list")] == ["PendingDeletion"]
    msg = tmp_path / "m"
    msg.write_bytes(b"hello")
    err = cli("keys", "sign", "dev", "--algorithm", "ECDSA_SHA_256", "--in", str(msg), code=3)
    assert b"pending deletion" in err.stderr
    assert cli.json("keys", "action", "dev", "restore")["state"] is None
    cli("keys", "sign", "dev", "--algorithm", "ECDSA_SHA_256", "--in", str(msg))
    cli("keys", "delete", "dev", "--yes")
    assert b"already pending deletion" in cli("keys", "delete", "dev", "--yes", code=3).stderr

    before = _snapshot(cli)
    for extra in ((), ("--yes",), ("--confirm", "other"), ("--confirm", key["key_id"][:6])):
        err = cli("keys", "action", "dev", "purge", *extra, code=3)
        assert b"nothing was changed" in err.stderr
        assert _snapshot(cli) == before
    cli("keys", "action", "dev", "purge", "--confirm", key["key_id"][:10])
    assert cli.json("keys", "list") == [] and os.listdir(_trash(cli)) == []
    assert [r["action"] for r in cli.json("audit", "list", "--limit", "2")] == [
        "key.action.purge", "key.action.purge.intent"]


def test_purge_expired_purges_only_keys_past_their_window(process_cli):
    cli = process_cli  # the main path through the real entry point
    old, young = _make(cli, "old"), _make(cli, "young")
    cli("keys", "delete", "old", "--yes")
    cli("keys", "delete", "young", "--yes", "--option", "pending_window_days=30")
    (name,) = [n for n in os.listdir(_trash(cli)) if n.startswith(old["key_id"])]
    # Deleted long ago, with a 7-day window: the deletion time is in the file's name.
    os.rename(_trash(cli) / name, _trash(cli) / f"{old['key_id']}.1000000000.7")

    before = _snapshot(cli)
    listed = cli.json("keys", "purge-expired", "--dry-run")
    assert listed["dry_run"] and [(k["name"], k["purged"]) for k in listed["keys"]] == [("old", False)]
    assert "old" in cli("keys", "purge-expired", "--dry-run").stdout.decode()
    assert _snapshot(cli) == before

    done = cli.json("keys", "purge-expired", "--engine", "golang-default")
    assert [(k["name"], k["purged"]) for k in done["keys"]] == [("old", True)]
    assert [k["name"] for k in cli.json("keys", "list")] == ["young"]
    assert [n[:64] for n in os.listdir(_trash(cli))] == [young["key_id"]]
    assert cli.json("keys", "purge-expired")["keys"] == []
    assert cli("audit", "verify").returncode == 0
