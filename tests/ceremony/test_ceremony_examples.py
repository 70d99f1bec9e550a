"""Every shipped example script (examples/*.yaml) rehearses out of the box, and its transcript verifies.

Each is rehearsed through ``kms-tui ceremony rehearse`` in this process: a scratch engine (a
SoftHSM2 token for PKCS#11 scripts, a temporary software engine otherwise), thrown away after.
A new example is picked up here by its file name alone.

The ML-DSA example's chain (ML-DSA-87 root, ML-DSA-65 issuing CA, the root's CRL) is checked with
cryptography's X.509 verifier: the Debian OpenSSL 3.0 here cannot read ML-DSA keys ("unable to
load Public Key"), so ``openssl verify`` cannot be the judge of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store

from kms_tui.ceremony import parse_script, verify
from kms_tui.ceremony.lint import KeyInfo, lint_script
from kms_tui.ceremony.transcript import load
from kms_tui.service import cert_lint
from tests.ceremony.conftest import line_of
from tests.cli.runner import InProcessCli, home_env

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
ML_DSA_EXAMPLE = "ceremony-mldsa-root.yaml"


@pytest.fixture
def cli(tmp_path) -> InProcessCli:
    return InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))


def test_the_ml_dsa_example_is_shipped():
    assert ML_DSA_EXAMPLE in [p.name for p in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_rehearses_out_of_the_box(cli, tmp_path, example):
    out = tmp_path / "rehearsal"
    said = cli("ceremony", "rehearse", str(example), "--output-dir", str(out)).stdout.decode()
    assert "Final transcript hash" in said
    report = verify(out / "rehearsal-transcript.json", out)
    assert report.ok and report.mode == "rehearsal", report.problems
    if example.name == ML_DSA_EXAMPLE:
        check_ml_dsa_chain(out, said)


def check_ml_dsa_chain(out: Path, said: str) -> None:
    root = x509.load_pem_x509_certificate((out / "root.pem").read_bytes())
    issuing = x509.load_pem_x509_certificate((out / "intermediate.pem").read_bytes())
    assert [c.signature_algorithm_oid.dotted_string for c in (root, issuing)] == ["2.16.840.1.101.3.4.3.19"] * 2
    assert x509.load_pem_x509_csr((out / "intermediate.csr").read_bytes()).signature_algorithm_oid.dotted_string \
        == "2.16.840.1.101.3.4.3.18"  # id-ml-dsa-65: the issuing CA's own key signed its request
    # The issuing CA ends this chain, so it is checked as the chain's end entity would be, but as the CA it is.
    verifier = (PolicyBuilder().store(Store([root])).time(datetime.now(UTC) + timedelta(minutes=1))
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier())
    assert verifier.verify(issuing, []).chain == [issuing, root]
    assert x509.load_pem_x509_crl((out / "root.crl").read_bytes()).is_signature_valid(root.public_key())
    for cert in (root, issuing):
        assert cert_lint.certificate(cert.public_bytes(Encoding.DER), "cabf-serverauth").errors == []
    assert "pkilint: linted against RFC 5280, not the CA/Browser Forum profile" in said  # root-ca asks CA/B Forum
    results = [e for e in load((out / "rehearsal-transcript.json").read_bytes()).entries if e["kind"] == "step.result"]
    assert [r["inputs"].get("hash") for r in results if r["action"] in ("self-signed-certificate", "csr")] \
        == [None, None]  # no hash is chosen for an ML-DSA key, and the transcript names none
    assert "key (ML-DSA-87) and signature (ML-DSA-87)" in results[2]["details"]["lint_notes"][0]


def test_a_hash_given_for_an_ml_dsa_key_is_refused_by_its_line():
    text = (EXAMPLES[0].parent / ML_DSA_EXAMPLE).read_text()
    text = text.replace("    path_length: 1\n", "    path_length: 1\n    hash: SHA384\n", 1)
    text = text.replace("    output: intermediate.csr\n", "    output: intermediate.csr\n    hash: SHA256\n", 1)
    script = parse_script(text, "/tmp/ceremony-mldsa-root.yaml")
    keys = {"example-mldsa-root-2026": KeyInfo("ML-DSA", 87), "example-mldsa-issuing-2026": KeyInfo("ML-DSA", 65)}
    findings = [f for f in lint_script(script, keys) if "has no hash to choose" in f]
    assert findings == [
        f"step 3 (self-signed-certificate), line {line_of(text, 'hash: SHA384')}: hash SHA384 does not apply: "
        "ML-DSA-87 has no hash to choose, it signs the certificate itself (SHAKE256 inside; signature algorithm "
        "id-ml-dsa-87). Leave hash out for an ML-DSA key.",
        f"step 6 (csr), line {line_of(text, 'hash: SHA256')}: hash SHA256 does not apply: ML-DSA-65 has no hash to "
        "choose, it signs the request itself (SHAKE256 inside; signature algorithm id-ml-dsa-65). Leave hash out "
        "for an ML-DSA key."]
