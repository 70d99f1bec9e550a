"""``kms-tui certs …``: certificates bound to keys — add, show, export, remove, list."""

from __future__ import annotations

import argparse
import re

from .options import Verbs, add_json, add_noun, add_verb, add_verbs

_DAYS = re.compile(r"([0-9]{1,5})d?")
MAX_DAYS = 36_500


def days(text: str) -> int:
    """An argparse type: a number of days, ``30`` or ``30d``."""
    found = _DAYS.fullmatch(text.strip().lower())
    if found is None or int(found.group(1)) > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be a number of days such as 30d (at most {MAX_DAYS}), "
                                         f"not {text[:40]!r}")
    return int(found.group(1))


days.__name__ = "number of days"  # argparse names the type in its own messages


def add_certs(nouns: Verbs) -> None:
    add_noun(nouns, "certs", "certificates bound to keys (on PKCS#11 tokens also next to the key)", _certs)


def _certs(p: argparse.ArgumentParser, verb: str | None) -> None:
    add_verbs(p, VERBS, verb)


def _fingerprint(p: argparse.ArgumentParser) -> None:
    p.add_argument("fingerprint", metavar="FP", help="SHA-256 fingerprint of the certificate (or a unique prefix "
                                                     "of 8+ hex digits)")


def _add(verbs: Verbs) -> None:
    p = add_verb(verbs, "add", "cert_bind_cmds:add", "record certificates (PEM or DER, one or a bundle), each bound "
                                                     "to the key it certifies")
    p.add_argument("files", nargs="+", metavar="FILE", help="certificate file(s)")
    p.add_argument("--key", metavar="REF", help="the key to bind to, when several records hold its public key")
    add_json(p)


def _show(verbs: Verbs) -> None:
    p = add_verb(verbs, "show", "cert_bind_cmds:show", "one certificate: subject, issuer, validity, key, chain")
    _fingerprint(p)
    add_json(p)


def _export(verbs: Verbs) -> None:
    p = add_verb(verbs, "export", "cert_bind_cmds:export", "the certificate and its recorded issuers as one PEM "
                                                           "bundle")
    _fingerprint(p)
    p.add_argument("--no-chain", dest="chain", action="store_false", help="the certificate alone")
    p.add_argument("--out", required=True, metavar="FILE", help="the new file to write (never overwritten)")


def _remove(verbs: Verbs) -> None:
    p = add_verb(verbs, "remove", "cert_bind_cmds:remove", "forget a certificate and unbind it (on a PKCS#11 token "
                                                           "also remove it from there)")
    _fingerprint(p)
    add_json(p)


def _list(verbs: Verbs) -> None:
    p = add_verb(verbs, "list", "cert_bind_cmds:list_certs", "recorded certificates, soonest to expire first")
    p.add_argument("--expiring", type=days, metavar="DAYS",
                   help="only those ending within this many days, expired ones included (e.g. 30d)")
    p.add_argument("--key", metavar="REF", help="only this key's")
    add_json(p)


VERBS = {"add": _add, "show": _show, "export": _export, "remove": _remove, "list": _list}
