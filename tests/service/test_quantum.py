"""The quantum table (NIST IR 8547 draft dates, strengths, roles, ML-DSA suggestions) and the store's quantum filter."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

from engines.algorithms import KEY_ALGORITHMS, ML_DSA
from kms_tui.service import quantum as Q
from kms_tui.service.quantum_report import ROLE_OF_KIND, strength_group
from store import KeyQuery
from store.key_query import QUANTUM_RESISTANT, where_clause
from tests.service.test_certs import certificate, imported, pem

D2030, D2035 = date(2030, 12, 31), date(2035, 12, 31)


@pytest.mark.parametrize(("algorithm", "size", "label", "deprecated", "replace_by", "already"), [
    ("RSA", 512, "<80", None, date(2013, 12, 31), True),
    ("RSA", 1024, "80", None, date(2013, 12, 31), True),
    ("RSA", 2047, "≥80", None, date(2013, 12, 31), True),
    ("RSA", 2048, "112", D2030, D2030, False),
    ("RSA", 3071, "≥112", D2030, D2030, False),
    ("RSA", 3072, "128", None, D2035, False),
    ("RSA", 4096, "≥128", None, D2035, False),
    ("ECDSA", 224, "112", D2030, D2030, False),
    ("ECDSA", 256, "128", None, D2035, False),
    ("ECDSA", 384, "192", None, D2035, False),
    ("ECDSA", 521, "256", None, D2035, False),
    ("Ed25519", 256, "128", None, D2035, False),
    ("DSA", 2048, "112", None, date(2023, 2, 3), True),
    ("DSA", 1024, "80", None, date(2023, 2, 3), True),
])
def test_quantum_vulnerable_keys_have_their_nist_ir_8547_dates(algorithm, size, label, deprecated, replace_by, already):
    exposure = Q.assess(algorithm, size)
    assert exposure.vulnerable and Q.is_vulnerable(algorithm)
    assert (exposure.label, exposure.deprecated_after, exposure.replace_by, exposure.already_disallowed) == (
        label, deprecated, replace_by, already)
    if not already:
        assert exposure.disallowed_after == D2035  # every quantum-vulnerable signature, after 2035


def test_ml_dsa_is_resistant_with_its_category_and_the_lines_say_so():
    for size, category, bits in ((44, 2, 128), (65, 3, 192), (87, 5, 256)):
        exposure = Q.assess(ML_DSA, size)
        assert (exposure.vulnerable, exposure.category, exposure.bits, exposure.label) == (
            False, category, bits, f"category {category}")
        assert exposure.replace_by is None and exposure.deprecated_after is None
    assert Q.quantum_line(ML_DSA, 65) == "HIGH, NIST category 3, quantum-resistant"
    assert Q.quantum_line("RSA", 2048) == (
        "quantum-vulnerable: deprecated after 2030 / disallowed after 2035 (NIST IR 8547 draft)")
    assert Q.quantum_line("Ed25519", 256) == "quantum-vulnerable: disallowed after 2035 (NIST IR 8547 draft)"
    assert Q.quantum_line("RSA", 1024).endswith("already disallowed: below 112 bits (SP 800-131A)")
    assert Q.quantum_cells("ECDSA", 384) == ("Quantum-vulnerable", "disallowed after 2035 (NIST IR 8547 draft)")
    assert Q.quantum_cells("RSA", 1024) == ("Quantum-vulnerable", "already disallowed: below 112 bits (SP 800-131A)")
    assert Q.quantum_cells(ML_DSA, 87) == ("Quantum", "HIGH, NIST category 5, quantum-resistant")
    assert [strength_group(a, s) for a, s in (("RSA", 1024), ("ECDSA", 224), ("ECDSA", 256))] == [
        "<112 (disallowed)", "112 (2030)", "128+ (2035)"]


def test_roles_suggest_ml_dsa_sets_and_certificates_are_weighed_against_2030():
    assert Q.role_of({"ca", "certificate"}, True, True) == Q.ROOT  # a self-signed certificate makes a root
    assert Q.role_of({"ca"}, False, False) == Q.CA
    assert Q.role_of({"certificate"}, True, False) == Q.END_ENTITY
    assert Q.role_of({"service"}, False, False) == Q.OTHER
    assert Q.role_of(set(), False, False) == Q.UNBOUND
    assert [Q.suggested_ml_dsa(role) for role in Q.ROLES] == [
        "ML-DSA-87", "ML-DSA-65", "ML-DSA-44", "ML-DSA-65", "ML-DSA-65"]
    assert set(ROLE_OF_KIND.values()) == set(Q.ROLES)
    assert Q.outlives_horizon("2031-01-01T00:00:00Z") == 1
    assert Q.outlives_horizon("2030-12-31T23:59:59Z") == 0
    assert Q.outlives_horizon("2029-12-31T00:00:00Z") == -365
    assert Q.outlives_horizon(None) is None and Q.outlives_horizon("soon") is None
    assert Q.certificate_line("2036-12-31T00:00:00Z") == "outlives 2030 by 2192 days (ends 2036-12-31)"
    assert Q.certificate_line("2029-06-30T00:00:00Z") == "ends by 2030 (2029-06-30)"
    assert Q.certificate_line(None) is None


def test_the_store_filters_on_the_same_algorithms_and_knows_every_one():
    assert QUANTUM_RESISTANT == Q.QUANTUM_RESISTANT  # the store cannot import the service: the two agree here
    assert [a for a in KEY_ALGORITHMS if not Q.is_vulnerable(a)] == [ML_DSA]
    assert where_clause(KeyQuery(quantum_vulnerable=True)) == ("algorithm NOT IN (?)", ["ML-DSA"])
    assert where_clause(KeyQuery(quantum_vulnerable=False)) == ("algorithm IN (?)", ["ML-DSA"])


def test_the_stats_count_roles_by_the_rule_the_report_applies(kms):
    """Every kind of key once: the SQL counts (stats) and the per-key rows (report) agree, and the filter finds them."""
    root_key = imported(kms, "root")
    leaf_key = imported(kms, "leaf")
    imported(kms, "sub-ca")
    imported(kms, "service-key")
    imported(kms, "loose")
    kms.keys.bind("sub-ca", "ca", "sub")
    kms.keys.bind("service-key", "service", "s1")
    pq = mldsa.MLDSA44PrivateKey.from_seed_bytes(bytes(32)).public_key()
    kms.keys.import_key(pq.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
                        "pq")
    root = certificate(root_key.public_key(), "Root", root_key, days=3650, ca=True)
    kms.certs.add(pem(certificate(leaf_key.public_key(), "leaf", root_key, "Root"), root))

    rows = {r.name: r for r in kms.quantum.rows()}
    assert {n: r.role for n, r in rows.items()} == {
        "root": Q.ROOT, "leaf": Q.END_ENTITY, "sub-ca": Q.CA, "service-key": Q.OTHER, "loose": Q.UNBOUND,
        "pq": Q.UNBOUND}
    assert rows["leaf"].suggested == "ML-DSA-44" and rows["pq"].suggested is None
    exposure = kms.quantum.exposure()
    vulnerable = Counter(r.role for r in rows.values() if r.quantum_vulnerable)
    assert exposure["by_role"] == {role: vulnerable.get(role, 0) for role in Q.ROLES}
    assert exposure["by_engine"] == {"golang-default": 5} and exposure["by_security_level"]["SL0"] == 5
    assert exposure["by_strength"] == {"<112 (disallowed)": 0, "112 (2030)": 0, "128+ (2035)": 5}
    assert kms.keys.count(KeyQuery(quantum_vulnerable=True)) == 5
    assert [r.name for r in kms.keys.list(KeyQuery(quantum_vulnerable=False))] == ["pq"]
