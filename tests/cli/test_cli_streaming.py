"""``keys list --json/--jsonl`` and ``doctor`` write as they read: same output, one row or finding at a time."""

from __future__ import annotations

import json
import os
import sys

from kms_tui.service.doctor import DoctorService

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
