"""What each step will do, in the words shown to the room and written in the transcript's plan."""

from __future__ import annotations

from datetime import UTC, datetime

from .script import Step


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_step(step: Step) -> str:
    """What a step will do, in one sentence for the room and the transcript's plan (certificates and CRLs
    are linted by pkilint before they are written; its warnings follow in the step's result)."""
    p = step.params
    if step.action == "generate-key":
        backup = (f" under a {p['backup']} backup policy (its material may leave the engine only wrapped, for "
                  "M-of-N custodians)") if p.get("backup") else ""
        kind = f"ML-DSA-{p['size']}" if p["algorithm"] == "ML-DSA" else f"{p['algorithm']} {p['size']}"
        return (f"Generate {kind} key {p['name']!r} in the engine{backup}, then sign a random "
                "challenge and verify it with the exported public key.")
    if step.action == "export-public-key":
        return f"Export the public key of {p['key']!r} to {p['output']} (PEM) with its SHA-256 fingerprint."
    if step.action == "self-signed-certificate":
        return (f"Sign a self-signed certificate for {_subject(p['subject'])} with {p['key']!r} "
                f"({p['hash'] or 'no hash: ML-DSA signs it whole'}), "
                f"valid {_valid(p)}, CA={p['ca']}, path length {p['path_length']}{_extras(p)}; write {p['output']}.")
    if step.action == "csr":
        return f"Make a CSR for {_subject(p['subject'])} signed by {p['key']!r}; write {p['output']}."
    if step.action == "sign-certificate":
        return (f"Issue a certificate from {p['csr']} with {p['issuer_key']!r} (issuer {p['issuer_certificate']}), "
                f"valid {_valid(p)}, CA={p['ca']}, path length {p['path_length']}{_extras(p)}; write {p['output']}.")
    if step.action == "sign-crl":
        return (f"Sign CRL number {p['crl_number']} with {p['issuer_key']!r} revoking {len(p['revoked'])} "
                f"serial(s), next update {stamp(p['next_update'])}; write {p['output']}.")
    if step.action in ("backup-key", "restore-key"):
        from .backup_steps import describe

        return describe(step)
    return "Show the SHA-256 of every output so far, for the paper log" + (
        f"; write {p['output']}." if p.get("output") else ".")


def _subject(fields: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in fields.items()) or "(empty subject)"


def _valid(p: dict) -> str:
    if p["not_before"] is None:
        return f"from the signing time to {stamp(p['not_after'])}"
    return f"{stamp(p['not_before'])} to {stamp(p['not_after'])}"


def _extras(p: dict) -> str:
    """The optional parts of a certificate profile, when the script gives them."""
    text = f", profile {p['profile']}" if p.get("profile") else ""
    if p.get("extended_key_usage"):
        text += f", extended key usage {', '.join(p['extended_key_usage'])}"
    if p.get("allow_backdating"):
        text += f", backdating allowed ({p['allow_backdating']})"
    return text
