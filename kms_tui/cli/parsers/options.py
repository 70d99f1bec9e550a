"""Options and verbs several nouns share: --json, a secret's source, a message to sign or verify."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

SIGNING = (
    "RSASSA_PKCS1_V1_5_SHA_256|384|512, RSASSA_PSS_SHA_256|384|512, ECDSA_SHA_256|384|512, ED25519, "
    "ML_DSA_SHAKE_256"
)

Verbs = Any  # what add_subparsers returns (argparse._SubParsersAction)
Handler = Callable[..., int]
HandlerRef = str  # "module:function" of kms_tui.cli, imported only when its verb is parsed


def resolve_handler(ref: HandlerRef | Handler) -> Handler:
    """The function a handler reference names (a function is its own reference)."""
    if not isinstance(ref, str):
        return ref
    import importlib

    module, _, name = ref.partition(":")
    handler: Handler = getattr(importlib.import_module(f"kms_tui.cli.{module}"), name)
    return handler


def add_verb(verbs: Verbs, name: str, handler: HandlerRef, help: str | None = None) -> argparse.ArgumentParser:
    """A verb's parser, run by the function ``handler`` names; listed under its noun only when it has a help
    text. Building the parser imports no handler module: the parsed verb's alone is imported."""
    parser: argparse.ArgumentParser = verbs.add_parser(name) if help is None else verbs.add_parser(name, help=help)
    parser.set_defaults(handler=handler)
    return parser


Fill = Callable[[argparse.ArgumentParser, "str | None"], None]  # (the noun's parser, the verb being parsed)


def add_noun(nouns: Verbs, name: str, help: str, fill: Fill) -> None:
    """A noun listed in ``kms-tui --help``; ``fill`` adds its verbs or arguments when the noun is first used
    (parsed, or its help shown), so a command builds only its own noun's part of the tree."""
    nouns.add_parser(name, help=help, fill=fill)


def add_verbs(p: argparse.ArgumentParser, verbs: Mapping[str, Callable[[Verbs], None]], verb: str | None) -> None:
    """A noun's verbs, each added by its function in ``verbs``: only ``verb``'s when it is one of them (the
    command being parsed), every one otherwise (the noun's help, or an error naming them all)."""
    subparsers = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name in [verb] if verb in verbs else verbs:
        verbs[name](subparsers)


def leaf(p: argparse.ArgumentParser, handler: HandlerRef) -> argparse.ArgumentParser:
    """A noun that is itself the command (no verbs), run by the function ``handler`` names."""
    p.set_defaults(handler=handler)
    return p


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def add_secret(p: argparse.ArgumentParser, what: str = "the engine's secret") -> None:
    """Where a secret comes from: stdin or a file (a prompt without either), never argv."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--secret-stdin", action="store_true", help=f"read {what} from the first line of stdin")
    g.add_argument("--secret-file", metavar="FILE", help=f"read {what} from a file")


def add_message(p: argparse.ArgumentParser) -> None:
    """The signing algorithm and the message or digest, for sign and verify."""
    p.add_argument("--algorithm", required=True, metavar="ALG", help=SIGNING)
    p.add_argument("--message-type", default="raw", choices=("raw", "digest", "external-mu"), type=str.lower,
                   help="raw: the message is hashed here; digest: it is the hash (length checked); external-mu "
                        "(ML-DSA): the message is read in chunks and hashed here to its 64-byte mu, which is signed")
    p.add_argument("--in", dest="infile", metavar="FILE|-", help="message or digest (default: stdin)")
    p.add_argument("--input-encoding", default="raw", choices=("raw", "hex", "base64"),
                   help="how the message or digest is written (default raw bytes; hex for --batch)")


def add_ref(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="REF", help="the key: its name, an alias, or its key id (or a prefix of 8+ hex)")


def add_options(p: argparse.ArgumentParser, help: str = "an engine option (repeatable)") -> None:
    """Repeatable ``--option KEY=VALUE``."""
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help=help)
