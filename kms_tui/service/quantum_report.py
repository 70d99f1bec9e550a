"""The quantum migration inventory (``kms.quantum``): every key's exposure, replace-by date and ML-DSA successor.

``rows`` streams one ``QuantumRow`` per key, soonest replace-by date first, without holding
the inventory in memory: the (algorithm, size) pairs are ordered by their date (``quantum.assess``)
and each pair's keys are then read a page at a time in name order. A key's certificates are read
only when it has a ``certificate`` binding (every recorded certificate binds its key).
``exposure`` counts the quantum-vulnerable keys for the stats screen from one GROUP BY query.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engines.algorithms import display_name
from store import KeyQuery, KeyRecord

from . import quantum as Q
from .core import ServiceContext

# The store's binding kinds (``Store.exposure_counts``) as roles, by the rule of ``quantum.role_of``.
ROLE_OF_KIND = {"self_signed": Q.ROOT, "ca": Q.CA, "certificate": Q.END_ENTITY, "other": Q.OTHER, "none": Q.UNBOUND}
FIELDS = ("name", "key_id", "engine_id", "algorithm", "size", "security_level", "strength_bits", "role", "bindings",
          "certificates", "quantum_vulnerable", "replace_by", "rule", "outlives_2030_days", "suggested")


@dataclass
class QuantumRow:
    """One key as the migration inventory shows it."""

    name: str
    key_id: str
    engine_id: str
    algorithm: str
    size: int
    security_level: int | None  # the engine's SL0/1/2
    strength_bits: str  # "112", "≥128", "category 3"
    role: str
    bindings: list[str]  # "type/id"
    certificates: list[tuple[str, str]] = field(default_factory=list)  # (subject, not after), latest last
    quantum_vulnerable: bool = True
    replace_by: date | None = None
    rule: str = ""
    outlives_2030_days: int | None = None  # of the latest certificate; negative when it ends before
    suggested: str | None = None  # the ML-DSA parameter set to move to; None for an ML-DSA key

    @property
    def display(self) -> str:
        return display_name(self.algorithm, self.size)

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in FIELDS}
        data["certificates"] = [{"subject": s, "not_after": n} for s, n in self.certificates]
        data["replace_by"] = self.replace_by.isoformat() if self.replace_by else None
        return data

    def to_csv(self) -> list[str]:
        """The same fields as text cells; lists joined with "; "."""
        data = self.to_json()
        data["bindings"] = "; ".join(self.bindings)
        data["certificates"] = "; ".join(f"{s} (until {n})" for s, n in self.certificates)
        data["quantum_vulnerable"] = "yes" if self.quantum_vulnerable else "no"
        return ["" if data[name] is None else str(data[name]) for name in FIELDS]


def _order(pair: tuple[str, int]) -> tuple[date, str, int]:
    exposure = Q.assess(*pair)
    return exposure.replace_by or date.max, pair[0], pair[1]


class QuantumService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def rows(self, engine_id: str | None = None) -> Iterator[QuantumRow]:
        """Every key (of one engine, if given), soonest replace-by date first, then by algorithm, size, name.

        An engine that is not registered is refused here, before any row is read: a mistyped id
        must not pass for an engine without quantum-vulnerable keys.
        """
        if engine_id is not None:
            engine_id = self._ctx.store.get_engine(engine_id).id
        return self._rows(engine_id)

    def _rows(self, engine_id: str | None) -> Iterator[QuantumRow]:
        store = self._ctx.store
        levels = {e.id: e.security_level for e in store.list_engines()}
        for algorithm, size in sorted(self._pairs(), key=_order):
            query = KeyQuery(engine_id=engine_id, algorithm=algorithm, size=size, sort="name")
            exposure = Q.assess(algorithm, size)  # the same for every key of the pair
            for record in store.iter_keys_matching(query):
                yield self.row(record, levels.get(record.engine_id), exposure)

    def _pairs(self) -> list[tuple[str, int]]:
        """The (algorithm, size) pairs the store holds keys of."""
        pairs = []
        for label in self._ctx.store.stats()["by_size"]:  # "RSA 2048": one GROUP BY over an index
            algorithm, _, size = label.rpartition(" ")
            pairs.append((algorithm, int(size)))
        return pairs

    def row(self, record: KeyRecord, security_level: int | None, exposure: Q.Exposure | None = None) -> QuantumRow:
        """The inventory's row for one key (``exposure``: its algorithm and size's, when already known)."""
        exposure = exposure or Q.assess(record.algorithm, record.size)
        types = {str(b.get("resource_type")) for b in record.bindings}
        certs = self._ctx.store.certificates_of_key(record.engine_id, record.key_id) if "certificate" in types else []
        role = Q.role_of(types, bool(certs), any(c.subject == c.issuer for c in certs))
        latest = max((c.not_after for c in certs), default=None)
        return QuantumRow(
            name=record.name, key_id=record.key_id, engine_id=record.engine_id, algorithm=record.algorithm,
            size=record.size, security_level=security_level, strength_bits=exposure.label, role=role,
            bindings=[f"{b.get('resource_type')}/{b.get('resource_id')}" for b in record.bindings],
            certificates=[(c.subject, c.not_after) for c in certs], quantum_vulnerable=exposure.vulnerable,
            replace_by=exposure.replace_by, rule=exposure.rule, outlives_2030_days=Q.outlives_horizon(latest),
            suggested=Q.suggested_ml_dsa(role) if exposure.vulnerable else None,
        )

    def exposure(self) -> dict[str, dict[str, int]]:
        """Quantum-vulnerable keys by engine, by role, by the engine's security level and by security strength."""
        store = self._ctx.store
        counts = store.exposure_counts()
        levels = {e.id: e.security_level for e in store.list_engines()}
        by_level = {f"SL{n}": 0 for n in (2, 1, 0)}
        by_engine = {**dict.fromkeys(sorted(levels), 0), **counts["by_engine"]}  # every engine, 0 when it has none
        for engine_id, n in by_engine.items():
            level = levels.get(engine_id)
            _add(by_level, f"SL{level}" if level is not None else "?", n)
        by_role = dict.fromkeys(Q.ROLES, 0)
        for kind, n in counts["by_kind"].items():
            _add(by_role, ROLE_OF_KIND.get(kind, Q.OTHER), n)
        by_strength = dict.fromkeys(STRENGTH_GROUPS, 0)
        for row in counts["pairs"]:
            _add(by_strength, strength_group(row["algorithm"], row["size"]), row["n"])
        return {"by_engine": by_engine, "by_role": by_role, "by_security_level": by_level,
                "by_strength": by_strength,
                "total": {"vulnerable": sum(row["n"] for row in counts["pairs"])}}


# Security strength groups, soonest to be disallowed first (IR 8547 ipd).
STRENGTH_GROUPS = ("<112 (disallowed)", "112 (2030)", "128+ (2035)")


def strength_group(algorithm: str, size: int) -> str:
    exposure = Q.assess(algorithm, size)
    if exposure.already_disallowed:
        return STRENGTH_GROUPS[0]
    return STRENGTH_GROUPS[1] if exposure.deprecated_after is not None else STRENGTH_GROUPS[2]


def _add(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n
