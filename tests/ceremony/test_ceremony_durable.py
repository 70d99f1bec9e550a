"""Ceremony transcripts are durable: every entry is on disk before the ceremony goes on.

``kms-tui ceremony run`` is killed (SIGKILL) right after its key-generation step: the
transcript left behind names the generated key, ``ceremony verify`` says where it stopped
(exit 1) and still catches any change to it. Every file a ceremony writes is new and never
reached through a symbolic link: a dangling link is refused before any key is generated, and
a link planted after that check is refused when the file is written.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import time
from pathlib import Path

import pytest

import kms_tui.ceremony.transcript as transcript_module
from kms_tui.ceremony import Ceremony, CeremonyRefused, load_script, verify
from kms_tui.ceremony.transcript import FORMAT_V1, TranscriptWriteError, entry_hash, load
from tests.ceremony.conftest import software_text
from tests.cli.runner import KMS_TUI, InProcessCli, ProcessCli

WITNESS_PROMPT = b"Witness Bob Witness, your initials to acknowledge step 1:"


def run_until(argv: list[str], env: dict[str, str], answers: list[tuple[bytes, bytes]], kill_at: bytes,
              timeout: float = 90.0) -> bytes:
    """Run argv on a pseudo-terminal, answer its prompts, and SIGKILL it when ``kill_at`` is shown."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(argv[0], argv, env)
    shown, pending, deadline = b"", list(answers), time.monotonic() + timeout
    try:
        while kill_at not in shown:
            assert time.monotonic() < deadline, shown.decode(errors="replace")[-2000:]
            if select.select([fd], [], [], 0.1)[0]:
                chunk = os.read(fd, 4096)
                assert chunk, shown.decode(errors="replace")[-2000:]
                shown += chunk
            if pending and pending[0][0] in shown:
                os.write(fd, pending.pop(0)[1])
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return shown


@pytest.fixture
def killed(secret_service, tmp_path):
    """A ceremony run on the software engine, killed once its key-generation step has run."""
    cli = ProcessCli(secret_service, tmp_path / "data")
    assert cli.json("keys", "list") == []
    script = tmp_path / "ceremony.yaml"
    script.write_text(software_text())
    shown = run_until([KMS_TUI, "--data-dir", str(cli.data_dir), "ceremony", "run", str(script)], cli.env,
                      [(b"proceed?", b"yes\n")], kill_at=WITNESS_PROMPT)
    assert b"self-test" in shown
    return cli, tmp_path / "ceremony-2026"


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_killed_after_key_generation_leaves_a_transcript_naming_the_key(killed):
    cli, out = killed
    keys = cli.json("keys", "list")
    assert [k["name"] for k in keys] == ["example-root-2026"]
    entries = load((out / "transcript.json").read_bytes()).entries
    assert [e["kind"] for e in entries] == ["ceremony.start", "step.confirm", "key.generated", "step.result"]
    assert entries[2]["key_id"] == keys[0]["key_id"] == entries[3]["details"]["key_id"]
    assert entries[2]["name"] == "example-root-2026" and entries[2]["step"] == 1

    proc = cli("ceremony", "verify", str(out / "transcript.json"), str(out), code=1)
    said = proc.stdout.decode()
    assert "Transcript check FAILED" in said
    assert "interrupted: the transcript stops at entry 3 (step.result), step 1 (generate-key)" in said
    assert f"step 1: example-root-2026 (key id {keys[0]['key_id']})" in said
    report = json.loads(cli("ceremony", "verify", str(out / "transcript.json"), str(out), "--json", code=1).stdout)
    assert report["complete"] is False and report["entries"] == 4
    assert report["stopped_at"] == {"entry": 3, "kind": "step.result", "step": 1, "action": "generate-key"}
    assert report["problems"] == [p for p in report["problems"] if "interrupted" in p]  # nothing else is wrong


def forged(after: dict, prev: str) -> bytes:
    entry = {"seq": after["seq"] + 1, "kind": "witness.ack", "ts": after["ts"], "prev": prev, "step": 1,
             "witness": "Bob Witness", "initials": "BW"}
    entry["hash"] = entry_hash(entry)
    return json.dumps(entry, sort_keys=True).encode() + b"\n"


def other_key(line: bytes) -> bytes:
    return line.replace(b'"key_id": "', b'"key_id": "0', 1)


TAMPERING = {  # what is done to the lines (a header, then entries 0 to 3), and what verify says
    "edited": (lambda ls: [ls[0], ls[1], ls[2], other_key(ls[3]), ls[4]], "entry 2 (key.generated) was altered"),
    "removed": (lambda ls: [ls[0], ls[1], ls[3], ls[4]], "entry 1 has sequence number 2"),
    "reordered": (lambda ls: [ls[0], ls[1], ls[3], ls[2], ls[4]], "entry 1 does not chain to entry 0"),
    "forged": (lambda ls: [*ls, forged(json.loads(ls[4]), "f" * 64)], "entry 4 does not chain to entry 3"),
    "header": (lambda ls: [ls[0].replace(b'"run"', b'"rehearsal"'), *ls[1:]], "the header says mode 'rehearsal'"),
    "cut": (lambda ls: [*ls[:4], ls[4][:-20]], "line 5 is incomplete"),
    "garbled": (lambda ls: [ls[0], ls[1], b"{not json\n", ls[3], ls[4]], "line 3 is not a JSON object"),
    "nested": (lambda ls: [ls[0], ls[1], ls[2], b"[" * 100_000 + b"\n", ls[4]], "line 4 is not a JSON object"),
}


def test_tampering_with_an_interrupted_transcript_is_caught(killed, tmp_path):
    cli, out = killed
    lines = lines_of(out / "transcript.json")
    assert len(lines) == 5  # the header and four entries
    assert verify(out / "transcript.json", out).stopped_at["entry"] == 3
    for how, (change, message) in TAMPERING.items():
        tampered = tmp_path / f"{how}.json"
        tampered.write_bytes(b"".join(change(lines)))
        report = verify(tampered, out)
        assert not report.ok and any(message in p for p in report.problems), (how, report.problems)
    said = cli("ceremony", "verify", str(tmp_path / "edited.json"), str(out), code=1).stdout.decode()
    assert "entry 2 (key.generated) was altered" in said and "interrupted" in said


@pytest.mark.parametrize("name", ["transcript.json", "root.pem"])
def test_dangling_symlink_refused_before_any_key(tmp_path, name):
    cli = InProcessCli(tmp_path / "data")
    before = cli.json("keys", "list")
    script = tmp_path / "ceremony.yaml"
    script.write_text(software_text())
    out = tmp_path / "ceremony-2026"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / name).symlink_to(elsewhere / "planted")
    answers = tmp_path / "answers.txt"
    answers.write_text("yes\nBW\nCW\n" * 8)
    proc = cli("ceremony", "run", str(script), "--answers", str(answers), code=None)
    assert cli.json("keys", "list") == before == []
    assert not cli.key_dir().exists() or not any(cli.key_dir().iterdir())
    assert proc.returncode == 3, proc.stderr
    assert f"{out / name} is a symbolic link; a ceremony never writes through one" in proc.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == [name] and not list(elsewhere.iterdir())


def started(kms, tmp_path) -> Ceremony:
    path = tmp_path / "ceremony.yaml"
    path.write_text(software_text())
    ceremony = Ceremony(kms, load_script(path), mode="run")
    ceremony.preflight()
    return ceremony


def test_symlink_planted_after_the_check_is_refused_when_the_transcript_is_created(kms, tmp_path):
    ceremony = started(kms, tmp_path)
    ceremony.output_dir.mkdir()
    ceremony.transcript_path.symlink_to(tmp_path / "planted")
    with pytest.raises(CeremonyRefused, match="transcript.json is a symbolic link"):
        ceremony.start()
    assert not (tmp_path / "planted").exists() and not kms.keys.list()


def test_symlink_planted_after_the_check_is_refused_when_an_output_is_written(kms, tmp_path):
    ceremony = started(kms, tmp_path)
    ceremony.start()
    ceremony.confirm(ceremony.current)
    generated = ceremony.run_step()
    (ceremony.output_dir / "root.pub.pem").symlink_to(tmp_path / "planted.pem")
    ceremony.confirm(ceremony.current)
    with pytest.raises(CeremonyRefused, match="root.pub.pem is a symbolic link"):
        ceremony.run_step()
    assert not (tmp_path / "planted.pem").exists()
    ceremony.abort("refused", ceremony.current)
    entries = load(ceremony.transcript_path.read_bytes()).entries
    assert [e["kind"] for e in entries][-3:] == ["step.confirm", "exception", "ceremony.end"]
    assert entries[2]["key_id"] == generated.details["key_id"] == kms.keys.resolve("example-root-2026").key_id
    (ceremony.output_dir / "root.pub.pem").unlink()
    report = verify(ceremony.transcript_path, ceremony.output_dir)
    assert report.ok and report.complete, report.problems


def test_symlinked_output_directory_refused(kms, tmp_path):
    ceremony = started(kms, tmp_path)
    (tmp_path / "real").mkdir()
    ceremony.output_dir.symlink_to(tmp_path / "real")
    with pytest.raises(CeremonyRefused, match="output directory .* is a symbolic link"):
        ceremony.preflight()
    with pytest.raises(CeremonyRefused, match="output directory .* is a symbolic link"):
        ceremony.start()
    assert not list((tmp_path / "real").iterdir()) and not kms.keys.list()


def test_each_entry_is_on_disk_when_recorded(kms, tmp_path):
    ceremony = started(kms, tmp_path)
    ceremony.start()
    for record in (lambda: ceremony.exception("the seal number differs"), lambda: ceremony.confirm(ceremony.current)):
        record()
        entries = load(ceremony.transcript_path.read_bytes()).entries
        assert entries == ceremony.transcript.entries
    report = verify(ceremony.transcript_path, ceremony.output_dir)
    assert report.stopped_at == {"entry": 2, "kind": "step.confirm", "step": 1, "action": "generate-key"}


def test_a_transcript_that_cannot_be_written_stops_the_ceremony(kms, tmp_path, monkeypatch):
    ceremony = started(kms, tmp_path)
    ceremony.start()

    def disk_full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transcript_module, "write_all", disk_full)
    with pytest.raises(TranscriptWriteError, match="No space left on device"):
        ceremony.confirm(ceremony.current)
    monkeypatch.undo()
    with pytest.raises(TranscriptWriteError):
        ceremony.run_step()  # no key is made that the transcript could not name
    assert not kms.keys.list()
    assert ceremony.abort("disk full") is None
    assert verify(ceremony.transcript_path, ceremony.output_dir).stopped_at["kind"] == "ceremony.start"


def test_transcripts_of_the_earlier_format_still_verify(kms, tmp_path):
    ceremony = started(kms, tmp_path)
    ceremony.start()
    ceremony.finish("aborted", "rehearsing the format")
    entries = ceremony.transcript.entries
    body = ",\n".join(json.dumps(e, sort_keys=True) for e in entries)
    old = tmp_path / "old.json"
    old.write_text(f'{{"format": "{FORMAT_V1}", "mode": "run", "entries": [\n{body}\n],\n'
                   f'"final_hash": "{entries[-1]["hash"]}"}}\n')
    report = verify(old, ceremony.output_dir)
    assert report.ok and report.format == FORMAT_V1 and report.final_hash == ceremony.final_hash
    text = old.read_text()
    at = text.rindex(entries[-1]["hash"])  # the sealed final hash, after the last entry
    old.write_text(text[:at] + "0" * 64 + text[at + 64:])
    assert "the final hash is not the last entry's hash" in verify(old, ceremony.output_dir).problems
