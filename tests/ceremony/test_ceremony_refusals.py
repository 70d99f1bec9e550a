"""Every refusal stops the ceremony before anything is signed, with a clear message.

Lint failures, a taken key name, an existing output file, a network engine and a
malformed script (unknown key, wrong type: the line is named). After each: no
``key.sign`` audit row, no key made, no output file.
"""

from __future__ import annotations

import pytest

from kms_tui.ceremony import Ceremony, CeremonyRefused, LintError, ScriptError, load_script, parse_script
from tests.ceremony.conftest import line_of, software_text


def start(kms, path) -> Ceremony:
    """What ``run`` does before its first question: load, check everything, start."""
    ceremony = Ceremony(kms, load_script(path), mode="run")
    ceremony.preflight()
    ceremony.start()
    return ceremony


def assert_nothing_signed(kms, path) -> None:
    assert not kms.audit.rows(action="key.sign")
    assert not [k for k in kms.keys.list() if k.name.startswith("example-")]
    out = path.parent / "ceremony-2026"
    assert not out.exists() or not any(out.iterdir())


LINT = [
    ("validity", ("not_after: 2045-12-31T23:59:59Z", "not_after: 2055-12-31T23:59:59Z"),
     "the script's maximum is 7305", "not_after: 2055"),
    ("sha1", ("    hash: SHA384\n    path_length: 1", "    hash: SHA1\n    path_length: 1"), "SHA-1 is refused", "hash: SHA1"),
    ("weak root", ("    algorithm: ECDSA\n    size: 384", "    algorithm: ECDSA\n    size: 256"),
     "is MEDIUM; a root key must be HIGH", "  - action: self-signed-certificate"),
    ("usage", ("key_usage: [key_cert_sign, crl_sign]\n    ski: rfc5280", "key_usage: [crl_sign]\n    ski: rfc5280"),
     "pkilint: pkix.ca_certificate_keycertsign_keyusage_not_set", "key_usage: [crl_sign]"),
    ("path length", ("    path_length: 0", "    path_length: 1"), "path_length must be below the issuer's (1)",
     "path_length: 1\n    key_usage: [key_cert_sign, crl_sign, digital"),
    ("subject", ("subject: {C: ES, O: Example PKI, CN: Example Root CA 2026}", "subject: {}"), "the subject is empty",
     "subject: {}"),
    ("serial", ("    ski: rfc5280", "    ski: rfc5280\n    serial_bits: 32"), "serial_bits is 32", "serial_bits: 32"),
]


@pytest.mark.parametrize(("change", "message", "at"), [c[1:] for c in LINT], ids=[c[0] for c in LINT])
def test_lint_failure_stops_before_anything(kms, write_script, change, message, at):
    text = software_text(change)
    path = write_script(text)
    with pytest.raises(LintError) as caught:
        start(kms, path)
    assert message in caught.value.message
    if not at.startswith("  - action"):
        assert f"line {line_of(text, at)}" in caught.value.message
    assert caught.value.title == "Ceremony script refused"
    assert_nothing_signed(kms, path)


def test_lint_collects_every_finding(kms, write_script):
    path = write_script(software_text(("hash: SHA384", "hash: SHA1"), ("subject: {C: ES, O: Example PKI, CN: Example Root CA 2026}", "subject: {}")))
    with pytest.raises(LintError) as caught:
        start(kms, path)
    assert len(caught.value.findings) == 2


def test_existing_label(kms, write_script):
    kms.keys.create("Ed25519", 256, "example-issuing-2026")
    path = write_script(software_text())
    with pytest.raises(CeremonyRefused, match=r"Step 4 \(line \d+\): The name 'example-issuing-2026' is already used"):
        start(kms, path)
    assert not kms.audit.rows(action="key.sign")
    assert not (path.parent / "ceremony-2026").exists()


def test_existing_output_file(kms, write_script):
    path = write_script(software_text())
    (path.parent / "ceremony-2026").mkdir()
    (path.parent / "ceremony-2026" / "intermediate.pem").write_text("evidence from last year")
    with pytest.raises(CeremonyRefused, match="intermediate.pem exists; a ceremony never overwrites a file"):
        start(kms, path)
    assert (path.parent / "ceremony-2026" / "intermediate.pem").read_text() == "evidence from last year"
    assert [p.name for p in (path.parent / "ceremony-2026").iterdir()] == ["intermediate.pem"]
    assert not kms.audit.rows(action="key.sign") and not kms.keys.list()


def test_network_engine_offline(kms, write_script):
    kms.engines.register("AWS_KMS", "aws-root", options={"region": "eu-west-1", "profile": "pki"}, check=False)
    path = write_script(software_text(("id: golang-default", "id: aws-root")))
    with pytest.raises(CeremonyRefused, match="Engine 'aws-root' is of type AWS_KMS, which needs a network; "
                                              "an offline ceremony refuses it"):
        start(kms, path)
    assert_nothing_signed(kms, path)
    path = write_script(software_text(("type: GOLANG", "type: AZURE_KEY_VAULT")), "azure.yaml")
    with pytest.raises(CeremonyRefused, match="The script's engine is of type AZURE_KEY_VAULT, which needs a network"):
        start(kms, path)


@pytest.mark.parametrize(("change", "message", "at"), [
    (("    size: 384\n  - action: export", "    sizee: 384\n  - action: export"),
     "unknown key 'sizee' in step 1 (generate-key); known keys: action, name, algorithm, size", "sizee: 384"),
    (("    size: 384\n  - action: export", "    size: big\n  - action: export"),
     "'size' in step 1 (generate-key) must be a whole number", "size: big"),
    (("crl_number: 1", "crl_number: [1]"), "'crl_number' in step 7 (sign-crl) must be a whole number", "crl_number: [1]"),
    (("offline: true", "offline: true\nwitness: Dave"), "unknown key 'witness' in the script", "witness: Dave"),
    (("this_update: 2026-01-01T00:00:00Z", "this_update: 2026-01-01T00:00:00+02:00"), "must be in UTC", "+02:00"),
    (("csr: intermediate.csr", "csr: root.pem"), "csr 'root.pem' is not the output of an earlier csr step", "csr: root.pem"),
    (("output: root.crl", "output: root.pem"), "output 'root.pem' is already written by step 3", "output: root.pem\n    this_update"),
    (("  - action: fingerprints", "  - action: fingerprint"), "action' in step 8 is 'fingerprint'", "action: fingerprint"),
    (("id: example-root-2026", "id: example: root"), "not valid YAML (mapping values are not allowed here)",
     "id: example: root"),
], ids=["unknown-key", "wrong-type", "list-not-int", "unknown-top", "not-utc", "bad-reference", "twice", "action", "yaml"])
def test_malformed_script_names_the_line(kms, write_script, change, message, at):
    text = software_text(change)
    path = write_script(text)
    with pytest.raises(ScriptError) as caught:
        start(kms, path)
    assert caught.value.message.startswith(f"Line {line_of(text, at)}:"), caught.value.message
    assert message in caught.value.message, caught.value.message
    assert_nothing_signed(kms, path)


def test_duplicate_key_and_empty_script():
    with pytest.raises(ScriptError, match="Line 2: key 'ceremony' appears twice"):
        parse_script("ceremony: {id: a, name: b}\nceremony: {id: a, name: b}\n", "/tmp/x.yaml")
    with pytest.raises(ScriptError, match="The script is empty"):
        parse_script("# nothing\n", "/tmp/x.yaml")


def test_pkilint_warnings_go_to_the_room_and_its_errors_stop_the_step(kms, write_script, monkeypatch):
    """Each certificate and CRL is linted again as it is made: a warning is shown and recorded, an
    error refuses the step before its file is written."""
    from kms_tui.service import cert_lint

    monkeypatch.setattr(cert_lint, "certificate", lambda der, lint="rfc5280": cert_lint.LintReport(
        [], ["pkix.some_warning"]))
    monkeypatch.setattr(cert_lint, "crl", lambda der: cert_lint.LintReport(["pkix.crl_some_error"], []))
    path = write_script(software_text())
    ceremony = start(kms, path)
    while ceremony.current.action != "sign-crl":
        result = ceremony.run_step()
        if result.step.action == "self-signed-certificate":
            assert "pkilint warning: pkix.some_warning" in result.lines
            assert result.details["lint_warnings"] == ["pkix.some_warning"]
    with pytest.raises(CeremonyRefused, match=r"Step 7 \(line \d+\): pkilint refuses root.crl: pkix.crl_some_error"):
        ceremony.run_step()
    assert not (path.parent / "ceremony-2026" / "root.crl").exists()
