"""``kms-tui ceremony validate | rehearse | run | verify`` handlers.

``run`` asks on the terminal, or reads its answers from ``--answers FILE`` (``-`` for
standard input), one answer a line; blank lines and lines starting with ``#`` are skipped:

    yes              the administrator confirms the step shown
    exception TEXT   record a deviation (the same question is asked again)
    break TEXT       a break starts now; it ends at the next line, which is ``resume``
    abort TEXT       stop the ceremony; the transcript records why
    INITIALS         after each step, one line per witness, in the script's order

The PIN never comes from the script or argv: it is the registered engine's, from the
keyring, a no-echo prompt, or the first line of standard input with ``--pin-stdin``. A
``backup-key`` step on a PKCS#11 token needs its security officer's PIN: a no-echo prompt,
or the next line of standard input with ``--so-pin-stdin``. Backup shares are shown to, and
typed by, custodians on the controlling terminal only (``ceremony_custody``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from ..ceremony import Ceremony, load_script, verify
from ..ceremony.backup_steps import uses_custody
from ..ceremony.bigtext import big_hash
from ..ceremony.errors import CeremonyAborted
from ..ceremony.runner import utc_now
from ..service.errors import InvalidInput, KmsError
from .io import emit_json, safe_text


def _print_plan(ceremony: Ceremony) -> None:
    s = ceremony.script
    print(f"Ceremony {safe_text(s.id)}: {safe_text(s.name)}")
    print(f"Engine {safe_text(s.engine.id)} ({s.engine.type}{', offline' if s.offline else ''}); "
          f"outputs in {safe_text(ceremony.output_dir)}")
    if ceremony.output_note:
        print(f"Note: {safe_text(ceremony.output_note)}")
    print(f"Administrator {safe_text(s.administrator)}; witnesses "
          + ", ".join(f"{safe_text(w.name)} ({safe_text(w.initials)})" for w in s.witnesses))
    if s.custodians:
        print("Custodians " + ", ".join(f"{safe_text(c.name)} ({safe_text(c.initials)})" for c in s.custodians))
    for line in ceremony.plan():
        print("  " + safe_text(line))


def _final(ceremony: Ceremony, what: str) -> None:
    print(f"\n{what} transcript: {safe_text(ceremony.transcript_path)}")
    print(f"Final transcript hash (write it in the paper log): {ceremony.final_hash}\n")
    print(big_hash(ceremony.final_hash or ""))


def validate(kms, args) -> int:
    script = load_script(args.script)
    ceremony = Ceremony(kms, script, mode="validate")
    from ..ceremony.lint import KeyInfo, lint_script

    info = {n: KeyInfo(s.params["algorithm"], s.params["size"]) for n, s in script.generated_keys().items()}
    for step in script.steps:
        for ref in ("key", "issuer_key"):
            name = step.params.get(ref)
            if name and name not in info:
                record = kms.keys.resolve(name)
                info[name] = KeyInfo(record.algorithm, record.size)
    findings = lint_script(script, info)
    if findings:
        from ..ceremony.errors import LintError

        raise LintError(findings)
    if args.json:
        emit_json({"id": script.id, "name": script.name, "sha256": script.sha256, "plan": ceremony.plan()})
        return 0
    _print_plan(ceremony)
    print(f"\nThe script is valid (SHA-256 {script.sha256}).")
    return 0


def rehearse(kms, args) -> int:
    from ..ceremony.rehearsal import default_output_dir, scratch_kms

    script = load_script(args.script)
    output_dir = args.output_dir or default_output_dir(kms.data_dir, script, utc_now())
    with scratch_kms(script) as (scratch, engine_id, note):
        ceremony = Ceremony(scratch, script, mode="rehearsal", engine_id=engine_id, output_dir=output_dir,
                            module_note=note)
        ceremony.preflight()
        _print_plan(ceremony)
        ceremony.start()
        try:
            while ceremony.current is not None:
                step = ceremony.current
                ceremony.confirm(step)
                result = ceremony.run_step()
                print(f"\n[{step.number}/{len(ceremony.steps)}] {step.action}: done")
                for line in result.lines:
                    print("  " + safe_text(line))
        except KmsError as exc:
            ceremony.abort(f"{exc.title}: {exc}", ceremony.current)
            raise
        ceremony.finish()
    _final(ceremony, "Rehearsal")
    return 0


class Answers:
    """Answers from a file or stdin (documented above), or typed on the terminal."""

    def __init__(self, source: str | None):
        self._lines: Iterator[str] | None = None
        if source == "-":
            self._lines = iter(sys.stdin.readlines())
        elif source:
            from ..files import read_file

            self._lines = iter(read_file(source, 1 << 20, "answers").decode("utf-8").splitlines())
        elif not sys.stdin.isatty():
            raise InvalidInput("ceremony run asks questions: run it on a terminal, or give --answers FILE.")

    def ask(self, prompt: str) -> str:
        sys.stdout.write(prompt + " ")
        sys.stdout.flush()
        if self._lines is None:
            line = sys.stdin.readline()
            if not line:
                raise CeremonyAborted("Standard input ended before the ceremony did.")
            return line.strip()
        for line in self._lines:
            line = line.strip()
            if line and not line.startswith("#"):
                print(line)
                return line
        raise CeremonyAborted("The answers ended before the ceremony did.")


def _handle(ceremony: Ceremony, answers: Answers, answer: str, step) -> bool:
    """Exceptions, breaks and aborts; True when the answer was one of them."""
    word, _, rest = answer.partition(" ")
    word = word.lower()
    if word == "exception":
        ceremony.exception(rest or "(no description)", step)
        print("  exception recorded")
        return True
    if word == "break":
        started = ceremony.clock()
        print(f"  break started at {started:%H:%M:%SZ}")
        while answers.ask("  type 'resume' to go on:").lower() != "resume":
            pass
        ceremony.record_break(started, ceremony.clock(), rest)
        print("  break recorded")
        return True
    if word == "abort":
        ceremony.exception(f"aborted: {rest}", step)
        raise CeremonyAborted(f"The administrator aborted the ceremony at step {step.number}: {rest or 'no reason given'}.")
    return False


def run(kms, args) -> int:
    script = load_script(args.script)
    if args.pin_stdin:
        pin = sys.stdin.readline().rstrip("\r\n")
        if not pin:
            raise InvalidInput("No PIN was given on standard input.")
        kms.engines.secrets.set(script.engine.id, pin, memory_only=True)
    officer_pin = _officer_pin_stdin(args)
    answers = Answers(args.answers)
    with contextlib.ExitStack() as stack:
        ceremony = Ceremony(kms, script, mode="run", output_dir=args.output_dir)
        if uses_custody(script):  # shares go to the controlling terminal only; refused up front without one
            from .backup_cmds import controlling_terminal
            from .ceremony_custody import TerminalCustody

            ceremony.custody = TerminalCustody(stack.enter_context(controlling_terminal()))
        if officer_pin:
            ceremony.officer_pins[ceremony.engine_id] = officer_pin
        return _run(ceremony, answers)


def _officer_pin_stdin(args) -> str | None:
    """The security officer's PIN from the next line of stdin (``--so-pin-stdin``), for backup-key steps."""
    if not getattr(args, "so_pin_stdin", False):
        return None
    pin = sys.stdin.readline().rstrip("\r\n")
    if not pin:
        raise InvalidInput("No security officer PIN was given on standard input.")
    return pin


def _run(ceremony: Ceremony, answers: Answers) -> int:
    script = ceremony.script
    ceremony.preflight()
    _print_plan(ceremony)
    ceremony.start()
    try:
        while ceremony.current is not None:
            step = ceremony.current
            print(f"\n[{step.number}/{len(ceremony.steps)}] {step.action} (line {step.line})")
            print("  " + safe_text(ceremony.describe(step)))
            while True:
                answer = answers.ask(f"{safe_text(script.administrator)}, proceed? (yes / exception TEXT / break / abort)")
                if _handle(ceremony, answers, answer, step):
                    continue
                if answer.lower() == "yes":
                    break
                print("  answer yes, exception TEXT, break TEXT or abort TEXT")
            ceremony.confirm(step)
            result = ceremony.run_step()
            for line in result.lines:
                print("  " + safe_text(line))
            for i, witness in enumerate(script.witnesses):
                while True:
                    answer = answers.ask(f"Witness {safe_text(witness.name)}, your initials to acknowledge step {step.number}:")
                    if _handle(ceremony, answers, answer, step):
                        continue
                    if ceremony.acknowledge(step, i, answer):
                        break
                    print(f"  those are not {safe_text(witness.name)}'s initials")
    except (KmsError, KeyboardInterrupt) as exc:
        reason = f"{exc.title}: {exc}" if isinstance(exc, KmsError) else "interrupted"
        sealed = ceremony.abort(reason, ceremony.current, note=not isinstance(exc, CeremonyAborted))
        print(f"\nAborted; transcript: {safe_text(ceremony.transcript_path)} "
              + (f"(final hash {sealed})" if sealed else "(it stops at its last entry written)"))
        raise
    ceremony.finish()
    _final(ceremony, "Ceremony")
    return 0


def verify_cmd(kms, args) -> int:
    report = verify(args.transcript, args.output_dir)
    if args.json:
        emit_json(report.to_json())
    elif report.ok:
        print(f"Transcript intact: {report.entries} entries, {report.outputs} output files match.")
        print(f"Final hash {report.final_hash}")
    else:
        print("Transcript check FAILED:")
        for problem in report.problems:
            print("  " + safe_text(problem))
        if report.stopped_at and report.final_hash:
            print(f"Hash of the last entry written: {report.final_hash}")
    if not args.json and report.keys:
        print("Keys the ceremony generated (or restored):")
        for key in report.keys:
            where = f", restored into {safe_text(key['restored_into'])}" if key.get("restored_into") else ""
            print(f"  step {key['step']}: {safe_text(key['name'])} (key id {safe_text(key['key_id'])}{where})")
    return 0 if report.ok else 1
