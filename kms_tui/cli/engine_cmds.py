"""``kms-tui engines …`` handlers."""

from __future__ import annotations

import sys

from ..service.errors import Cancelled, InvalidInput
from .io import emit_json, read_secret_arg, safe_text, table

_LAMASSU = {True: "shared: only what Lamassu can use is made here", False: "not shared"}


def _fmt_types(supported: dict) -> str:
    return "; ".join(f"{a} {'/'.join(str(s) for s in sizes)}" for a, sizes in supported.items()) or "(unknown until tested)"


def list_engines(kms, args) -> int:
    views = kms.engines.list()
    if args.json:
        emit_json([v.to_json() for v in views])
        return 0
    rows = [
        ("*" if v.record.is_default else "", v.record.id, v.display, f"SL{v.record.security_level}", v.key_count,
         "yes" if v.lamassu else "", v.record.name)
        for v in views
    ]
    print(table(("DEF", "ID", "TYPE", "SL", "KEYS", "LAMASSU", "NAME"), rows, widths={6: 40}))
    return 0


def types(kms, args) -> int:
    out = []
    for etype in kms.engines.types():
        entry = {"type": etype.type, "display": etype.display, "security_level": etype.security_level,
                 "available": etype.available, "options": [], "secret": None}
        if etype.available:
            info = kms.engines.type_info(etype.type)
            entry["options"] = info.options
            entry["secret"] = info.secret_label
        out.append(entry)
    if args.json:
        emit_json(out)
        return 0
    for e in out:
        state = "" if e["available"] else "  (not in this version)"
        print(f"{e['type']}  {e['display']}  SL{e['security_level']}{state}")
        for o in e["options"]:
            default = f" [default {o['default']}]" if o["default"] else ""
            print(f"    --option {o['name']}=…  {o['help']}{default}")
        if e["secret"]:
            print(f"    secret: {e['secret']} (prompt, --secret-stdin or --secret-file)")
    return 0


def show(kms, args) -> int:
    view = kms.engines.get(args.id)
    if args.json:
        emit_json(view.to_json())
        return 0
    r = view.record
    print(f"Engine       {safe_text(r.id)}{'  (default)' if r.is_default else ''}")
    print(f"Name         {safe_text(r.name)}")
    print(f"Type         {view.display} ({r.type}), SL{r.security_level}, provider {safe_text(r.provider)}")
    print(f"Keys         {view.key_count}")
    print(f"Key types    {_fmt_types(r.supported_key_types)}")
    print(f"Lamassu      {_LAMASSU[view.lamassu]}")
    for key, value in sorted(r.config.items()):
        print(f"  {key:<11}{safe_text(value)}")
    if view.secret_label:
        print(f"Secret       {view.secret_label}: {_where(kms.engines.secrets.location(r.id))}")
    return 0


def test(kms, args) -> int:
    check = kms.engines.test(args.id)
    if args.json:
        emit_json(check.to_json())
    elif check.reachable:
        print(f"{check.engine_id}: reachable. Key types: {_fmt_types(check.supported_key_types)}")
        for warning in check.warnings:
            print(f"warning: {safe_text(warning)}")
    else:
        print(f"{check.engine_id}: NOT reachable — {check.title}: {safe_text(check.message)}")
    return 0 if check.reachable else 1


def default(kms, args) -> int:
    kms.engines.set_default(args.id)
    print(f"{args.id} is now the default engine.")
    return 0


def remove(kms, args) -> int:
    removal = kms.engines.unregister(args.id, force=args.force)
    print(f"Engine {args.id} unregistered; {removal.dropped} key record(s) forgotten (keys stay in the backend).")
    if removal.secret:
        print(f"Secret: {safe_text(removal.secret)}.")
    return 0


def _where(location: str) -> str:
    from ..service.engine_secrets import LOCATIONS  # the service's words; imported when used

    return LOCATIONS[location]


def parse_options(pairs: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Option {pair[:80]!r} is not KEY=VALUE.")
        options[key.strip()] = value
    return options


def _lamassu_hint(kms, args, options: dict[str, str]) -> None:
    """A software engine on a directory of clear Lamassu files, not marked as shared: say how to mark it."""
    if args.type != "GOLANG" or "lamassu" in options or not options.get("directory"):
        return
    if kms.engines.looks_like_lamassu_directory(options["directory"]):
        print(f"hint: {safe_text(options['directory'])} holds clear key files as Lamassu writes them; to share it "
              "with Lamassu, register with --option lamassu=true (keys stay clear PEM: encrypt=false).",
              file=sys.stderr)


def add(kms, args) -> int:
    options = parse_options(args.option)
    _lamassu_hint(kms, args, options)
    secret = None
    label = kms.engines.secret_needed(args.type, args.id, options)
    if label is not None:
        secret = read_secret_arg(args, label, confirm=True)
    view = kms.engines.register(
        args.type, args.id, name=args.name, options=options, secret=secret,
        make_default=args.default, check=not args.no_check, memory_fallback=True,
    )
    if args.json:
        emit_json(view.to_json())
    else:
        print(f"Engine {view.record.id} ({view.display}) registered. Key types: {_fmt_types(view.record.supported_key_types)}")
        if view.secret_location == "memory":
            print(f"No keyring is usable: its {view.secret_label} was not stored and will be asked for on each use.",
                  file=sys.stderr)
    return 0


def discover(kms, args) -> int:
    choices = kms.engines.option_choices(args.type, parse_options(args.option))
    if args.json:
        emit_json(choices)
        return 0
    if not choices:
        print(f"{args.type} offers nothing to choose from before registration.")
    for option, values in choices.items():
        print(f"--option {option}=…")
        for v in values:
            extra = "  ".join(f"{k}={safe_text(val, 60)}" for k, val in v.items() if k != "value")
            print(f"    {safe_text(v.get('value'), 60)}  {extra}".rstrip())
    return 0


def secret(kms, args) -> int:
    if args.reveal:
        return _reveal(kms, args)
    view = kms.engines.get(args.id)
    label = view.secret_label or "secret"
    value = read_secret_arg(args, label, confirm=True)
    if not value:
        raise InvalidInput(f"No {label} given: use --secret-stdin, --secret-file or a terminal prompt.")
    where = kms.engines.secrets.set(args.id, value)
    print(f"The {label} of {args.id} was checked against the engine and is {_where(where)}.")
    return 0


def _reveal(kms, args) -> int:
    """The secret, to this terminal only, after the engine id is typed; the audit row comes first."""
    if args.secret_stdin or args.secret_file:
        raise InvalidInput("--reveal shows the stored secret; it takes no --secret-stdin or --secret-file.")
    view = kms.engines.get(args.id)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InvalidInput("--reveal writes to a terminal only, never to a pipe or a file.",
                           hint="Run it in an interactive terminal, and write the secret down for your backup.")
    sys.stderr.write(f"This shows the {view.secret_label or 'secret'} of engine {args.id} on the screen.\n"
                     f"Type the engine id ({safe_text(args.id)}) to confirm: ")
    sys.stderr.flush()
    if sys.stdin.readline().rstrip("\r\n") != args.id:
        raise Cancelled("Not confirmed; nothing was shown.")
    value = kms.engines.secrets.reveal(args.id)
    sys.stdout.write(f"{value}\n")
    sys.stdout.flush()
    return 0


def rekey(kms, args) -> int:
    view = kms.engines.get(args.id)
    label = f"new {view.secret_label or 'passphrase'}"
    value = read_secret_arg(args, label, confirm=True)
    if not value:
        raise InvalidInput(f"No {label} given: use --secret-stdin, --secret-file or a terminal prompt.")
    show = sys.stderr.isatty() and not args.json

    def progress(done: int, total: int) -> None:
        if show:
            sys.stderr.write(f"\rRe-encrypting key files: {done}/{total}")
            sys.stderr.flush()

    result = kms.engines.secrets.rekey(args.id, value, progress)
    if show:
        sys.stderr.write("\n")
    if args.json:
        emit_json(result)
    else:
        print(f"Engine {args.id}: {result['reencrypted']} key file(s) re-encrypted under the new passphrase"
              + (f", {result['already']} already under it" if result["already"] else "")
              + (f", {result['clear_files']} clear file(s) left as they are" if result["clear_files"] else "")
              + "; it is kept in the OS keyring.")
    return 0
