"""``kms-tui engines …``: list, register, test, re-key and remove crypto engines."""

from __future__ import annotations

import argparse

from ...service.types import EngineTypeNames
from .options import HandlerRef, Verbs, add_json, add_noun, add_options, add_secret, add_verb


def add_engines(nouns: Verbs) -> None:
    add_noun(nouns, "engines", "crypto engines", _engines)


def _engines(p: argparse.ArgumentParser, verb: str | None) -> None:
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    _inspect(verbs)
    _manage(verbs)
    _register(verbs)
    _secrets(verbs)


def _by_id(verbs: Verbs, name: str, handler: HandlerRef, help: str, *, json: bool = True) -> argparse.ArgumentParser:
    p = add_verb(verbs, name, handler, help)
    p.add_argument("id", help="the engine's id (see engines list)")
    if json:
        add_json(p)
    return p


def _inspect(verbs: Verbs) -> None:
    add_json(add_verb(verbs, "list", "engine_cmds:list_engines", "list engines"))
    add_json(add_verb(verbs, "types", "engine_cmds:types", "engine types and their options"))
    _by_id(verbs, "show", "engine_cmds:show", "one engine's details")
    _by_id(verbs, "test", "engine_cmds:test", "test the connection")


def _manage(verbs: Verbs) -> None:
    _by_id(verbs, "default", "engine_cmds:default", "make an engine the default", json=False)
    p = _by_id(verbs, "remove", "engine_cmds:remove", "unregister an engine (its keys stay in the backend)", json=False)
    p.add_argument("--force", action="store_true", help="also forget its key records")


def _engine_type(p: argparse.ArgumentParser) -> None:
    help = "the engine type: " + ", ".join(EngineTypeNames())
    p.add_argument("type", type=str.upper, choices=EngineTypeNames(), metavar="TYPE", help=help)


def _register(verbs: Verbs) -> None:
    p = add_verb(verbs, "add", "engine_cmds:add", "register an engine")
    _engine_type(p)
    p.add_argument("--id", required=True, help="engine id, e.g. pkcs11-prod-hsm")
    p.add_argument("--name", help="display name")
    add_options(p, "non-secret option (repeatable); lamassu=true marks an engine shared with Lamassu "
                "(see engines types)")
    p.add_argument("--default", action="store_true", help="make it the default engine")
    p.add_argument("--no-check", action="store_true", help="record it without testing the connection")
    add_secret(p)
    add_json(p)
    p = add_verb(verbs, "discover", "engine_cmds:discover", "what a backend offers for registration (e.g. PKCS#11 tokens)")
    _engine_type(p)
    add_options(p, "an option known so far, e.g. module=/usr/lib/softhsm/libsofthsm2.so (repeatable)")
    add_json(p)


def _secrets(verbs: Verbs) -> None:
    p = _by_id(verbs, "secret", "engine_cmds:secret", "set or replace an engine's secret (checked against the engine first)",
               json=False)
    add_secret(p)
    p.add_argument("--reveal", action="store_true",
                   help="show the stored secret on this terminal, to back it up (typed confirmation, audited)")
    p = _by_id(verbs, "rekey", "engine_cmds:rekey", "re-encrypt a software engine's key files under a new passphrase (crash-safe)",
               json=False)
    add_secret(p, "the new passphrase")
    add_json(p)
