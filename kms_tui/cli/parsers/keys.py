"""``kms-tui keys …``: list, make, sign, verify, delete and label keys."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

from .. import arg_types as T
from .options import (
    HandlerRef,
    Verbs,
    add_json,
    add_message,
    add_noun,
    add_options,
    add_ref,
    add_verb,
    add_verbs,
)

SORTS = ("name", "key_id", "engine_id", "algorithm", "size", "strength", "creation_ts")


def add_keys(nouns: Verbs) -> None:
    add_noun(nouns, "keys", "keys", _keys)


def _keys(p: argparse.ArgumentParser, verb: str | None) -> None:
    add_verbs(p, VERBS, verb)


def _ref_verb(verbs: Verbs, name: str, handler: HandlerRef, help: str | None = None) -> argparse.ArgumentParser:
    p = add_verb(verbs, name, handler, help)
    add_ref(p)
    return p


def _either(p: argparse.ArgumentParser, dest: str, yes: str, no: str, yes_help: str, no_help: str) -> None:
    """Two exclusive flags: ``yes`` sets ``dest`` True, ``no`` False; neither leaves it None."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(yes, dest=dest, action="store_const", const=True, help=f"only {yes_help}")
    g.add_argument(no, dest=dest, action="store_const", const=False, help=f"only {no_help}")


def add_lamassu_output(p: argparse.ArgumentParser, document: str) -> None:
    """``--output lamassu``: the JSON document Lamassu's KMS API returns (exclusive with --json)."""
    p.add_argument("--output", choices=("lamassu",),
                   help=f"lamassu: exactly the JSON of Lamassu's KMS API {document}")


def _show(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "show", "key_cmds:show", "one key")
    add_json(p)
    add_lamassu_output(p, "GET /api/kms/v1/keys/{id}")


def _list(verbs: Verbs) -> None:
    p = add_verb(verbs, "list", "key_cmds:list_keys", "list keys")
    p.add_argument("--engine", metavar="ID", help="only this engine's keys")
    p.add_argument("--algorithm", help="only this algorithm: RSA, ECDSA, Ed25519 or ML-DSA")
    p.add_argument("--size", type=T.key_size,
                   help="only keys of this size in bits (ECDSA: 256 for P-256; ML-DSA: its parameter set, 65)")
    p.add_argument("--strength", type=str.upper, choices=("HIGH", "MEDIUM", "LOW"), help="only this strength class")
    p.add_argument("--filter", metavar="TEXT", help="name, alias or tag text, or key id prefix")
    _either(p, "has_private", "--private", "--public-only", "keys with a private part", "public-only keys")
    _either(p, "bound", "--bound", "--unbound", "keys bound to a resource", "keys bound to nothing")
    p.add_argument("--missing", action="store_true", help="only keys flagged missing by sync")
    p.add_argument("--sort", default="name", choices=SORTS, help="the column to sort by (default: name)")
    p.add_argument("--desc", action="store_true", help="sort in descending order")
    p.add_argument("--limit", type=T.count, help="at most this many keys")
    add_json(p)
    p.add_argument("--jsonl", action="store_true", help="JSON lines: one key object per line, written as read")
    add_lamassu_output(p, 'GET /api/kms/v1/keys: {"next": BOOKMARK, "list": [...]}; next is "" unless --limit '
                          "cut the list")
    p.add_argument("--bookmark", metavar="NEXT",
                   help='resume where a listing with --limit stopped: its "next" (same filters and sort)')


def _labels(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alias", action="append", default=[], help="another name for the key (repeatable)")
    p.add_argument("--tag", action="append", default=[], help="a tag to group keys by (repeatable)")


def _create(verbs: Verbs) -> None:
    p = add_verb(verbs, "create", "key_cmds:create", "generate a key in an engine")
    p.add_argument("--algorithm", required=True, help="RSA, ECDSA, Ed25519 or ML-DSA")
    p.add_argument("--size", type=T.key_size,
                   help="RSA 2048/3072/4096; ECDSA 224/256/384/521; Ed25519 256 (its only size, the default); "
                        "ML-DSA 44/65/87 (its parameter set)")
    p.add_argument("--name", required=True, help="the key's name, unique")
    p.add_argument("--engine", metavar="ID", help="the engine that generates it (default: the default engine)")
    p.add_argument("--backup", metavar="M-of-N",
                   help="the key may be backed up, wrapped, to N custodians of whom M restore it (e.g. 3-of-5)")
    _labels(p)
    p.add_argument("--metadata", metavar="JSON", type=T.json_object, help="free metadata as a JSON object")
    add_json(p)


def _backup(verbs: Verbs) -> None:
    p = add_verb(verbs, "backup", "backup_cmds:backup",
                 "back up keys made with --backup, wrapped, under M-of-N SLIP-39 shares for custodians")
    p.add_argument("refs", nargs="+", metavar="REF", help="the keys: name, alias, key id or prefix")
    p.add_argument("--custodians", type=T.whole(1, 16), required=True, metavar="N", help="how many custodians get a share")
    p.add_argument("--threshold", type=T.whole(1, 16), required=True, metavar="M",
                   help="how many shares restore the keys")
    p.add_argument("--out", required=True, metavar="FILE", help="the new backup file (never overwritten)")
    p.add_argument("--so-pin-stdin", action="store_true",
                   help="read the security officer's PIN from stdin (PKCS#11; default: asked on the terminal)")
    add_json(p)


def _restore(verbs: Verbs) -> None:
    p = add_verb(verbs, "restore", "backup_cmds:restore", "restore the keys of a backup file from M custodians' shares")
    p.add_argument("file", metavar="FILE", help="the backup file")
    p.add_argument("--engine", required=True, metavar="ID", help="the engine that takes the keys in")
    p.add_argument("--name", action="append", metavar="NEW|ORIGINAL=NEW",
                   help="the restored key's name, required while the original's is taken (repeatable: ORIGINAL=NEW)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--shares-from-tty", action="store_true", help="type the shares on the terminal (the default)")
    g.add_argument("--shares-stdin", action="store_true", help="read the shares from stdin, one per line")
    p.add_argument("--confirm-lower-level", action="store_true",
                   help="restore into an engine of a lower security level than the source's without asking")
    add_json(p)


def _import(verbs: Verbs) -> None:
    p = add_verb(verbs, "import", "key_cmds:import_key", "import a key (PEM, DER, OpenSSH, JWK)")
    p.add_argument("file", metavar="FILE|-", help="the key file, or - for stdin")
    p.add_argument("--name", required=True, help="the key's name, unique")
    p.add_argument("--engine", metavar="ID", help="the engine that keeps it (default: the default engine)")
    p.add_argument("--passphrase-stdin", action="store_true", help="read the key's passphrase from stdin")
    p.add_argument("--backup", metavar="M-of-N",
                   help="AWS KMS: first back the key up (escrow) to N custodians of whom M restore it (e.g. 3-of-5)")
    p.add_argument("--backup-out", metavar="FILE", help="with --backup: the new backup file (never overwritten)")
    _labels(p)
    p.add_argument("--metadata", metavar="JSON", type=T.json_object, help="free metadata as a JSON object")
    add_json(p)


def _export_public(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "export-public", "key_cmds:export_public", "export the public key")
    p.add_argument("--format", default="pem", choices=("pem", "der", "jwk", "ssh"), help="the output format (default: pem)")
    p.add_argument("--out", metavar="FILE", help="write to a new file (default: stdout)")


def _sign(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "sign", "key_cmds:sign", "sign a message or digest")
    add_message(p)
    p.add_argument("--encoding", default="base64", choices=("base64", "hex", "raw"), help="signature output encoding")
    p.add_argument("--batch", metavar="FILE|-",
                   help="sign many: one hex/base64 message or digest per line, or JSON lines "
                        '{"id": ..., "hex"|"base64": ...}; writes one JSON result per line')
    p.add_argument("--out", metavar="FILE", help="write the signature to a new file (default: stdout)")
    p.add_argument("--allow-retired", action="store_true", help="sign even with a retired (rotated) key")
    p.add_argument("--threads", type=T.whole(1, 8), metavar="N",
                   help="with --batch: threads to sign on where the engine allows it (a key in memory; "
                        "default: one per core; a PKCS#11 token signs on one session)")
    add_json(p)


def _rotate(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "rotate", "rotate_cmds:rotate",
                  "make a successor key, move every alias to it and retire this one")
    p.add_argument("--engine", metavar="ID", help="the successor's engine (default: the key's)")
    p.add_argument("--algorithm", help="the successor's algorithm (default: the key's)")
    p.add_argument("--size", type=T.key_size, help="the successor's size (default: the key's)")
    p.add_argument("--name", help="the successor's name (default: NAME-v2, or -vN+1, the first free)")
    p.add_argument("--move-bindings", action="store_true",
                   help="move the key's bindings to the successor too, certificates excepted (default: listed, left in place)")
    add_json(p)


def _csr(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "csr", "key_cmds:csr", "a PKCS#10 certificate signing request signed by the key's engine")
    p.add_argument("--subject", required=True,
                   help="/C=ES/O=Example/CN=name (encoded in this order; \\/ escapes a slash) or RFC 4514 "
                        "CN=name,O=Example,C=ES (read in reverse, so both give the same name)")
    p.add_argument("--san", action="append", default=[], metavar="TYPE:VALUE",
                   help="a subject alternative name: dns:NAME, ip:ADDRESS, email:ADDRESS or uri:URI (repeatable)")
    p.add_argument("--profile", metavar="NAME",
                   help="request the extensions of this certificate profile (root-ca, sub-ca, tls-server, "
                        "tls-client, code-signing, ocsp)")
    p.add_argument("--format", default="pem", choices=("pem", "der"), help="the CSR's encoding (default: pem)")
    p.add_argument("--out", required=True, metavar="FILE", help="the new file to write (never overwritten)")
    add_json(p)


def _certificate_options(p: argparse.ArgumentParser) -> None:
    """What ``keys certificate`` and ``keys issue`` share: profile, days, EKU, format, output."""
    p.add_argument("--profile", required=True, metavar="NAME",
                   help="the certificate profile: root-ca, sub-ca, tls-server, tls-client, code-signing, ocsp")
    p.add_argument("--days", type=T.whole(1, 36_500), metavar="N",
                   help="validity in days (default: the profile's; at most its maximum)")
    p.add_argument("--eku", action="append", default=[], metavar="NAME",
                   help="extended key usage instead of the profile's: serverAuth, clientAuth, codeSigning, "
                        "emailProtection, timeStamping, OCSPSigning (repeatable)")
    p.add_argument("--format", default="pem", choices=("pem", "der"), help="the certificate's encoding (default: pem)")
    p.add_argument("--out", required=True, metavar="FILE", help="the new file to write (never overwritten)")
    add_json(p)


def _certificate(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "certificate", "cert_cmds:certificate",
                  "a self-signed certificate of the key, from a profile, linted by pkilint")
    p.add_argument("--self-signed", action="store_true", help="required: the key signs its own certificate")
    p.add_argument("--subject", required=True,
                   help="/C=ES/O=Example/CN=name (encoded in this order) or RFC 4514 CN=name,O=Example,C=ES")
    p.add_argument("--san", action="append", default=[], metavar="TYPE:VALUE",
                   help="a subject alternative name: dns:NAME, ip:ADDRESS, email:ADDRESS or uri:URI (repeatable)")
    _certificate_options(p)


def _issue(verbs: Verbs) -> None:
    p = add_verb(verbs, "issue", "cert_cmds:issue",
                 "a certificate for a CSR, signed by a CA key, from a profile, linted by pkilint")
    p.add_argument("--ca", required=True, metavar="REF", help="the CA key: name, alias, key id or prefix")
    p.add_argument("--ca-cert", required=True, metavar="FILE", help="the CA key's certificate (PEM or DER)")
    p.add_argument("--csr", required=True, metavar="FILE", help="the request (PEM or DER); subject and SANs come from it")
    _certificate_options(p)


def _verify(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "verify", "key_cmds:verify", "verify a signature (exit 0 valid, 1 invalid)")
    add_message(p)
    p.add_argument("--signature", required=True, metavar="FILE", help="the file holding the signature")
    p.add_argument("--encoding", default="base64", choices=("base64", "hex", "raw"), help="signature file encoding")
    p.add_argument("--engine-verify", action="store_true", help="verify through the engine instead of offline")
    add_json(p)


def _delete(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "delete", "key_cmds:delete", "delete a key from its engine and the metadata")
    p.add_argument("--force", action="store_true", help="even when bound")
    p.add_argument("--yes", action="store_true", help="no typed confirmation")
    add_options(p, "engine delete option, e.g. pending_window_days=7 (software trash, AWS KMS)")
    add_json(p)


def _action(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "action", "key_cmds:action", "an engine-specific key action (cancel-deletion, restore, purge, destroy)")
    p.add_argument("action", nargs="?", help="omit to list the key's actions")
    p.add_argument("--confirm", metavar="NAME|KEY-ID-PREFIX",
                   help="purge/destroy: the key's name or key id prefix (8+ characters), instead of a typed prompt")
    p.add_argument("--yes", action="store_true", help=argparse.SUPPRESS)  # never confirms a destruction
    add_json(p)


def _purge_expired(verbs: Verbs) -> None:
    p = add_verb(verbs, "purge-expired", "deletion_cmds:purge_expired", "destroy the keys whose pending deletion window has ended")
    p.add_argument("--engine", metavar="ID", help="only this engine (default: every engine with a trash)")
    p.add_argument("--dry-run", action="store_true", help="list them, change nothing")
    add_json(p)


def _rename(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "rename", "key_cmds:rename", "rename a key")
    p.add_argument("new_name", help="the key's new name, unique")
    add_json(p)


def _metadata(verbs: Verbs) -> None:
    p = _ref_verb(verbs, "metadata", "key_cmds:metadata", "replace a key's free metadata (bindings are kept)")
    p.add_argument("--set", required=True, metavar="JSON", type=T.json_object, help="the new metadata, a JSON object")
    add_json(p)


def _labels_of(noun: str, verbs: Verbs) -> None:
    """``keys alias add|remove REF ALIAS`` or ``keys tag add|remove REF TAG``."""
    sub = verbs.add_parser(noun, help=f"add or remove a {noun}")
    actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
    for verb in ("add", "remove"):
        p = _ref_verb(actions, verb, f"key_cmds:{noun}_{verb}")
        p.add_argument("value", metavar=noun.upper(), help=f"the {noun} to {verb}")
        add_json(p)


def _binding(verb: str, verbs: Verbs) -> None:
    p = _ref_verb(verbs, verb, f"key_cmds:{verb}", f"{verb} a resource (e.g. a certificate or CA)")
    p.add_argument("--type", required=True, dest="resource_type", help="the resource's type, e.g. certificate or ca")
    p.add_argument("--id", required=True, dest="resource_id", help="the resource's id, e.g. a serial number")
    add_json(p)


# Each verb's part of the tree, in --help order; a command builds its own verb's only.
VERBS: dict[str, Callable[[Verbs], None]] = {
    "list": _list, "show": _show, "create": _create, "import": _import, "export-public": _export_public,
    "sign": _sign, "csr": _csr, "certificate": _certificate, "issue": _issue, "verify": _verify,
    "delete": _delete, "action": _action, "purge-expired": _purge_expired,
    "rotate": _rotate, "backup": _backup, "restore": _restore,
    "rename": _rename, "metadata": _metadata, "alias": functools.partial(_labels_of, "alias"),
    "tag": functools.partial(_labels_of, "tag"), "bind": functools.partial(_binding, "bind"),
    "unbind": functools.partial(_binding, "unbind"),
}
