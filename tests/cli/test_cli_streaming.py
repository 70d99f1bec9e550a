"""``keys list --json/--jsonl`` and ``doctor`` write as they read: same output, one row or finding at a time."""

from __future__ import annotations

import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from engines import keys as K
from engines.algorithms import ED25519, strength
from kms_tui.service.core import DEFAULT_ENGINE_ID
from kms_tui.service.doctor import DoctorService
from store import KeyRecord, Store

MARK = "<the engines check starts here>\n"


def test_jsonl_holds_the_json_array_one_key_per_line(cli):
    for name in ("b", "a\u202e\n", "c"):
        cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", name, "--tag", "t")
    array = cli.json("keys", "list")
    lines = cli("keys", "list", "--jsonl").stdout.decode().splitlines()
    assert [json.loads(line) for line in lines] == array and len(lines) == 3
    assert cli("keys", "list", "--json", "--sort", "name", "--desc").stdout.decode() == (
        "[\n" + ",\n".join(reversed(lines)) + "\n]\n")
    assert cli("keys", "list", "--json", "--filter", "nothing-like-it").stdout == b"[]\n"
    assert cli("keys", "list", "--jsonl", "--filter", "nothing-like-it").stdout == b""
    human = cli("keys", "list").stdout.decode().splitlines()
    assert human[0].split() == ["NAME", "KEY", "ID", "ENGINE", "ALGORITHM", "STRENGTH", "KIND", "BOUND", "STATE"]
    assert [line.split()[0] for line in human[2:]] == ["a\\u202e\\n", "b", "c"]


def test_doctor_prints_a_finding_before_the_later_checks_run(cli, monkeypatch):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "k")
    os.chmod(cli.data_dir, 0o755)  # a permissions finding: the first check
    check_engines = DoctorService._check_engines

    def engines_check(self, report, timeout):
        sys.stdout.write(MARK)
        return check_engines(self, report, timeout)

    monkeypatch.setattr(DoctorService, "_check_engines", engines_check)
    out = cli("doctor", code=1).stdout.decode()
    assert out.index("WARN  permissions:") < out.index(MARK) < out.index("permissions  findings")
    assert out.rstrip().endswith("1 finding(s) to act on.")


def test_doctor_json_keeps_its_shape_while_findings_stream(cli):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "k")
    healthy = json.loads(cli("doctor", "--json").stdout)
    assert healthy == {"clean": True, "repair": False, "incomplete": [], "findings": [],
                       "checked": dict.fromkeys(("permissions", "database", "audit", "keyring", "engines",
                                                 "consistency"), "ok")}
    os.chmod(cli.data_dir, 0o755)
    sick = json.loads(cli("doctor", "--json", code=1).stdout)
    assert set(sick) == set(healthy) and sick["clean"] is False and sick["checked"]["permissions"] == "findings"
    (finding,) = sick["findings"]
    assert finding["check"] == "permissions" and finding["severity"] == "warning" and "chmod" in finding["hint"]


def _records_without_key_files(data_dir, n: int) -> list[str]:
    """``n`` key records of the default engine whose key files never existed; their names, in order."""
    store = Store(data_dir)
    names = [f"gone-{i:04d}" for i in range(n)]
    try:
        with store.transaction():
            for name in names:
                public = ed25519.Ed25519PrivateKey.generate().public_key()
                pem = public.public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                key_id = K.key_id_of(public)
                store.add_key(KeyRecord(key_id=key_id, engine_id=DEFAULT_ENGINE_ID, name=name, algorithm=ED25519,
                                        size=256, strength=strength(ED25519, 256), has_private_key=True,
                                        public_key=pem, native_ref=key_id))
    finally:
        store.close()
    return names


def test_doctor_json_over_2000_records_whose_key_files_are_gone_names_each_in_order(cli):
    cli("keys", "list")  # the data directory and its default engine
    names = _records_without_key_files(cli.data_dir, 2000)
    data = json.loads(cli("doctor", "--json", code=1).stdout)
    assert [f["subject"] for f in data["findings"]] == names
    assert all(f["check"] == "consistency" and f["repairable"] and "no longer holds it" in f["message"]
               for f in data["findings"])
    assert data["checked"] == {**dict.fromkeys(("permissions", "database", "audit", "keyring", "engines"), "ok"),
                               "consistency": "findings"}
    assert data["clean"] is False and data["incomplete"] == []
    text = cli("doctor", code=1).stdout.decode()
    assert text.count("WARN  consistency: gone-") == 2000 and text.rstrip().endswith("2000 finding(s) to act on.")
