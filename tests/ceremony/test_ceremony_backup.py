"""Ceremony steps ``backup-key`` and ``restore-key``.

``examples/ceremony-root-with-backup.yaml`` rehearses with every other example in ``test_ceremony_examples``.
On SoftHSM2, a real ``ceremony run`` (in this process) backs a token-A key up 2-of-3 and restores it on
token B from two custodians: the shares are shown and typed on a pseudo-terminal standing for the controlling
terminal, each custodian acknowledges their own, and the transcript keeps per share its custodian and
fingerprint while no share and no key-encryption key (a sentinel) reaches the output directory, the data
directory (database, log, key files), stdout or stderr. Refused before anything is generated: an Ed25519 key
to back up on SoftHSM2, a wrong security officer PIN, a restore into a lower security level; a custodian who
is not a person of the script is refused by the lint, and the Ceremony screen refuses the script with the
command that runs it. On software engines, a rehearsal feeds its unseen shares to its restore, which takes
each named custodian's own share only, of the backup file as it was written.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import select
import threading
from hashlib import sha256
from pathlib import Path

import pytest
from shamir_mnemonic import combine_mnemonics

import kms_tui.cli.backup_cmds as backup_cmds
import kms_tui.service.backup as backup_service
from kms_tui.ceremony import Ceremony, CeremonyRefused, parse_script, verify
from kms_tui.ceremony.backup_steps import RehearsalCustody, share_fingerprint
from kms_tui.ceremony.rehearsal import scratch_kms
from kms_tui.ceremony.transcript import load
from tests.cli.runner import InProcessCli, home_env
from tests.cli.test_cli_backup import _shares_shown
from tests.engines.pkcs11.softhsm import SO_PIN, USER_PIN, private_module, run

KEK = b"ceremony-KEK-sentinel-0123456789"  # what every backup in the real run wraps under
TOKENS = ("cer-bk-a", "cer-bk-b")
INITIALS = {1: "CC", 2: "DC", 3: "EC"}
SCRIPT = """ceremony: {{id: backup-run, name: Backup run}}
roles:
  administrator: Alice Administrator
  witnesses: [{{name: Bob Witness, initials: BW}}]
  custodians:
    - {{name: Carol Custodian, initials: CC}}
    - {{name: Dave Custodian, initials: DC}}
    - {{name: Erin Custodian, initials: EC}}
engine: {{type: PKCS11, id: bk-a, module: {module}, token: cer-bk-a}}
output_dir: {out}
steps:
  - action: generate-key
    name: {name}
    algorithm: {algorithm}
    size: {size}
    backup: 2-of-3
  - action: backup-key
    keys: [{name}]
    custodians: [Carol Custodian, Dave Custodian, {third}]
    threshold: 2
    output: key.backup
  - action: restore-key
    file: key.backup
    engine: {target}
    name: {name}-b
    custodians: [Erin Custodian, Carol Custodian]
"""


@pytest.fixture
def tokens(tmp_path, monkeypatch) -> str:
    """Two fresh tokens behind a copy of SoftHSM2 of their own (a wrap logs the user out of its token); its
    configuration stays in the environment while the test runs, for when the module rescans its tokens."""
    base = tmp_path / "softhsm"
    (base / "tokens").mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for label in TOKENS:
        run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN], env)
    module = private_module(conf, base / "libsofthsm2-ceremony-backup.so")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    return module


class Custodians:
    """The people at the pseudo-terminal: each reads their share, writes it down, re-types two words,
    acknowledges with their initials, and later types their share back."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.shown = ""
        self._answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @contextlib.contextmanager
    def terminal(self):
        reader = os.fdopen(self.slave, "r", encoding="utf-8", closefd=False)
        writer = os.fdopen(os.dup(self.slave), "w", encoding="utf-8")
        try:
            yield backup_cmds.Terminal(reader, writer)
        finally:
            writer.close()
            reader.close()

    def _answer(self) -> str | None:
        tail = self.shown[-200:]
        for pattern, answer in (
            (r"Word #(\d+) of share (\d+):$", lambda m: self.shares()[int(m[2])][int(m[1]) - 1]),
            (r"Type WRITTEN once share \d+ is written down:$", lambda m: "written"),
            (r"Press Enter (to see share \d+|for the next words):$", lambda m: ""),
            (r"your initials to acknowledge receipt of share (\d+):$", lambda m: INITIALS[int(m[1])]),
            (r"type share (\d+) of key\.backup \(not shown as typed\):$", lambda m: " ".join(self.shares()[int(m[1])])),
        ):
            found = re.search(pattern, tail)
            if found:
                return answer(found)
        return None

    def shares(self) -> dict[int, list[str]]:
        return _shares_shown(self.shown)

    def _serve(self) -> None:
        while not self._stop.is_set():
            if select.select([self.master], [], [], 0.02)[0]:
                self.shown += os.read(self.master, 65536).decode(errors="replace")
            answer = self._answer() if len(self.shown) > self._answered else None
            if answer is not None:
                self._answered = len(self.shown)
                os.write(self.master, answer.encode() + b"\n")

    def __enter__(self) -> Custodians:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self.master)
        os.close(self.slave)


def _script(tmp_path: Path, module: str, name: str, *, algorithm="ECDSA", size=256, third="Erin Custodian",
            target: str | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    target = target or f"{{type: PKCS11, id: bk-b, module: {module}, token: cer-bk-b}}"
    path.write_text(SCRIPT.format(module=module, out=tmp_path / f"out-{name}", name=name, algorithm=algorithm,
                                  size=size, third=third, target=target))
    return path


def _leaks(data: bytes, shares: dict[int, list[str]]) -> list[str]:
    kek_forms = (KEK, KEK.hex().encode(), base64.b64encode(KEK), base64.urlsafe_b64encode(KEK))
    found = ["the KEK"] if any(form in data for form in kek_forms) else []
    return found + [f"share {k}" for k, words in shares.items() if " ".join(words[3:9]).encode() in data.lower()]


def test_a_backup_and_restore_ceremony_runs_on_the_terminal_and_leaks_nothing(tokens, tmp_path, monkeypatch):
    cli = InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))
    for engine, token in zip(("bk-a", "bk-b"), TOKENS, strict=True):
        cli("engines", "add", "PKCS11", "--id", engine, "--option", f"module={tokens}", "--option", f"token={token}",
            "--secret-stdin", input=USER_PIN + "\n")
    answers = tmp_path / "answers.txt"
    answers.write_text("yes\nBW\n" * 3)

    # A custodian who is not a person of the script: the lint names them; nothing starts.
    stranger = cli("ceremony", "validate", str(_script(tmp_path, tokens, "lint", third="Mallory")), code=None)
    assert stranger.returncode != 0
    assert b"custodian 'Mallory' is not a person of the script" in stranger.stderr

    # The Ceremony screen cannot hand shares out: it refuses, naming the command.
    from kms_tui.screens.ceremony import prepare
    from kms_tui.service import Kms
    from kms_tui.service.types import CredentialStore

    script = _script(tmp_path, tokens, "root")
    with Kms(cli.data_dir, credentials=CredentialStore(backend=cli.keyring)) as kms, \
            pytest.raises(CeremonyRefused, match="controlling terminal") as refused:
        prepare(kms, str(script))
    assert f"kms-tui ceremony run {script}" in refused.value.hint

    # The real run: shares on the terminal only, under a KEK the test knows.
    monkeypatch.setattr(backup_service, "_new_kek", lambda: KEK)
    with Custodians() as people:
        monkeypatch.setattr(backup_cmds, "controlling_terminal", people.terminal)
        # Ed25519 cannot be wrapped by SoftHSM2: refused before any key is generated.
        ed = cli("ceremony", "run", str(_script(tmp_path, tokens, "ed", algorithm="Ed25519", size=256)),
                 "--answers", str(answers), "--so-pin-stdin", input=SO_PIN + "\n", code=None)
        assert ed.returncode != 0 and b"cannot be backed up" in ed.stderr and b"Ed25519" in ed.stderr, ed.stderr
        assert cli.json("keys", "list") == [] and not (tmp_path / "out-ed").exists()
        # A wrong security officer PIN: refused before anything is generated too.
        wrong = cli("ceremony", "run", str(script), "--answers", str(answers), "--so-pin-stdin",
                    input="not-the-so-pin\n", code=None)
        assert wrong.returncode != 0 and b"security officer PIN of token 'cer-bk-a' was refused" in wrong.stderr
        assert cli.json("keys", "list") == [] and not (tmp_path / "out-root").exists()
        # A restore into the software engine (level 0) from the token (level 2) unless the step says why.
        lower = cli("ceremony", "run", str(_script(tmp_path, tokens, "low", target="{type: GOLANG, id: golang-default}")),
                    "--answers", str(answers), "--so-pin-stdin", input=SO_PIN + "\n", code=None)
        assert lower.returncode != 0 and b"lowers the protection" in lower.stderr, lower.stderr
        assert b"allow_lower_level" in lower.stderr and cli.json("keys", "list") == []
        proc = cli("ceremony", "run", str(script), "--answers", str(answers), "--so-pin-stdin",
                   input=SO_PIN + "\n", code=None)
    shares = people.shares()
    assert proc.returncode == 0, proc.stderr.decode() + people.shown[-1500:]
    assert sorted(shares) == [1, 2, 3] and all(len(words) == 33 for words in shares.values())
    assert combine_mnemonics([" ".join(shares[1]), " ".join(shares[3])]) == KEK  # the sentinel was the KEK
    assert people.shown.count("share is right") == 2 and "Type it again" not in people.shown

    out = tmp_path / "out-root"
    entries = load((out / "transcript.json").read_bytes()).entries
    report = verify(out / "transcript.json", out)
    assert report.ok and [(k["name"], k.get("restored_into")) for k in report.keys] == [("root", None), ("root-b", "bk-b")]
    handed = [(e["custodian"], e["share"], e["share_fingerprint"]) for e in entries if e["kind"] == "share.handed"]
    names = ["Carol Custodian", "Dave Custodian", "Erin Custodian"]
    assert handed == [(n, k, share_fingerprint(" ".join(shares[k]))) for k, n in enumerate(names, 1)]
    acks = [(e["custodian"], e["initials"]) for e in entries if e["kind"] == "custodian.ack"]
    assert acks == [(n, INITIALS[k]) for k, n in enumerate(names, 1)]
    kinds = [e["kind"] for e in entries]
    assert kinds.index("backup.written") < kinds.index("custodian.ack") < kinds.index("share.handed")
    written = next(e for e in entries if e["kind"] == "backup.written")
    assert written["sha256"] == sha256((out / "key.backup").read_bytes()).hexdigest() and written["threshold"] == 2
    given = [(e["custodian"], e["share"]) for e in entries if e["kind"] == "share.given"]
    assert given == [("Erin Custodian", 3), ("Carol Custodian", 1)]
    restore = next(e for e in entries if e["kind"] == "step.result" and e["action"] == "restore-key")["details"]
    keys = {k["name"]: k for k in cli.json("keys", "list")}
    assert restore["key_id"] == keys["root"]["key_id"] == keys["root-b"]["key_id"]
    assert keys["root-b"]["engine_id"] == "bk-b" and restore["proof"]["verified_with"] == "original public key"
    assert restore["share_fingerprint_rule"].startswith("first 8 hex digits of SHA-256")

    files = [p for p in [*out.rglob("*"), *cli.data_dir.rglob("*")] if p.is_file()]
    assert {"kms.db", "kms-tui.log"} <= {p.name for p in files}, [p.name for p in files]
    for path in files:
        assert not _leaks(path.read_bytes(), shares), path
    assert not _leaks(proc.stdout + proc.stderr, shares)
    assert _leaks(b"x" + KEK.hex().encode() + " ".join(shares[2]).upper().encode(), shares) == ["the KEK", "share 2"]


SOFTWARE = """ceremony: {id: backup-soft, name: Backup soft}
roles:
  administrator: Alice Administrator
  witnesses: [{name: Bob Witness, initials: BW}]
  custodians: [{name: Carol Custodian, initials: CC}, {name: Dave Custodian, initials: DC}]
engine: {type: GOLANG, id: golang-default}
output_dir: /unused
steps:
  - {action: generate-key, name: soft-root, algorithm: Ed25519, size: 256, backup: 2-of-2}
  - {action: backup-key, keys: [soft-root], custodians: [Carol Custodian, Dave Custodian], threshold: 2,
     output: soft.backup}
  - action: restore-key
    file: soft.backup
    engine: {type: GOLANG, id: soft-b}
    name: soft-root-b
    custodians: [Dave Custodian, Carol Custodian]
"""


class Swapping(RehearsalCustody):
    """Custodians who first bring each other's share: each is refused, then their own is taken."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals: list[str | None] = []

    def take(self, file, person, number, check):
        other = next(name for (f, name) in self._shares if f == file and name != person.name)
        self.refusals.append(check(self._shares[(file, other)]))
        return super().take(file, person, number, check)


def test_a_restore_takes_each_named_custodians_own_share_of_the_file_as_written(tmp_path):
    """Software engines, in this process: a share brought by the wrong custodian is refused by name, and a
    backup file changed after it was written is refused before any share is asked for."""
    script = parse_script(SOFTWARE, tmp_path / "soft.yaml")
    for tamper in (False, True):
        with scratch_kms(script) as (kms, engine_id, note):
            ceremony = Ceremony(kms, script, mode="rehearsal", engine_id=engine_id,
                                output_dir=tmp_path / f"out-{tamper}", module_note=note)
            ceremony.custody = custody = Swapping()
            ceremony.preflight()
            ceremony.start()
            ceremony.run_step()
            ceremony.run_step()
            if tamper:
                backup = ceremony.output_dir / "soft.backup"
                data = bytearray(backup.read_bytes())
                data[-5] ^= 1
                backup.write_bytes(bytes(data))
                with pytest.raises(CeremonyRefused, match="soft.backup changed since it was written"):
                    ceremony.run_step()
                assert [k.name for k in kms.keys.list()] == ["soft-root"]
                ceremony.abort("the backup file changed")
                continue
            result = ceremony.run_step()
            ceremony.finish()
            entries = ceremony.transcript.entries
            handed = [e for e in entries if e["kind"] == "share.handed"]
            given = [(e["custodian"], e["share_fingerprint"]) for e in entries if e["kind"] == "share.given"]
            assert all(e["how"] == "kept in memory by the rehearsal, never shown" for e in handed)
            assert given == [(e["custodian"], e["share_fingerprint"]) for e in reversed(handed)]
            assert result.details["key_id"] == next(e["key_id"] for e in entries if e["kind"] == "key.generated")
            assert custody.refusals == ["This is custodian 1's share, not Dave Custodian's (custodian 2).",
                                        "Custodian 2's share was already given."]
            assert result.details["proof"]["same_key_id"] and result.details["proof"]["verified_with"] == \
                "original public key"
            assert {k.name: k.engine_id for k in kms.keys.list()} == {"soft-root": "golang-default",
                                                                       "soft-root-b": "soft-b"}
