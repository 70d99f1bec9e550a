"""The ceremony script: a YAML file read against a strict schema.

The YAML is composed (not loaded) so every node keeps its position: every error
names the line it is about. Unknown keys, duplicate keys, wrong types and
references to outputs or keys that no earlier step makes are errors.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ..service import algorithms as A
from ..service import backup_policy, cert_profiles
from ..service.types import EngineTypeNames, is_engine_type
from .errors import ScriptError

MAX_SCRIPT_BYTES = 256 * 1024
ACTIONS = ("generate-key", "export-public-key", "self-signed-certificate", "csr", "sign-certificate",
           "sign-crl", "fingerprints", "backup-key", "restore-key")
HASHES = ("SHA256", "SHA384", "SHA512", "SHA1")  # SHA1 is accepted here so that the lint can refuse it by name
KEY_USAGES = cert_profiles.KEY_USAGES
SUBJECT_FIELDS = ("CN", "O", "OU", "C", "ST", "L", "serialNumber")
EXTENDED_KEY_USAGES = cert_profiles.EXTENDED_KEY_USAGES
SIGNING_TIME = "signing-time"  # not_before: the moment the engine signs
SKI_METHODS = cert_profiles.SKI_METHODS
REVOCATION_REASONS = ("unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
                      "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise")
FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class Witness:
    name: str
    initials: str


@dataclass(frozen=True)
class EngineSpec:
    type: str
    id: str
    module: str | None = None
    token: str | None = None
    serial: str | None = None
    line: int = 0


@dataclass
class Step:
    number: int  # 1-based, as people count
    action: str
    line: int
    params: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)  # line of each parameter

    @property
    def outputs(self) -> list[str]:
        return [self.params["output"]] if self.params.get("output") else []

    def line_of(self, name: str) -> int:
        return self.lines.get(name, self.line)


@dataclass
class Script:
    id: str
    name: str
    administrator: str
    witnesses: list[Witness]
    engine: EngineSpec
    offline: bool
    output_dir: Path
    max_validity_days: int
    steps: list[Step]
    path: Path | None
    sha256: str
    custodians: list[Witness] = field(default_factory=list)  # people who may hold backup shares

    def people(self) -> dict[str, Witness]:
        """Everyone of the script who can acknowledge with initials (witnesses and custodians), by name."""
        return {p.name: p for p in [*self.witnesses, *self.custodians]}

    def generated_keys(self) -> dict[str, Step]:
        return {s.params["name"]: s for s in self.steps if s.action == "generate-key"}

    def outputs(self) -> dict[str, Step]:
        return {name: s for s in self.steps for name in s.outputs}


# --- reading nodes --------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _fail(node: yaml.Node | int, message: str) -> ScriptError:
    line = node if isinstance(node, int) else _line(node)
    return ScriptError(f"Line {line}: {message}")


class _Map:
    """A mapping node whose keys are taken one by one; what is left is an unknown key."""

    def __init__(self, node: yaml.Node, what: str):
        if not isinstance(node, yaml.MappingNode):
            raise _fail(node, f"{what} must be a mapping of keys to values.")
        self.node, self.what = node, what
        self.items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != _TAG + "str":
                raise _fail(key, f"keys of {what} must be plain words.")
            if key.value in self.items:
                raise _fail(key, f"key {key.value!r} appears twice in {what}.")
            self.items[key.value] = (key, value)
        self.lines: dict[str, int] = {}

    def has(self, name: str) -> bool:
        return name in self.items

    def take(self, name: str, kind, *, required: bool = False, default: Any = None) -> Any:
        if name not in self.items:
            if required:
                raise _fail(self.node, f"{self.what} needs the key {name!r}.")
            return default
        key, value = self.items.pop(name)
        self.lines[name] = _line(key)
        if isinstance(value, yaml.ScalarNode) and value.tag == _TAG + "null" and not required:
            return default
        return kind(value, f"{name!r} in {self.what}")

    def done(self, known: tuple[str, ...]) -> None:
        """Refuse the first key that is not in ``known`` (and, at the end, any key left untaken)."""
        for name, (key, _) in self.items.items():
            if name not in known or not self.lines:
                raise _fail(key, f"unknown key {name!r} in {self.what}; known keys: {', '.join(known)}.")


def _scalar(node: yaml.Node, what: str, tags: tuple[str, ...], expected: str) -> yaml.ScalarNode:
    if not isinstance(node, yaml.ScalarNode) or node.tag.removeprefix(_TAG) not in tags:
        raise _fail(node, f"{what} must be {expected}.")
    return node


def text(node, what):
    value = _scalar(node, what, ("str",), "text").value
    if not value.strip():
        raise _fail(node, f"{what} cannot be empty.")
    if len(value) > 256:
        raise _fail(node, f"{what} is longer than 256 characters.")
    return value


def integer(node, what):
    return int(_scalar(node, what, ("int",), "a whole number").value, 0)


def boolean(node, what):
    return _scalar(node, what, ("bool",), "true or false").value.lower() in ("true", "yes", "on")


def utc_time_or_signing_time(node, what):
    """A UTC time, or None for ``signing-time`` (the moment the engine signs)."""
    if isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "str" and node.value == SIGNING_TIME:
        return None
    return utc_time(node, what, f" or {SIGNING_TIME}")


def utc_time(node, what, other: str = ""):
    raw = _scalar(node, what, ("str", "timestamp"), f"a UTC time such as 2026-03-14T09:00:00Z{other}").value
    try:
        value = datetime.fromisoformat(raw.replace(" ", "T"))
    except ValueError:
        raise _fail(node, f"{what} is not a time: write it as 2026-03-14T09:00:00Z.") from None
    if value.utcoffset() is None or value.utcoffset().total_seconds() != 0:
        raise _fail(node, f"{what} must be in UTC (end it with Z).")
    return value.astimezone(UTC)


def one_of(choices: tuple[str, ...], *, upper: bool = False):
    def convert(node, what):
        value = _scalar(node, what, ("str", "int"), "one of " + ", ".join(choices)).value
        value = value.upper() if upper else value
        if value not in choices:
            raise _fail(node, f"{what} is {value!r}; it must be one of {', '.join(choices)}.")
        return value
    return convert


def file_name(node, what):
    value = text(node, what)
    if not FILE_NAME_RE.match(value) or value in ("transcript.json", "rehearsal-transcript.json"):
        raise _fail(node, f"{what} must be a plain file name in the output directory (letters, digits, '.', '_', '-').")
    return value


def list_of(kind):
    def convert(node, what):
        if not isinstance(node, yaml.SequenceNode):
            raise _fail(node, f"{what} must be a list.")
        return [kind(item, f"an item of {what}") for item in node.value]
    return convert


def url(node, what):
    value = text(node, what)
    if not re.match(r"^(https?|ldap)://\S+$", value):
        raise _fail(node, f"{what} must be an http://, https:// or ldap:// URL.")
    return value


def oid(node, what):
    value = text(node, what)
    if not OID_RE.match(value):
        raise _fail(node, f"{what} must be an object identifier such as 2.5.29.32.0.")
    return value


def subject(node, what):
    m = _Map(node, what)
    names = {k: m.take(k, text) for k in list(m.items) if k in SUBJECT_FIELDS}  # in the script's order
    m.done(SUBJECT_FIELDS)
    return names


def profile_name(node, what):
    return one_of(tuple(cert_profiles.names()))(node, what)


def serial(node, what):
    value = _scalar(node, what, ("int", "str"), "a serial number (decimal, or hex with 0x)").value
    try:
        number = int(value.replace(":", ""), 16) if ":" in value else int(value, 0)
    except ValueError:
        raise _fail(node, f"{what} is not a number.") from None
    if number <= 0:
        raise _fail(node, f"{what} must be positive.")
    return number


def revoked_entry(node, what):
    m = _Map(node, what)
    entry = {"serial": m.take("serial", serial, required=True), "date": m.take("date", utc_time, required=True),
             "reason": m.take("reason", one_of(REVOCATION_REASONS), default="unspecified")}
    m.done(("serial", "date", "reason"))
    return entry


def witness(node, what):
    m = _Map(node, what)
    name = m.take("name", text, required=True)
    initials = m.take("initials", text, required=True)
    m.done(("name", "initials"))
    return Witness(name, initials)


# --- the steps ------------------------------------------------------------------

_PROFILE = {
    "not_before": (utc_time_or_signing_time, True, None), "not_after": (utc_time, True, None),
    "hash": (one_of(HASHES, upper=True), False, "SHA256"), "serial_bits": (integer, False, 128),
    "ca": (boolean, False, True), "path_length": (integer, False, None),
    "key_usage": (list_of(one_of(KEY_USAGES)), False, None), "ski": (one_of(SKI_METHODS), False, "rfc5280"),
    "policies": (list_of(oid), False, []),
    "extended_key_usage": (list_of(one_of(EXTENDED_KEY_USAGES)), False, None),
    "allow_backdating": (text, False, None), "profile": (profile_name, False, None),
}
# Optional parameters left out of a step's params (and so of its transcript inputs) when the script omits them.
_ONLY_WHEN_GIVEN = ("extended_key_usage", "allow_backdating", "profile", "backup", "allow_lower_level")
SCHEMAS: dict[str, dict[str, tuple[Any, bool, Any]]] = {
    "generate-key": {"name": (text, True, None), "algorithm": (text, True, None), "size": (integer, True, None),
                     "backup": (text, False, None)},
    "export-public-key": {"key": (text, True, None), "output": (file_name, True, None)},
    "self-signed-certificate": {"key": (text, True, None), "output": (file_name, True, None),
                                "subject": (subject, True, None), **_PROFILE},
    "csr": {"key": (text, True, None), "output": (file_name, True, None), "subject": (subject, True, None),
            "hash": (one_of(HASHES, upper=True), False, "SHA256")},
    "sign-certificate": {"issuer_key": (text, True, None), "issuer_certificate": (file_name, True, None),
                         "csr": (file_name, True, None), "output": (file_name, True, None), **_PROFILE,
                         "crl_distribution_points": (list_of(url), False, []), "ocsp": (list_of(url), False, []),
                         "ca_issuers": (list_of(url), False, [])},
    "sign-crl": {"issuer_key": (text, True, None), "issuer_certificate": (file_name, True, None),
                 "output": (file_name, True, None), "this_update": (utc_time, True, None),
                 "next_update": (utc_time, True, None), "crl_number": (integer, False, 1),
                 "hash": (one_of(HASHES, upper=True), False, "SHA256"), "revoked": (list_of(revoked_entry), False, [])},
    "fingerprints": {"output": (file_name, False, None)},
    "backup-key": {"keys": (list_of(text), True, None), "custodians": (list_of(text), True, None),
                   "threshold": (integer, True, None), "output": (file_name, True, None)},
    "restore-key": {"file": (file_name, True, None), "engine": (lambda n, w: engine_param(n), True, None),
                    "name": (text, True, None), "custodians": (list_of(text), True, None),
                    "allow_lower_level": (text, False, None)},
}
# Which earlier outputs a parameter may name.
_REFERS = {"issuer_certificate": ("self-signed-certificate", "sign-certificate"), "csr": ("csr",),
           "file": ("backup-key",)}


def _step(node: yaml.Node, number: int) -> Step:
    m = _Map(node, f"step {number}")
    action = m.take("action", one_of(ACTIONS), required=True)
    schema = SCHEMAS[action]
    m.what = f"step {number} ({action})"
    m.done(("action", *schema))  # an unknown (misspelt) key is named before a missing one
    params = {name: m.take(name, kind, required=req, default=default) for name, (kind, req, default) in schema.items()}
    m.done(("action", *schema))
    for name in _ONLY_WHEN_GIVEN:
        if params.get(name) is None:
            params.pop(name, None)
    step = Step(number, action, _line(node), params, dict(m.lines))
    if "key_usage" in schema:
        _with_profile(step)
    if action == "generate-key":
        try:
            params["algorithm"] = A.normalise_algorithm(params["algorithm"])
            A.validate_spec(params["algorithm"], params["size"], {
                A.RSA: A.RSA_CREATE_SIZES, A.ECDSA: A.ECDSA_SIZES, A.ED25519: A.ED25519_SIZES,
                A.ML_DSA: A.ML_DSA_SIZES})
        except Exception as exc:
            raise _fail(step.line_of("algorithm"), getattr(exc, "message", str(exc))) from None
        if "backup" in params:  # "3-of-5": the key may leave the engine only wrapped, for M-of-N custodians
            try:
                params["backup"] = backup_policy.policy_text(*backup_policy.parse_policy(params["backup"]))
            except Exception as exc:
                raise _fail(step.line_of("backup"), getattr(exc, "message", str(exc))) from None
    return step


def _with_profile(step: Step) -> None:
    """A certificate step's ``profile:`` fills every certificate field the step does not give itself."""
    p = step.params
    if p.get("profile"):
        for name, value in cert_profiles.load(p["profile"]).fields().items():
            if name not in step.lines:
                p[name] = value
    if p["key_usage"] is None:
        raise _fail(step.line, f"step {step.number} ({step.action}) needs the key 'key_usage' (or a 'profile').")


def _engine(node: yaml.Node) -> EngineSpec:
    m = _Map(node, "engine")
    etype = m.take("type", text, required=True).upper()
    if not is_engine_type(etype):
        raise _fail(m.lines["type"], f"unknown engine type {etype!r}; known: {', '.join(EngineTypeNames())}.")
    spec = EngineSpec(etype, m.take("id", text, required=True), m.take("module", text), m.take("token", text),
                      m.take("serial", text), _line(node))
    m.done(("type", "id", "module", "token", "serial"))
    if etype == "PKCS11" and not spec.module:
        raise _fail(node, "a PKCS11 engine needs its module path (module).")
    if etype == "PKCS11" and not (spec.token or spec.serial):
        raise _fail(node, "a PKCS11 engine needs its token label (token) or serial (serial).")
    return spec


def engine_param(node: yaml.Node) -> dict[str, Any]:
    """A step's own engine (restore-key's target) as a plain mapping, as the transcript records it."""
    spec = _engine(node)
    return {k: v for k, v in spec.__dict__.items() if k != "line" and v is not None}


TOP = ("ceremony", "roles", "engine", "offline", "output_dir", "policy", "steps")


def parse_script(source: str | bytes, path: str | Path | None = None) -> Script:
    """A script from its text; ``path`` (the file) anchors a relative output directory."""
    raw = source.encode() if isinstance(source, str) else bytes(source)
    if len(raw) > MAX_SCRIPT_BYTES:
        raise ScriptError(f"The script is {len(raw)} bytes; the limit is {MAX_SCRIPT_BYTES}.")
    try:
        root = yaml.compose(raw.decode("utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        raise ScriptError("The script is not UTF-8 text.") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"Line {mark.line + 1}: " if mark else ""
        raise ScriptError(f"{where}not valid YAML ({exc.problem or exc.context}).") from None
    except yaml.YAMLError as exc:
        raise ScriptError(f"Not valid YAML ({type(exc).__name__}).") from None
    if root is None:
        raise ScriptError("The script is empty.")
    top = _Map(root, "the script")
    cer = _Map(top.take("ceremony", lambda n, w: n, required=True), "ceremony")
    cid, name = cer.take("id", text, required=True), cer.take("name", text, required=True)
    cer.done(("id", "name"))
    roles = _Map(top.take("roles", lambda n, w: n, required=True), "roles")
    admin = roles.take("administrator", text, required=True)
    witnesses = roles.take("witnesses", list_of(witness), required=True)
    custodians = roles.take("custodians", list_of(witness), default=[])
    roles.done(("administrator", "witnesses", "custodians"))
    if not witnesses:
        raise _fail(roles.lines["witnesses"], "a ceremony needs at least one witness.")
    engine = _engine(top.take("engine", lambda n, w: n, required=True))
    offline = top.take("offline", boolean, default=True)
    out = top.take("output_dir", text, required=True)
    out_line = top.lines["output_dir"]
    policy_node = top.take("policy", lambda n, w: n)
    max_days = 3650
    if policy_node is not None:
        policy = _Map(policy_node, "policy")
        max_days = policy.take("max_validity_days", integer, default=3650)
        policy.done(("max_validity_days",))
        if max_days <= 0:
            raise _fail(policy.lines["max_validity_days"], "max_validity_days must be positive.")
    steps_node = top.take("steps", lambda n, w: n, required=True)
    top.done(TOP)
    if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
        raise _fail(steps_node, "steps must be a non-empty list.")
    steps = [_step(node, i + 1) for i, node in enumerate(steps_node.value)]
    _check_references(steps)
    drop_unused_hashes(steps, {s.params["name"]: s.params["algorithm"] for s in steps if s.action == "generate-key"})
    output_dir = Path(out).expanduser()
    if not output_dir.is_absolute():
        if path is None:
            raise _fail(out_line, "output_dir must be an absolute path when the script is not read from a file.")
        output_dir = Path(path).resolve().parent / output_dir
    return Script(cid, name, admin, witnesses, engine, offline, output_dir, max_days, steps,
                  Path(path) if path else None, hashlib.sha256(raw).hexdigest(), custodians)


def _check_references(steps: list[Step]) -> None:
    outputs: dict[str, Step] = {}
    keys: set[str] = set()
    for step in steps:
        p = step.params
        for ref, actions in _REFERS.items():
            if ref in p:
                made = outputs.get(p[ref])
                if made is None or made.action not in actions:
                    raise _fail(step.line_of(ref), f"{ref} {p[ref]!r} is not the output of an earlier "
                                                   f"{' or '.join(actions)} step.")
        if step.action == "generate-key":
            if p["name"] in keys:
                raise _fail(step.line_of("name"), f"key {p['name']!r} is generated twice.")
            keys.add(p["name"])
        for name in step.outputs:
            if name in outputs:
                raise _fail(step.line_of("output"), f"output {name!r} is already written by step {outputs[name].number}.")
            outputs[name] = step


# The parameter naming the key that signs in each step with a ``hash``.
SIGNER_PARAMS = {"csr": "key", "self-signed-certificate": "key", "sign-certificate": "issuer_key",
                 "sign-crl": "issuer_key"}


def drop_unused_hashes(steps: list[Step], algorithms: dict[str, str]) -> None:
    """A step signed by an ML-DSA key (``algorithms``: key name -> algorithm) has no hash: its default
    ``hash`` becomes None, so the plan and the transcript name none. One the script gives stays, for the
    lint to refuse by its line."""
    for step in steps:
        signer = step.params.get(SIGNER_PARAMS.get(step.action, ""))
        if signer is not None and algorithms.get(signer) == A.ML_DSA and "hash" not in step.lines:
            step.params["hash"] = None


def load_script(path: str | Path) -> Script:
    from ..files import read_file

    return parse_script(read_file(str(path), MAX_SCRIPT_BYTES, "ceremony script"), path)
