"""The argparse tree of ``kms-tui <noun> <verb>``."""

from __future__ import annotations

import argparse

from engines import ENGINE_TYPES

from . import arg_types as T
from . import engine_cmds as E
from . import key_cmds as K
from . import misc_cmds as M

SIGNING = (
    "RSASSA_PKCS1_V1_5_SHA_256|384|512, RSASSA_PSS_SHA_256|384|512, ECDSA_SHA_256|384|512, ED25519"
)


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _secret(p: argparse.ArgumentParser, what: str = "the engine's secret") -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--secret-stdin", action="store_true", help=f"read {what} from the first line of stdin")
    g.add_argument("--secret-file", metavar="FILE", help=f"read {what} from a file")


def _message(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algorithm", required=True, metavar="ALG", help=SIGNING)
    p.add_argument("--message-type", default="raw", choices=("raw", "digest"), type=str.lower,
                   help="raw: the message is hashed here; digest: it is the hash (length checked)")
    p.add_argument("--in", dest="infile", metavar="FILE|-", help="message or digest (default: stdin)")
    p.add_argument("--input-encoding", default="raw", choices=("raw", "hex", "base64"),
                   help="how the message or digest is written (default raw bytes; hex for --batch)")


class Parser(argparse.ArgumentParser):
    """No abbreviated options: a script's `--secret` must not silently mean `--secret-stdin`."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="kms-tui",
        description="Key-management workstation: engines, keys, signing, sync, stats and audit.",
    )
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default: $KMS_TUI_DATA_DIR or $XDG_DATA_HOME/kms-tui)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    nouns = parser.add_subparsers(dest="noun", metavar="NOUN")

    # engines
    eng = nouns.add_parser("engines", help="crypto engines").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = eng.add_parser("list", help="list engines"); _json(p); p.set_defaults(handler=E.list_engines)
    p = eng.add_parser("types", help="engine types and their options"); _json(p); p.set_defaults(handler=E.types)
    p = eng.add_parser("show", help="one engine's details"); p.add_argument("id"); _json(p); p.set_defaults(handler=E.show)
    p = eng.add_parser("test", help="test the connection"); p.add_argument("id"); _json(p); p.set_defaults(handler=E.test)
    p = eng.add_parser("default", help="make an engine the default"); p.add_argument("id"); p.set_defaults(handler=E.default)
    p = eng.add_parser("remove", help="unregister an engine (its keys stay in the backend)")
    p.add_argument("id"); p.add_argument("--force", action="store_true", help="also forget its key records")
    p.set_defaults(handler=E.remove)
    p = eng.add_parser("add", help="register an engine")
    p.add_argument("type", type=str.upper, choices=list(ENGINE_TYPES), metavar="TYPE", help=", ".join(ENGINE_TYPES))
    p.add_argument("--id", required=True, help="engine id, e.g. pkcs11-prod-hsm")
    p.add_argument("--name", help="display name")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="non-secret option (repeatable)")
    p.add_argument("--default", action="store_true", help="make it the default engine")
    p.add_argument("--no-check", action="store_true", help="record it without testing the connection")
    _secret(p); _json(p); p.set_defaults(handler=E.add)
    p = eng.add_parser("discover", help="what a backend offers for registration (e.g. PKCS#11 tokens)")
    p.add_argument("type", type=str.upper, choices=list(ENGINE_TYPES), metavar="TYPE")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    _json(p); p.set_defaults(handler=E.discover)
    p = eng.add_parser("secret", help="set or replace an engine's secret (checked against the engine first)")
    p.add_argument("id"); _secret(p)
    p.add_argument("--reveal", action="store_true",
                   help="show the stored secret on this terminal, to back it up (typed confirmation, audited)")
    p.set_defaults(handler=E.secret)
    p = eng.add_parser("rekey", help="re-encrypt a software engine's key files under a new passphrase (crash-safe)")
    p.add_argument("id"); _secret(p, "the new passphrase"); _json(p); p.set_defaults(handler=E.rekey)

    # keys
    keys = nouns.add_parser("keys", help="keys").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = keys.add_parser("list", help="list keys")
    p.add_argument("--engine"); p.add_argument("--algorithm"); p.add_argument("--size", type=T.key_size)
    p.add_argument("--strength", type=str.upper, choices=("HIGH", "MEDIUM", "LOW"))
    p.add_argument("--filter", metavar="TEXT", help="name, alias or tag text, or key id prefix")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--private", dest="has_private", action="store_const", const=True)
    g.add_argument("--public-only", dest="has_private", action="store_const", const=False)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--bound", dest="bound", action="store_const", const=True)
    g.add_argument("--unbound", dest="bound", action="store_const", const=False)
    p.add_argument("--missing", action="store_true", help="only keys flagged missing by sync")
    p.add_argument("--sort", default="name", choices=("name", "key_id", "engine_id", "algorithm", "size", "strength", "creation_ts"))
    p.add_argument("--desc", action="store_true"); p.add_argument("--limit", type=T.count)
    _json(p); p.set_defaults(handler=K.list_keys)
    p = keys.add_parser("show", help="one key"); p.add_argument("ref", metavar="REF"); _json(p); p.set_defaults(handler=K.show)
    p = keys.add_parser("create", help="generate a key in an engine")
    p.add_argument("--algorithm", required=True, help="RSA, ECDSA or Ed25519")
    p.add_argument("--size", required=True, type=T.key_size, help="RSA 2048/3072/4096; ECDSA 224/256/384/521; Ed25519 256")
    p.add_argument("--name", required=True); p.add_argument("--engine")
    p.add_argument("--alias", action="append", default=[]); p.add_argument("--tag", action="append", default=[])
    p.add_argument("--metadata", metavar="JSON", type=T.json_object, help="free metadata as a JSON object")
    _json(p); p.set_defaults(handler=K.create)
    p = keys.add_parser("import", help="import a key (PEM, DER, OpenSSH, JWK)")
    p.add_argument("file", metavar="FILE|-"); p.add_argument("--name", required=True); p.add_argument("--engine")
    p.add_argument("--passphrase-stdin", action="store_true", help="read the key's passphrase from stdin")
    p.add_argument("--alias", action="append", default=[]); p.add_argument("--tag", action="append", default=[])
    p.add_argument("--metadata", metavar="JSON", type=T.json_object)
    _json(p); p.set_defaults(handler=K.import_key)
    p = keys.add_parser("export-public", help="export the public key")
    p.add_argument("ref", metavar="REF"); p.add_argument("--format", default="pem", choices=("pem", "der", "jwk", "ssh"))
    p.add_argument("--out", metavar="FILE"); p.set_defaults(handler=K.export_public)
    p = keys.add_parser("sign", help="sign a message or digest")
    p.add_argument("ref", metavar="REF"); _message(p)
    p.add_argument("--encoding", default="base64", choices=("base64", "hex", "raw"), help="signature output encoding")
    p.add_argument("--batch", metavar="FILE|-",
                   help="sign many: one hex/base64 message or digest per line, or JSON lines "
                        '{"id": ..., "hex"|"base64": ...}; writes one JSON result per line')
    p.add_argument("--out", metavar="FILE"); _json(p); p.set_defaults(handler=K.sign)
    p = keys.add_parser("verify", help="verify a signature (exit 0 valid, 1 invalid)")
    p.add_argument("ref", metavar="REF"); _message(p)
    p.add_argument("--signature", required=True, metavar="FILE")
    p.add_argument("--encoding", default="base64", choices=("base64", "hex", "raw"), help="signature file encoding")
    p.add_argument("--engine-verify", action="store_true", help="verify through the engine instead of offline")
    _json(p); p.set_defaults(handler=K.verify)
    p = keys.add_parser("delete", help="delete a key from its engine and the metadata")
    p.add_argument("ref", metavar="REF"); p.add_argument("--force", action="store_true", help="even when bound")
    p.add_argument("--yes", action="store_true", help="no typed confirmation")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="engine delete option, e.g. pending_window_days=7 (software trash, AWS KMS)")
    _json(p); p.set_defaults(handler=K.delete)
    p = keys.add_parser("action", help="an engine-specific key action (cancel-deletion, restore, purge, destroy)")
    p.add_argument("ref", metavar="REF"); p.add_argument("action", nargs="?", help="omit to list the key's actions")
    p.add_argument("--confirm", metavar="NAME|KEY-ID-PREFIX",
                   help="purge/destroy: the key's name or key id prefix (8+ characters), instead of a typed prompt")
    p.add_argument("--yes", action="store_true", help=argparse.SUPPRESS)  # never confirms a destruction
    _json(p); p.set_defaults(handler=K.action)
    from . import deletion_cmds as D
    p = keys.add_parser("purge-expired", help="destroy the keys whose pending deletion window has ended")
    p.add_argument("--engine", metavar="ID", help="only this engine (default: every engine with a trash)")
    p.add_argument("--dry-run", action="store_true", help="list them, change nothing")
    _json(p); p.set_defaults(handler=D.purge_expired)
    p = keys.add_parser("rename", help="rename a key"); p.add_argument("ref", metavar="REF"); p.add_argument("new_name")
    _json(p); p.set_defaults(handler=K.rename)
    p = keys.add_parser("metadata", help="replace a key's free metadata (bindings are kept)")
    p.add_argument("ref", metavar="REF"); p.add_argument("--set", required=True, metavar="JSON", type=T.json_object)
    _json(p); p.set_defaults(handler=K.metadata)
    for noun, (add, remove) in {"alias": (K.alias_add, K.alias_remove), "tag": (K.tag_add, K.tag_remove)}.items():
        sub = keys.add_parser(noun, help=f"add or remove a {noun}").add_subparsers(dest="action", metavar="ACTION", required=True)
        for verb, handler in (("add", add), ("remove", remove)):
            p = sub.add_parser(verb); p.add_argument("ref", metavar="REF"); p.add_argument("value", metavar=noun.upper())
            _json(p); p.set_defaults(handler=handler)
    for verb, handler in (("bind", K.bind), ("unbind", K.unbind)):
        p = keys.add_parser(verb, help=f"{verb} a resource (e.g. a certificate or CA)")
        p.add_argument("ref", metavar="REF"); p.add_argument("--type", required=True, dest="resource_type")
        p.add_argument("--id", required=True, dest="resource_id"); _json(p); p.set_defaults(handler=handler)

    # sync, stats, audit
    p = nouns.add_parser("sync", help="reconcile metadata with what engines hold")
    p.add_argument("engine", nargs="?")
    p.add_argument("--full", action="store_true",
                   help="read every key again, not only new ones (states changed outside kms-tui)")
    _json(p); p.set_defaults(handler=M.sync)
    p = nouns.add_parser("stats", help="key counts"); _json(p); p.set_defaults(handler=M.stats)
    aud = nouns.add_parser("audit", help="the hash-chained audit log").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = aud.add_parser("list", help="recent audit rows")
    p.add_argument("--limit", type=T.count, default=50); p.add_argument("--key", metavar="REF"); p.add_argument("--action")
    _json(p); p.set_defaults(handler=M.audit_list)
    p = aud.add_parser("verify", help="check the hash chain (exit 1 when broken)"); _json(p); p.set_defaults(handler=M.audit_verify)
    from .doctor_cmds import doctor
    p = nouns.add_parser("doctor", help="check permissions, database, audit chain, keyring, engines (exit 1 on findings)")
    p.add_argument("--repair", action="store_true", help="fix what can be fixed without deleting key material")
    p.add_argument("--deep", action="store_true",
                   help="also have every reachable engine prove that each key's material is the recorded key")
    _json(p); p.set_defaults(handler=doctor)

    # key ceremonies
    from . import ceremony_cmds as C
    cer = nouns.add_parser("ceremony", help="scripted, rehearsed, witnessed key ceremonies").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = cer.add_parser("validate", help="check a ceremony script and print its plan"); p.add_argument("script", metavar="SCRIPT"); _json(p); p.set_defaults(handler=C.validate)
    p = cer.add_parser("rehearse", help="run a script end to end on a scratch token or software engine")
    p.add_argument("script", metavar="SCRIPT"); p.add_argument("--output-dir", metavar="DIR", help="where the rehearsal writes (default: next to the script's output directory)")
    p.set_defaults(handler=C.rehearse)
    p = cer.add_parser("run", help="run a ceremony for real, step by step, with witnesses")
    p.add_argument("script", metavar="SCRIPT"); p.add_argument("--answers", metavar="FILE|-", help="read the answers from a file (see the README)")
    p.add_argument("--pin-stdin", action="store_true", help="read the engine's PIN from the first line of stdin"); p.set_defaults(handler=C.run)
    p = cer.add_parser("verify", help="re-check a transcript's hash chain and output hashes (exit 1 when broken)")
    p.add_argument("transcript", metavar="TRANSCRIPT"); p.add_argument("output_dir", metavar="OUTPUT_DIR"); _json(p); p.set_defaults(handler=C.verify_cmd)
    return parser
