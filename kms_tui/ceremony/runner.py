"""The step runner: checks everything before it starts, then runs one step at a time.

The front end (CLI prompts, Ceremony screen) decides when: it shows ``describe(step)``,
records the administrator's confirmation, calls ``run_step()``, records each witness's
acknowledgement, exceptions and breaks, and ends with ``finish()``, which writes the
transcript and returns its final hash. Keys are created and used through the ``Kms``
service only.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engines import algorithms as A
from engines import keys as K

from .. import __version__
from ..errors import USER_ERRORS
from ..files import write_new_file
from . import x509build as X
from .errors import CeremonyRefused, LintError
from .lint import KeyInfo, lint_script
from .script import Script, Step
from .transcript import Transcript, sha256_file

OFFLINE_TYPES = ("PKCS11", "GOLANG")
LIBRARIES = ("cryptography", "python-pkcs11", "PyYAML", "keyring")


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def collect_environment(kms, engine_id: str, module_note: str | None = None) -> dict[str, Any]:
    """Tool, Python and library versions, the host, and the engine (module path, token serial and label)."""
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    record = kms.store.get_engine(engine_id)
    engine: dict[str, Any] = {"id": record.id, "type": record.type}
    if record.type == "PKCS11":
        engine.update(module=record.config.get("module"), token_label=record.config.get("token"),
                      token_serial=record.config.get("serial"))
        try:
            tokens = kms.engine_option_choices("PKCS11", {"module": record.config["module"]}).get("token", [])
            match = next(t for t in tokens if t["label"] == engine["token_label"] or t["serial"] == engine["token_serial"])
            engine.update(token_label=match["label"], token_serial=match["serial"],
                          token_model=match.get("model"), token_manufacturer=match.get("manufacturer"))
        except (StopIteration, *USER_ERRORS):
            pass
        if module_note:
            engine["module_note"] = module_note
    return {"tool": f"kms-tui {__version__}", "python": platform.python_version(),
            "platform": platform.platform(), "hostname": socket.gethostname(), "libraries": versions, "engine": engine}


def _environment(kms, engine_id: str, module_note: str | None) -> dict[str, Any]:
    return collect_environment(kms, engine_id, module_note)


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
        self.output_dir = Path(output_dir) if output_dir else script.output_dir
        self.clock = clock or (lambda: utc_now())  # looked up at each call, so a test can freeze it
        self.module_note = module_note
        self.transcript = Transcript(mode)
        self.transcript_name = "transcript.json" if mode == "run" else "rehearsal-transcript.json"
        self.position = 0  # index of the next step to run
        self.written: list[dict[str, str]] = []
        self.final_hash: str | None = None
        self.key_info: dict[str, KeyInfo] = {}

    # --- what will happen -----------------------------------------------------------

    @property
    def steps(self) -> list[Step]:
        return self.script.steps

    @property
    def current(self) -> Step | None:
        return self.steps[self.position] if self.position < len(self.steps) else None

    def now(self) -> str:
        return stamp(self.clock())

    @staticmethod
    def describe(step: Step) -> str:
        p = step.params
        if step.action == "generate-key":
            return (f"Generate {p['algorithm']} {p['size']} key {p['name']!r} in the engine, then sign a random "
                    "challenge and verify it with the exported public key.")
        if step.action == "export-public-key":
            return f"Export the public key of {p['key']!r} to {p['output']} (PEM) with its SHA-256 fingerprint."
        if step.action == "self-signed-certificate":
            return (f"Sign a self-signed certificate for {_subject(p['subject'])} with {p['key']!r} ({p['hash']}), "
                    f"valid {stamp(p['not_before'])} to {stamp(p['not_after'])}, CA={p['ca']}, "
                    f"path length {p['path_length']}; write {p['output']}.")
        if step.action == "csr":
            return f"Make a CSR for {_subject(p['subject'])} signed by {p['key']!r}; write {p['output']}."
        if step.action == "sign-certificate":
            return (f"Issue a certificate from {p['csr']} with {p['issuer_key']!r} (issuer {p['issuer_certificate']}), "
                    f"valid {stamp(p['not_before'])} to {stamp(p['not_after'])}, CA={p['ca']}, "
                    f"path length {p['path_length']}; write {p['output']}.")
        if step.action == "sign-crl":
            return (f"Sign CRL number {p['crl_number']} with {p['issuer_key']!r} revoking {len(p['revoked'])} "
                    f"serial(s), next update {stamp(p['next_update'])}; write {p['output']}.")
        return "Show the SHA-256 of every output so far, for the paper log" + (
            f"; write {p['output']}." if p.get("output") else ".")

    def plan(self) -> list[str]:
        return [f"{s.number}. {s.action}: {self.describe(s)}" for s in self.steps]

    # --- before anything starts --------------------------------------------------------------

    def preflight(self) -> None:
        """Everything that can be checked before a key is made or signs: engine, names, files, lint."""
        self._check_engine()
        generated = self.script.generated_keys()
        for name, step in generated.items():
            problem = self.kms.name_problem(name)
            if problem:
                raise CeremonyRefused(f"Step {step.number} (line {step.line_of('name')}): {problem}",
                                      hint="A ceremony never reuses a key name; choose a new one.")
            self.key_info[name] = KeyInfo(step.params["algorithm"], step.params["size"])
        for step in self.steps:
            for ref in ("key", "issuer_key"):
                name = step.params.get(ref)
                if name and name not in self.key_info:
                    record = self.kms.resolve(name)
                    if record.engine_id != self.engine_id or not record.has_private_key:
                        raise CeremonyRefused(f"Step {step.number} (line {step.line_of(ref)}): key {name!r} is not a "
                                              f"private key on engine {self.engine_id!r}.")
                    self.key_info[name] = KeyInfo(record.algorithm, record.size)
        for name in [*self.script.outputs(), self.transcript_name]:
            if (self.output_dir / name).exists():
                raise CeremonyRefused(f"{self.output_dir / name} exists; a ceremony never overwrites a file.",
                                      hint="Name a new output directory in the script, or move the old files away.")
        findings = lint_script(self.script, self.key_info)
        if findings:
            raise LintError(findings)

    def _check_engine(self) -> None:
        spec = self.script.engine
        from store.errors import NotFound

        try:
            record = self.kms.store.get_engine(self.engine_id)
        except NotFound:
            raise CeremonyRefused(f"Engine {self.engine_id!r} is not registered on this workstation.",
                                  hint="Register it first: kms-tui engines add …") from None
        for etype, what in ((spec.type, "The script's engine"), (record.type, f"Engine {record.id!r}")):
            if etype not in OFFLINE_TYPES:
                reason = ("needs a network; an offline ceremony refuses it" if self.script.offline
                          else "is not allowed; ceremonies use a PKCS#11 HSM or a software engine")
                raise CeremonyRefused(f"{what} is of type {etype}, which {reason}.",
                                      hint="Use a PKCS11 or GOLANG engine.")
        if record.type != spec.type:
            raise CeremonyRefused(f"Engine {record.id!r} is {record.type}; the script names a {spec.type} engine.")
        if self.mode == "run" and record.type == "PKCS11":
            import os

            if os.path.realpath(record.config.get("module", "")) != os.path.realpath(spec.module or ""):
                raise CeremonyRefused(f"Engine {record.id!r} uses module {record.config.get('module')}; the script "
                                      f"names {spec.module}.")
            for option in ("token", "serial"):
                wanted = getattr(spec, option)
                if wanted and record.config.get(option) and record.config[option] != wanted:
                    raise CeremonyRefused(f"Engine {record.id!r} uses {option} {record.config[option]!r}; "
                                          f"the script names {wanted!r}.")

    # --- the transcript ------------------------------------------------------------------

    def start(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        s = self.script
        self.transcript.append(
            "ceremony.start", self.now(), ceremony={"id": s.id, "name": s.name}, mode=self.mode,
            script={"file": str(s.path) if s.path else None, "sha256": s.sha256},
            roles={"administrator": s.administrator, "witnesses": [w.__dict__ for w in s.witnesses]},
            offline=s.offline, output_dir=str(self.output_dir), plan=self.plan(),
            environment=_environment(self.kms, self.engine_id, self.module_note),
        )

    def confirm(self, step: Step) -> None:
        self.transcript.append("step.confirm", self.now(), step=step.number, action=step.action,
                               by=self.script.administrator, what=self.describe(step))

    def acknowledge(self, step: Step, witness_index: int, initials: str) -> bool:
        """Record a witness's acknowledgement; False (nothing recorded) when the initials do not match."""
        witness = self.script.witnesses[witness_index]
        if initials.strip().upper() != witness.initials.upper():
            return False
        self.transcript.append("witness.ack", self.now(), step=step.number, witness=witness.name,
                               initials=witness.initials)
        return True

    def exception(self, text: str, step: Step | None = None) -> None:
        if not text.strip():
            raise CeremonyRefused("An exception needs a description of the deviation.")
        self.transcript.append("exception", self.now(), step=step.number if step else None, text=text.strip())

    def record_break(self, started: datetime, ended: datetime, reason: str = "") -> None:
        self.transcript.append("break", self.now(), started=stamp(started), ended=stamp(ended), reason=reason.strip())

    def finish(self, status: str = "completed", reason: str = "") -> str:
        """Seal and write the transcript; returns its final hash."""
        self.transcript.append("ceremony.end", self.now(), status=status, reason=reason,
                               steps_run=self.position, outputs=[])
        write_new_file(str(self.output_dir / self.transcript_name), self.transcript.render())
        self.final_hash = self.transcript.last_hash
        return self.final_hash

    @property
    def transcript_path(self) -> Path:
        return self.output_dir / self.transcript_name

    # --- running a step ----------------------------------------------------------------------

    def run_step(self) -> StepResult:
        """Run the next step (blocking: engine I/O); record its outputs and their hashes."""
        step = self.current
        if step is None:
            raise CeremonyRefused("Every step has run.")
        result = StepResult(step)
        getattr(self, "_" + step.action.replace("-", "_"))(step, result)
        self.transcript.append("step.result", self.now(), step=step.number, action=step.action,
                               inputs=_jsonable(step.params), outputs=result.outputs,
                               details=_jsonable(result.details))
        self.position += 1
        return result

    def _write(self, result: StepResult, name: str, data: bytes) -> None:
        write_new_file(str(self.output_dir / name), data)
        item = {"file": name, "sha256": fingerprint(data)}
        result.outputs.append(item)
        self.written.append(item)
        result.lines.append(f"{name}  SHA-256 {item['sha256']}")

    def _signer(self, key: str):
        return lambda alg, data, mt: self.kms.sign(key, alg, data, mt)

    def _generate_key(self, step: Step, result: StepResult) -> None:
        p = step.params
        record = self.kms.create_key(p["algorithm"], p["size"], p["name"], engine_id=self.engine_id,
                                     tags=["ceremony"], metadata={"ceremony": self.script.id})
        challenge = secrets.token_bytes(32)
        algorithm = K.natural_algorithm(record.algorithm, record.size)
        signature = self.kms.sign(record.name, algorithm, challenge, "RAW")
        public = K.load_public_pem(self.kms.export_public(record.name, "pem"))
        if not K.verify_with(public, A.signing_algorithm(algorithm), challenge, "RAW", signature):
            raise CeremonyRefused(f"The self-test of key {record.name!r} failed: its signature does not verify.")
        result.details = {"key_id": record.key_id, "pkcs11_uri": record.pkcs11_uri,
                          "public_key_sha256": fingerprint(K.spki_der(public)),
                          "self_test": {"algorithm": algorithm, "challenge_sha256": fingerprint(challenge),
                                        "signature_sha256": fingerprint(signature), "verified": True}}
        result.lines += [f"key id {record.key_id}", f"self-test {algorithm}: signature verified with the public key"]

    def _export_public_key(self, step: Step, result: StepResult) -> None:
        pem = self.kms.export_public(step.params["key"], "pem")
        spki = K.spki_der(K.load_public_pem(pem))
        self._write(result, step.params["output"], pem)
        result.details = {"public_key_sha256": fingerprint(spki)}
        result.lines.append(f"public key fingerprint (SHA-256 of the DER SPKI) {fingerprint(spki)}")

    def _certificate_written(self, result: StepResult, name: str, cert: x509.Certificate) -> None:
        self._write(result, name, cert.public_bytes(Encoding.PEM))
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
        result.details = {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
                          "serial": format(cert.serial_number, "x"), "ski": ski,
                          "certificate_sha256": fingerprint(cert.public_bytes(Encoding.DER))}
        result.lines += [f"serial {result.details['serial']}", f"subject key identifier {ski}"]

    def _self_signed_certificate(self, step: Step, result: StepResult) -> None:
        p = step.params
        record = self.kms.resolve(p["key"])
        public = K.load_public_pem(record.public_key)
        subject = X.name(p["subject"])
        cert = X.certificate(sign=self._signer(p["key"]), key_algorithm=record.algorithm, subject_public_key=public,
                             subject=subject, issuer=subject, issuer_public_key=public, issuer_ski=None,
                             profile=p, serial=X.random_serial(p["serial_bits"]))
        self._certificate_written(result, p["output"], cert)

    def _csr(self, step: Step, result: StepResult) -> None:
        p = step.params
        record = self.kms.resolve(p["key"])
        request = X.csr(sign=self._signer(p["key"]), key_algorithm=record.algorithm,
                        public_key=K.load_public_pem(record.public_key), subject=X.name(p["subject"]), hash_name=p["hash"])
        self._write(result, p["output"], request.public_bytes(Encoding.PEM))
        result.details = {"subject": request.subject.rfc4514_string()}

    def _issuer(self, key: str, cert_name: str):
        record = self.kms.resolve(key)
        cert = x509.load_pem_x509_certificate((self.output_dir / cert_name).read_bytes())
        if K.spki_der(cert.public_key()) != K.spki_der(K.load_public_pem(record.public_key)):
            raise CeremonyRefused(f"Key {key!r} is not the key of certificate {cert_name}.")
        return record, cert

    def _sign_certificate(self, step: Step, result: StepResult) -> None:
        p = step.params
        record, issuer_cert = self._issuer(p["issuer_key"], p["issuer_certificate"])
        request = x509.load_pem_x509_csr((self.output_dir / p["csr"]).read_bytes())
        if not request.is_signature_valid:
            raise CeremonyRefused(f"The signature of {p['csr']} does not verify.")
        try:
            issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            issuer_ski = None
        cert = X.certificate(sign=self._signer(p["issuer_key"]), key_algorithm=record.algorithm,
                             subject_public_key=request.public_key(), subject=request.subject,
                             issuer=issuer_cert.subject, issuer_public_key=issuer_cert.public_key(),
                             issuer_ski=issuer_ski, profile=p, serial=X.random_serial(p["serial_bits"]),
                             issuer_cert=issuer_cert)
        self._certificate_written(result, p["output"], cert)

    def _sign_crl(self, step: Step, result: StepResult) -> None:
        p = step.params
        record, issuer_cert = self._issuer(p["issuer_key"], p["issuer_certificate"])
        crl = X.crl(sign=self._signer(p["issuer_key"]), key_algorithm=record.algorithm, issuer_cert=issuer_cert,
                    this_update=p["this_update"], next_update=p["next_update"], number=p["crl_number"],
                    hash_name=p["hash"], revoked=p["revoked"])
        self._write(result, p["output"], crl.public_bytes(Encoding.PEM))
        result.details = {"crl_number": p["crl_number"], "revoked": [format(r["serial"], "x") for r in p["revoked"]]}

    def _fingerprints(self, step: Step, result: StepResult) -> None:
        listed = [{"file": w["file"], "sha256": sha256_file(self.output_dir / w["file"])} for w in self.written]
        for item in listed:
            if item["sha256"] != next(w["sha256"] for w in self.written if w["file"] == item["file"]):
                raise CeremonyRefused(f"{item['file']} changed since it was written.")
        result.details = {"fingerprints": listed}
        result.lines += [f"{i['sha256']}  {i['file']}" for i in listed]
        if step.params.get("output"):
            text = "".join(f"{i['sha256']}  {i['file']}\n" for i in listed)
            self._write(result, step.params["output"], text.encode())


def _subject(fields: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in fields.items()) or "(empty subject)"
