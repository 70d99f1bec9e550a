"""Large outputs stream: keys listed a page at a time, doctor findings handed over as they are found."""

from __future__ import annotations

import os

from kms_tui.service.doctor import DoctorService
from kms_tui.service.types import KeyQuery


def _keys(kms, n: int) -> list:
    return [kms.keys.create("ECDSA", 256, f"k{i}", tags=[f"t{i % 2}"]) for i in range(n)]


def test_the_key_iterators_give_every_key_of_the_listing_across_pages(kms):
    _keys(kms, 5)
    for query in (KeyQuery(), KeyQuery(sort="creation_ts", descending=True), KeyQuery(text="t1"), KeyQuery(limit=3)):
        for page in (1, 2, 5, 500):
            assert [r.to_json() for r in kms.keys.iter(query, page=page)] == [r.to_json() for r in kms.keys.list(query)]
            assert list(kms.keys.iter_json(query, page=page)) == kms.keys.list_json(query)
    assert len(list(kms.keys.iter(page=2))) == 5


def test_doctor_hands_over_a_finding_before_the_later_checks_run(kms, monkeypatch):
    os.chmod(kms.data_dir, 0o755)  # a permissions finding: the first check
    seen: list = []
    seen_when_engines_ran: list[int] = []
    check_engines = DoctorService._check_engines

    def engines_check(self, report, timeout):
        seen_when_engines_ran.append(len(seen))
        return check_engines(self, report, timeout)

    monkeypatch.setattr(DoctorService, "_check_engines", engines_check)
    report = kms.doctor.run(on_finding=seen.append)
    assert seen_when_engines_ran and seen_when_engines_ran[0] >= 1
    assert seen[0].check == "permissions" and seen == report.findings


def test_with_repair_a_consistency_finding_is_handed_over_once_repaired(kms):
    gone = kms.keys.create("ECDSA", 256, "gone")
    os.unlink(kms.data_dir / "keys" / "golang-default" / gone.native_ref)
    told: list[tuple[str, bool, str]] = []
    report = kms.doctor.run(repair=True, on_finding=lambda f: told.append((f.subject, f.repaired, f.changed)))
    assert ("gone", True, "flagged missing by a sync of golang-default; nothing was deleted") in told
    assert len(told) == len(report.findings) and report.clean
