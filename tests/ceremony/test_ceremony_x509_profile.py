"""What the ceremony's certificates say: the subject in the script's order, extended key usage, backdating.

A small root + sub-CA script on the software engine, run through the ``Ceremony`` API with a
frozen clock (no prompts); the outputs are checked with cryptography and openssl.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kms_tui.ceremony import Ceremony, CeremonyRefused, LintError, ScriptError, parse_script
from kms_tui.ceremony import script as S
from kms_tui.ceremony import x509build as X
from kms_tui.ceremony.plan import describe_step
from kms_tui.ceremony.transcript import load
from tests.ceremony.conftest import line_of

SIGNING = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SCRIPT = """ceremony: {{id: profile-2026, name: Profile checks}}
roles:
  administrator: Alice Administrator
  witnesses: [{{name: Bob Witness, initials: BW}}]
engine: {{type: GOLANG, id: golang-default}}
output_dir: {out}
steps:
  - {{action: generate-key, name: profile-root, algorithm: ECDSA, size: 384}}
  - action: self-signed-certificate
    key: profile-root
    output: root.pem
    subject: {{C: ES, O: Example PKI, OU: Roots, CN: Profile Root}}
    not_before: {root_not_before}
    not_after: 2035-12-01T00:00:00Z
    path_length: 1
    key_usage: [key_cert_sign, crl_sign]{root_extra}
  - {{action: generate-key, name: profile-sub, algorithm: ECDSA, size: 384}}
  - action: csr
    key: profile-sub
    output: sub.csr
    subject: {{CN: Profile TLS CA, O: Example PKI, C: ES}}
  - action: sign-certificate
    issuer_key: profile-root
    issuer_certificate: root.pem
    csr: sub.csr
    output: sub.pem
    not_before: signing-time
    not_after: 2031-12-01T00:00:00Z
    path_length: 0
    key_usage: [key_cert_sign, crl_sign, digital_signature]
    extended_key_usage: [serverAuth, clientAuth]
"""


def script_text(tmp_path, root_not_before: str = "signing-time", root_extra: str = "") -> str:
    return SCRIPT.format(out=tmp_path / "out", root_not_before=root_not_before, root_extra=root_extra)


def ceremony(kms, text: str, clock) -> Ceremony:
    return Ceremony(kms, parse_script(text), mode="run", clock=clock)


def run_all(c: Ceremony) -> None:
    c.preflight()
    c.start()
    while c.current is not None:
        c.run_step()
    c.finish()


def test_subject_order_and_extended_key_usage(kms, tmp_path):
    c = ceremony(kms, script_text(tmp_path), lambda: SIGNING)
    run_all(c)
    out = tmp_path / "out"
    root = x509.load_pem_x509_certificate((out / "root.pem").read_bytes())
    sub = x509.load_pem_x509_certificate((out / "sub.pem").read_bytes())
    assert [rdn._attributes[0].oid for rdn in root.subject.rdns] == [
        NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME]
    assert [rdn._attributes[0].oid for rdn in sub.subject.rdns] == [
        NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.COUNTRY_NAME]
    shown = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", out / "root.pem"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "subject=CN=Profile Root,OU=Roots,O=Example PKI,C=ES"  # RFC 2253 writes the last RDN first
    eku = sub.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] and not eku.critical
    with pytest.raises(x509.ExtensionNotFound):
        root.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    strict = subprocess.run(["openssl", "verify", "-x509_strict", "-attime", str(int(SIGNING.timestamp()) + 60),
                             "-CAfile", out / "root.pem", out / "sub.pem"], capture_output=True, text=True)
    assert strict.returncode == 0, strict.stderr
    assert root.not_valid_before_utc == sub.not_valid_before_utc == SIGNING  # signing-time
    results = [e for e in load((out / "transcript.json").read_bytes()).entries if e["kind"] == "step.result"]
    assert results[1]["details"]["not_before"] == "2026-12-01T09:30:00Z"
    assert results[4]["inputs"]["extended_key_usage"] == ["serverAuth", "clientAuth"]


def test_every_extended_key_usage_name_has_its_oid():
    assert set(S.EXTENDED_KEY_USAGES) == set(X.EXTENDED_KEY_USAGE_OIDS)


@pytest.mark.parametrize(("change", "message", "at"), [
    (("[serverAuth, clientAuth]", "[serverAuth, webAuth]"), "is 'webAuth'; it must be one of serverAuth", "webAuth"),
    (("not_before: signing-time\n    not_after: 2031", "not_before: 2026-12-01T09:00:00+01:00\n    not_after: 2031"),
     "must be in UTC", "+01:00"),
    (("not_before: signing-time\n    not_after: 2031", "not_before: soon\n    not_after: 2031"),
     "is not a time", "soon"),
], ids=["unknown-eku", "not-utc", "not-a-time"])
def test_script_errors_name_the_line(tmp_path, change, message, at):
    text = script_text(tmp_path).replace(*change)
    with pytest.raises(ScriptError) as caught:
        parse_script(text)
    assert caught.value.message.startswith(f"Line {line_of(text, at)}:"), caught.value.message
    assert message in caught.value.message


def test_backdating_is_refused_unless_the_step_says_why(kms, tmp_path):
    eleven_months = "2026-01-01T00:00:00Z"
    text = script_text(tmp_path, eleven_months)
    with pytest.raises(LintError) as caught:
        ceremony(kms, text, lambda: SIGNING).preflight()
    assert f"step 2 (self-signed-certificate), line {line_of(text, eleven_months)}: not_before" in caught.value.message
    assert "334.4 days before the signing time" in caught.value.message
    reason = "re-issue of the archived 2026 root, approved in PKI-42"
    run_all(ceremony(kms, script_text(tmp_path, eleven_months, f'\n    allow_backdating: "{reason}"'), lambda: SIGNING))
    root = x509.load_pem_x509_certificate((tmp_path / "out" / "root.pem").read_bytes())
    assert root.not_valid_before_utc == datetime(2026, 1, 1, tzinfo=UTC)
    result = next(e for e in load((tmp_path / "out" / "transcript.json").read_bytes()).entries
                  if e["kind"] == "step.result" and e["step"] == 2)
    assert result["inputs"]["allow_backdating"] == reason
    assert result["details"]["backdated"] == {"days": 334.4, "signing_time": "2026-12-01T09:30:00Z", "reason": reason}


def test_backdating_is_measured_at_signing_time(kms, tmp_path):
    """A not_before within a day at the start, but two days old when the engine is asked to sign."""
    now = [SIGNING]
    text = script_text(tmp_path, "2026-12-01T00:00:00Z")
    c = ceremony(kms, text, lambda: now[0])
    c.preflight()
    c.start()
    c.run_step()
    now[0] = SIGNING + timedelta(days=2)
    with pytest.raises(CeremonyRefused) as caught:
        c.run_step()
    assert caught.value.message.startswith(
        f"Step 2 (self-signed-certificate), line {line_of(text, '2026-12-01T00:00:00Z')}: not_before "
        "2026-12-01T00:00:00Z is 2.4 days before the signing time (2026-12-03T09:30:00Z)"), caught.value.message
    assert not (tmp_path / "out" / "root.pem").exists()
    assert len(kms.audit.rows(action="key.sign")) == 1  # the generated key's self-test only


def test_a_sub_ca_starting_before_its_signing_time_root_is_refused(kms, tmp_path):
    """The root takes its signing time, two hours in; a sub-CA dated one hour in would start before it."""
    now = [SIGNING]
    text = script_text(tmp_path).replace("not_before: signing-time\n    not_after: 2031",
                                         "not_before: 2026-12-01T10:30:00Z\n    not_after: 2031")
    c = ceremony(kms, text, lambda: now[0])
    c.preflight()
    c.start()
    c.run_step()
    now[0] = SIGNING + timedelta(hours=2)
    while c.current.action != "sign-certificate":
        c.run_step()
    with pytest.raises(CeremonyRefused) as caught:
        c.run_step()
    assert caught.value.message == (f"Step 5 (line {line_of(text, '2026-12-01T10:30:00Z')}): the validity must lie "
                                    "within that of root.pem.")
    assert not (tmp_path / "out" / "sub.pem").exists()


def test_steps_take_a_profile_and_override_its_fields(kms, tmp_path):
    """``profile:`` fills what a step leaves out (root-ca: no path length; sub-ca: path length 0, its key
    usage); the step's own extended_key_usage wins. root-ca is linted against the CA/B Forum's rules."""
    text = (script_text(tmp_path)
            .replace("    path_length: 1\n    key_usage: [key_cert_sign, crl_sign]", "    profile: root-ca")
            .replace("    path_length: 0\n    key_usage: [key_cert_sign, crl_sign, digital_signature]\n",
                     "    profile: sub-ca\n"))
    with pytest.raises(LintError) as caught:  # CA/B Forum: no OU in a CA's subject
        ceremony(kms, text, lambda: SIGNING).preflight()
    assert (f"step 2 (self-signed-certificate), line {line_of(text, 'subject: {C: ES, O: Example PKI, OU')}: "
            "pkilint: cabf.serverauth.ca.organizational_unit_name_attribute_present") in caught.value.message
    leaf = text.replace("OU: Roots, ", "").replace("profile: sub-ca", "profile: tls-server")
    with pytest.raises(LintError) as caught:  # what pkilint cannot see: the profile's days, its SAN rule
        ceremony(kms, leaf, lambda: SIGNING).preflight()
    assert "profile 'tls-server' allows at most 397" in caught.value.message
    assert f"line {line_of(leaf, 'profile: tls-server')}: profile 'tls-server' needs SANs" in caught.value.message
    run_all(ceremony(kms, text.replace("OU: Roots, ", ""), lambda: SIGNING))
    out = tmp_path / "out"
    root = x509.load_pem_x509_certificate((out / "root.pem").read_bytes())
    sub = x509.load_pem_x509_certificate((out / "sub.pem").read_bytes())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length is None
    assert sub.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert sub.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert list(sub.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    results = [e for e in load((out / "transcript.json").read_bytes()).entries if e["kind"] == "step.result"]
    assert results[1]["inputs"]["profile"] == "root-ca" and results[4]["inputs"]["key_usage"] == [
        "digital_signature", "key_cert_sign", "crl_sign"]


def test_generate_key_takes_a_backup_policy(kms, tmp_path):
    """``backup: 3-of-5`` makes the key under that M-of-N policy (the plan and the transcript say it);
    a policy outside SLIP-39's bounds is refused at its line before anything runs."""
    text = SCRIPT.split("steps:")[0].format(out=tmp_path / "out") + (
        "steps:\n  - {action: generate-key, name: custody-root, algorithm: ECDSA, size: 384, backup: 3-of-5}\n")
    c = ceremony(kms, text, lambda: SIGNING)
    assert "under a 3-of-5 backup policy" in describe_step(c.script.steps[0])
    run_all(c)
    assert kms.backup.state(kms.keys.resolve("custody-root")) == "policy 3-of-5; not backed up yet"
    [result] = [e for e in load((tmp_path / "out" / "transcript.json").read_bytes()).entries
                if e["kind"] == "step.result"]
    assert result["details"]["backup_policy"] == "3-of-5"
    wrong = text.replace("backup: 3-of-5", "backup: 1-of-3")
    with pytest.raises(ScriptError) as caught:
        parse_script(wrong)
    assert caught.value.message.startswith(f"Line {line_of(wrong, 'backup: 1-of-3')}:"), caught.value.message
