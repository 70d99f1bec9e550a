"""The step runner: checks everything before it starts, then runs one step at a time.

The front end (CLI prompts, Ceremony screen) decides when: it shows ``describe(step)``,
records the administrator's confirmation, calls ``run_step()``, records each witness's
acknowledgement, exceptions and breaks, and ends with ``finish()`` (or ``abort()``), which
seals the transcript and returns its final hash. ``start()`` creates the transcript, and
every entry is on disk (fsynced) before the call that records it returns: a generated key's
id is written the moment the engine returns it. Keys are created and used through the
``Kms`` service only.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..service import algorithms as A
from ..service import cert_lint, cert_profiles
from ..service import types as K
from ..service.errors import KmsError
from . import backup_steps as B
from . import x509build as X
from .environment import check_engine, collect_environment
from .errors import CeremonyRefused, LintError
from .lint import MAX_BACKDATING, KeyInfo, backdating, lint_script
from .outputs import OutputDir, check_new
from .plan import describe_step, stamp
from .script import Script, Step, drop_unused_hashes
from .transcript import Transcript, TranscriptFile, TranscriptWriteError


def utc_now() -> datetime:
    return datetime.now(UTC)


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class StepResult:
    step: Step
    outputs: list[dict[str, str]] = field(default_factory=list)  # {"file", "sha256"}
    details: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)  # what to show the room


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class Ceremony:
    """One ceremony (or rehearsal) of one script against one engine."""

    def __init__(self, kms, script: Script, *, mode: str = "run", engine_id: str | None = None,
                 output_dir: str | Path | None = None, clock: Callable[[], datetime] | None = None,
                 module_note: str | None = None):
        self.kms, self.script, self.mode = kms, script, mode
        self.engine_id = engine_id or script.engine.id
        self.clock = clock or (lambda: utc_now())  # looked up at each call, so a test can freeze it
        self.output_note: str | None = None  # why the outputs do not go where the script says
        if output_dir:
            self.output_dir = Path(output_dir)
        else:
            from .rehearsal import run_output_dir

            self.output_dir, self.output_note = run_output_dir(kms.data_dir, script, self.clock)
        self.module_note = module_note
        self.transcript = Transcript(mode)
        self.outputs: OutputDir | None = None
        self.transcript_name = "transcript.json" if mode == "run" else "rehearsal-transcript.json"
        self.position = 0  # index of the next step to run
        self.written: list[dict[str, str]] = []
        self.final_hash: str | None = None
        self.key_info: dict[str, KeyInfo] = {}
        # How backup shares reach custodians (backup_steps.Custody): the front end's terminal; a rehearsal keeps
        # them unseen. None refuses a script with backup or restore steps.
        self.custody: B.Custody | None = B.RehearsalCustody() if mode == "rehearsal" else None
        self.officer_pins: dict[str, str] = {}  # engine id -> security officer PIN, in memory for this ceremony

    # --- what will happen -----------------------------------------------------------

    @property
    def steps(self) -> list[Step]:
        return self.script.steps

    @property
    def current(self) -> Step | None:
        return self.steps[self.position] if self.position < len(self.steps) else None

    def now(self) -> str:
        return stamp(self.clock())

    describe = staticmethod(describe_step)

    def plan(self) -> list[str]:
        return [f"{s.number}. {s.action}: {self.describe(s)}" for s in self.steps]

    # --- before anything starts --------------------------------------------------------------

    def preflight(self) -> None:
        """Everything that can be checked before a key is made or signs: engine, names, files, lint."""
        check_engine(self.kms, self.script, self.engine_id, self.mode)
        generated = self.script.generated_keys()
        for name, step in generated.items():
            problem = self.kms.keys.name_problem(name)
            if problem:
                raise CeremonyRefused(f"Step {step.number} (line {step.line_of('name')}): {problem}",
                                      hint="A ceremony never reuses a key name; choose a new one.")
            self.key_info[name] = KeyInfo(step.params["algorithm"], step.params["size"])
        B.known_keys(self)
        for step in self.steps:
            for ref in ("key", "issuer_key"):
                name = step.params.get(ref)
                if name and name not in self.key_info:
                    record = self.kms.keys.resolve(name)
                    if record.engine_id != self.engine_id or not record.has_private_key:
                        raise CeremonyRefused(f"Step {step.number} (line {step.line_of(ref)}): key {name!r} is not a "
                                              f"private key on engine {self.engine_id!r}.")
                    self.key_info[name] = KeyInfo(record.algorithm, record.size)
        if self.transcript_name in self.script.outputs():
            raise CeremonyRefused(f"An output is named {self.transcript_name}, the name of the transcript.")
        check_new(self.output_dir, [*self.script.outputs(), self.transcript_name])
        drop_unused_hashes(self.steps, {name: info.algorithm for name, info in self.key_info.items()})
        findings = lint_script(self.script, self.key_info, self.clock())
        if findings:
            raise LintError(findings)
        B.preflight(self)

    # --- the transcript ------------------------------------------------------------------

    def start(self) -> None:
        """Create the output directory and the transcript (never through a link), and record the start."""
        environment = collect_environment(self.kms, self.engine_id, self.module_note)
        self.outputs = OutputDir(self.output_dir)
        try:
            self.transcript.file = TranscriptFile(self.outputs, self.transcript_name, self.mode)
        except BaseException:
            self.outputs.close()
            raise
        s = self.script
        self._record(
            "ceremony.start", ceremony={"id": s.id, "name": s.name}, mode=self.mode,
            script={"file": str(s.path) if s.path else None, "sha256": s.sha256},
            roles={"administrator": s.administrator, "witnesses": [w.__dict__ for w in s.witnesses],
                   **({"custodians": [c.__dict__ for c in s.custodians]} if s.custodians else {})},
            offline=s.offline, output_dir=str(self.output_dir), plan=self.plan(),
            environment=environment,
        )

    def _record(self, kind: str, **data: Any) -> None:
        self._check_recording()
        self.transcript.append(kind, self.now(), **data)

    def _check_recording(self) -> None:
        """Nothing happens that the transcript cannot record."""
        if self.transcript.file is None:
            raise CeremonyRefused("The ceremony has not started: its transcript is not open.")
        if not self.transcript.writable:
            raise TranscriptWriteError(f"The transcript {self.transcript_path} can no longer be written; "
                                       "the ceremony stops.")

    def confirm(self, step: Step) -> None:
        self._record("step.confirm", step=step.number, action=step.action,
                     by=self.script.administrator, what=self.describe(step))

    def acknowledge(self, step: Step, witness_index: int, initials: str) -> bool:
        """Record a witness's acknowledgement; False (nothing recorded) when the initials do not match."""
        witness = self.script.witnesses[witness_index]
        if initials.strip().upper() != witness.initials.upper():
            return False
        self._record("witness.ack", step=step.number, witness=witness.name, initials=witness.initials)
        return True

    def exception(self, text: str, step: Step | None = None) -> None:
        if not text.strip():
            raise CeremonyRefused("An exception needs a description of the deviation.")
        self._record("exception", step=step.number if step else None, text=text.strip())

    def record_break(self, started: datetime, ended: datetime, reason: str = "") -> None:
        self._record("break", started=stamp(started), ended=stamp(ended), reason=reason.strip())

    def finish(self, status: str = "completed", reason: str = "") -> str:
        """Seal the transcript with its end entry; returns its final hash."""
        try:
            self._record("ceremony.end", status=status, reason=reason, steps_run=self.position, outputs=[])
        finally:
            self.close()
        self.final_hash = self.transcript.last_hash
        return self.final_hash

    def abort(self, reason: str, step: Step | None = None, *, note: bool = True) -> str | None:
        """Record why the ceremony stops (``note``: as an exception) and seal the transcript.

        Returns the final hash, or None when the transcript can no longer be written (it then
        stops at its last complete entry, which ``ceremony verify`` reports).
        """
        if not self.transcript.writable:
            self.close()
            return None
        try:
            if note:
                self.exception(reason, step)
            return self.finish("aborted", reason)
        except KmsError:
            self.close()
            return None

    def close(self) -> None:
        """Close the transcript and the output directory (nothing more can be recorded)."""
        if self.transcript.file is not None:
            self.transcript.file.close()
        if self.outputs is not None:
            self.outputs.close()

    @property
    def transcript_path(self) -> Path:
        return self.output_dir / self.transcript_name

    # --- running a step ----------------------------------------------------------------------

    def run_step(self) -> StepResult:
        """Run the next step (blocking: engine I/O); record its outputs and their hashes."""
        step = self.current
        if step is None:
            raise CeremonyRefused("Every step has run.")
        self._check_recording()
        result = StepResult(step)
        getattr(self, "_" + step.action.replace("-", "_"))(step, result)
        self._record("step.result", step=step.number, action=step.action, inputs=_jsonable(step.params),
                     outputs=result.outputs, details=_jsonable(result.details))
        self.position += 1
        return result

    def _write(self, result: StepResult, name: str, data: bytes) -> None:
        self.outputs.write_new(name, data)
        item = {"file": name, "sha256": fingerprint(data)}
        result.outputs.append(item)
        self.written.append(item)
        result.lines.append(f"{name}  SHA-256 {item['sha256']}")

    def _signer(self, key: str):
        return lambda alg, data, mt: self.kms.signing.sign(key, alg, data, mt)

    def _generate_key(self, step: Step, result: StepResult) -> None:
        p = step.params
        backup = self.kms.backup.parse_policy(p["backup"]) if p.get("backup") else None
        record = self.kms.keys.create(p["algorithm"], p["size"], p["name"], engine_id=self.engine_id,
                                     tags=["ceremony"], metadata={"ceremony": self.script.id}, backup=backup)
        # On disk before anything else can fail: a key the transcript does not name would be a key
        # nobody can account for.
        self._record("key.generated", step=step.number, name=record.name, key_id=record.key_id,
                     engine=self.engine_id, pkcs11_uri=record.pkcs11_uri)
        challenge = secrets.token_bytes(32)
        algorithm = K.natural_algorithm(record.algorithm, record.size)
        signature = self.kms.signing.sign(record.name, algorithm, challenge, "RAW")
        public = K.load_public_pem(self.kms.keys.export_public(record.name, "pem"))
        if not K.verify_with(public, A.signing_algorithm(algorithm), challenge, "RAW", signature):
            raise CeremonyRefused(f"The self-test of key {record.name!r} failed: its signature does not verify.")
        result.details = {"key_id": record.key_id, "pkcs11_uri": record.pkcs11_uri, "backup_policy": p.get("backup"),
                          "public_key_sha256": fingerprint(K.spki_der(public)),
                          "self_test": {"algorithm": algorithm, "challenge_sha256": fingerprint(challenge),
                                        "signature_sha256": fingerprint(signature), "verified": True}}
        result.lines += [f"key id {record.key_id}", f"self-test {algorithm}: signature verified with the public key"]

    def _backup_key(self, step: Step, result: StepResult) -> None:
        B.backup_key(self, step, result)

    def _restore_key(self, step: Step, result: StepResult) -> None:
        B.restore_key(self, step, result)

    def _export_public_key(self, step: Step, result: StepResult) -> None:
        pem = self.kms.keys.export_public(step.params["key"], "pem")
        spki = K.spki_der(K.load_public_pem(pem))
        self._write(result, step.params["output"], pem)
        result.details = {"public_key_sha256": fingerprint(spki)}
        result.lines.append(f"public key fingerprint (SHA-256 of the DER SPKI) {fingerprint(spki)}")

    @staticmethod
    def _linted(step: Step, report: cert_lint.LintReport) -> dict[str, Any]:
        """pkilint's errors refuse the object (nothing written); its warnings and notes (how it linted, when
        not as the profile says), if any, go to the transcript."""
        if report.errors:
            raise CeremonyRefused(f"Step {step.number} (line {step.line}): pkilint refuses {step.params['output']}: "
                                  + "; ".join(report.errors) + ".", hint="Nothing was written.")
        found: dict[str, Any] = {"lint_warnings": report.warnings} if report.warnings else {}
        return {**found, "lint_notes": report.notes} if report.notes else found

    @staticmethod
    def _warned(result: StepResult, found: dict[str, Any]) -> None:
        result.details.update(found)
        result.lines += [f"pkilint warning: {w}" for w in found.get("lint_warnings", [])]
        result.lines += [f"pkilint: {n}" for n in found.get("lint_notes", [])]

    def _certificate_written(self, result: StepResult, name: str, cert: x509.Certificate) -> None:
        der = cert.public_bytes(Encoding.DER)
        profile = result.step.params.get("profile")
        found = self._linted(result.step, cert_lint.certificate(
            der, cert_profiles.load(profile).lint if profile else "rfc5280"))
        self._write(result, name, cert.public_bytes(Encoding.PEM))
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
        result.details = {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
                          "serial": format(cert.serial_number, "x"), "ski": ski,
                          "certificate_sha256": fingerprint(der)}
        result.lines += [f"serial {result.details['serial']}", f"subject key identifier {ski}"]
        self._warned(result, found)

    def _dated(self, step: Step) -> tuple[dict[str, Any], dict[str, Any]]:
        """The step's profile at the signing time, and what the transcript records of its dates.

        ``signing-time`` becomes this moment; a not_before more than a day before it is refused
        unless the step allows it, and then its reason is recorded.
        """
        p = step.params
        signing_time = self.clock().astimezone(UTC).replace(microsecond=0)
        problem = backdating(step, signing_time)
        if problem:
            raise CeremonyRefused(problem[0].upper() + problem[1:], hint="Nothing was signed.")
        dates: dict[str, Any] = {}
        if p["not_before"] is None:
            dates["not_before"] = stamp(signing_time)
        elif signing_time - p["not_before"] > MAX_BACKDATING:
            dates["backdated"] = {"days": round((signing_time - p["not_before"]).total_seconds() / 86400, 1),
                                  "signing_time": stamp(signing_time), "reason": p["allow_backdating"]}
        return {**p, "not_before": p["not_before"] or signing_time}, dates

    def _dates_written(self, result: StepResult, dates: dict[str, Any]) -> None:
        result.details.update(dates)
        if "backdated" in dates:
            result.lines.append(f"backdated {dates['backdated']['days']} days: {dates['backdated']['reason']}")

    def _self_signed_certificate(self, step: Step, result: StepResult) -> None:
        p = step.params
        profile, dates = self._dated(step)
        record = self.kms.keys.resolve(p["key"])
        public = K.load_public_pem(record.public_key)
        subject = X.name(p["subject"])
        cert = X.certificate(sign=self._signer(p["key"]), key_algorithm=record.algorithm, subject_public_key=public,
                             subject=subject, issuer=subject, issuer_public_key=public, issuer_ski=None,
                             profile=profile, serial=X.random_serial(p["serial_bits"]))
        self._certificate_written(result, p["output"], cert)
        self._dates_written(result, dates)

    def _csr(self, step: Step, result: StepResult) -> None:
        p = step.params
        record = self.kms.keys.resolve(p["key"])
        request = X.csr(sign=self._signer(p["key"]), key_algorithm=record.algorithm,
                        public_key=K.load_public_pem(record.public_key), subject=X.name(p["subject"]), hash_name=p["hash"])
        self._write(result, p["output"], request.public_bytes(Encoding.PEM))
        result.details = {"subject": request.subject.rfc4514_string()}

    def _issuer(self, key: str, cert_name: str):
        record = self.kms.keys.resolve(key)
        cert = x509.load_pem_x509_certificate(self.outputs.read(cert_name))
        if K.spki_der(cert.public_key()) != K.spki_der(K.load_public_pem(record.public_key)):
            raise CeremonyRefused(f"Key {key!r} is not the key of certificate {cert_name}.")
        return record, cert

    def _sign_certificate(self, step: Step, result: StepResult) -> None:
        p = step.params
        profile, dates = self._dated(step)
        record, issuer_cert = self._issuer(p["issuer_key"], p["issuer_certificate"])
        if profile["not_before"] < issuer_cert.not_valid_before_utc or profile["not_after"] > issuer_cert.not_valid_after_utc:
            raise CeremonyRefused(f"Step {step.number} (line {step.line_of('not_before')}): the validity must lie within "
                                  f"that of {p['issuer_certificate']}.", hint="Nothing was signed.")
        request = x509.load_pem_x509_csr(self.outputs.read(p["csr"]))
        if not request.is_signature_valid:
            raise CeremonyRefused(f"The signature of {p['csr']} does not verify.")
        try:
            issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            issuer_ski = None
        cert = X.certificate(sign=self._signer(p["issuer_key"]), key_algorithm=record.algorithm,
                             subject_public_key=request.public_key(), subject=request.subject,
                             issuer=issuer_cert.subject, issuer_public_key=issuer_cert.public_key(),
                             issuer_ski=issuer_ski, profile=profile, serial=X.random_serial(p["serial_bits"]),
                             issuer_cert=issuer_cert)
        self._certificate_written(result, p["output"], cert)
        self._dates_written(result, dates)

    def _sign_crl(self, step: Step, result: StepResult) -> None:
        p = step.params
        record, issuer_cert = self._issuer(p["issuer_key"], p["issuer_certificate"])
        crl = X.crl(sign=self._signer(p["issuer_key"]), key_algorithm=record.algorithm, issuer_cert=issuer_cert,
                    this_update=p["this_update"], next_update=p["next_update"], number=p["crl_number"],
                    hash_name=p["hash"], revoked=p["revoked"])
        found = self._linted(step, cert_lint.crl(crl.public_bytes(Encoding.DER)))
        self._write(result, p["output"], crl.public_bytes(Encoding.PEM))
        result.details = {"crl_number": p["crl_number"], "revoked": [format(r["serial"], "x") for r in p["revoked"]]}
        self._warned(result, found)

    def _fingerprints(self, step: Step, result: StepResult) -> None:
        listed = [{"file": w["file"], "sha256": self.outputs.sha256(w["file"])} for w in self.written]
        for item in listed:
            if item["sha256"] != next(w["sha256"] for w in self.written if w["file"] == item["file"]):
                raise CeremonyRefused(f"{item['file']} changed since it was written.")
        result.details = {"fingerprints": listed}
        result.lines += [f"{i['sha256']}  {i['file']}" for i in listed]
        if step.params.get("output"):
            text = "".join(f"{i['sha256']}  {i['file']}\n" for i in listed)
            self._write(result, step.params["output"], text.encode())
