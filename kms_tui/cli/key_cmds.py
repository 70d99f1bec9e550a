"""``kms-tui keys …`` handlers."""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from collections.abc import Iterator

from ..files import read_file, write_made, write_new_file
from ..service.algorithms import strength_reason
from ..service.errors import InvalidInput, Refused
from ..service.types import MAX_KEY_FILE_BYTES, KeyQuery, parse_json_object
from .io import emit_json, emit_json_texts, safe_text

MAX_MESSAGE_BYTES = 64 << 20  # a message to sign is read whole; refuse what cannot be meant


def _read_input(path: str, limit: int, what: str) -> bytes:
    if path != "-":
        return read_file(path, limit, what)
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"The {what} is larger than {limit} bytes.")
    return data


def _decode(data: bytes, encoding: str, what: str) -> bytes:
    if encoding == "raw":
        return data
    from ..batch import decode

    try:
        return decode(data.strip(), encoding)
    except ValueError:
        raise InvalidInput(f"The {what} is not valid {encoding}.") from None


def _encode(data: bytes, encoding: str) -> bytes:
    if encoding == "hex":
        return data.hex().encode() + b"\n"
    if encoding == "base64":
        return base64.b64encode(data) + b"\n"
    return data


def _write_out(path: str | None, data: bytes) -> None:
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_new_file(path, data)


def _metadata(value: dict | str | None) -> dict:
    """--metadata / --set: already parsed and bounded by the parser (arg_types.json_object)."""
    if not value:
        return {}
    return value if isinstance(value, dict) else parse_json_object(value, "--metadata")


def _print_key(record, as_json: bool) -> None:
    if as_json:
        emit_json(record.to_json())
        return
    print(f"Name         {safe_text(record.name)}")
    print(f"Key id       {record.key_id}")
    print(f"Engine       {safe_text(record.engine_id)}")
    print(f"Algorithm    {record.algorithm} {record.size}")
    print(f"Strength     {record.strength} — {strength_reason(record.algorithm, record.size)}")
    print(f"Private key  {'yes' if record.has_private_key else 'no (public key only)'}")
    if record.pkcs11_uri:
        print(f"PKCS#11 URI  {safe_text(record.pkcs11_uri)}")
    if record.state:
        print(f"State        {safe_text(record.state)}")
    if record.status != "ok":
        print(f"Status       {record.status} (not found in the engine at the last sync)")
    print(f"Created      {record.creation_ts}")
    print(f"Aliases      {', '.join(safe_text(a) for a in record.aliases) or '-'}")
    print(f"Tags         {', '.join(safe_text(t) for t in record.tags) or '-'}")
    bindings = ", ".join(f"{safe_text(b.get('resource_type'))}/{safe_text(b.get('resource_id'))}" for b in record.bindings)
    print(f"Bound to     {bindings or '-'}")
    from ..service import backup_state

    print(f"Backup       {safe_text(backup_state(record))}")
    extra = {k: v for k, v in record.metadata.items() if k != "lamassu.io/kms/binded-resources"}
    if extra:
        print(f"Metadata     {safe_text(json.dumps(extra, ensure_ascii=False, sort_keys=True))}")
    print(record.public_key.rstrip())


def list_keys(kms, args) -> int:
    from . import lamassu_output as lamassu

    query = KeyQuery(
        engine_id=args.engine, algorithm=args.algorithm and _canon_alg(args.algorithm), size=args.size,
        strength=args.strength, text=args.filter, has_private_key=args.has_private, bound=args.bound,
        status="missing" if args.missing else None, sort=args.sort, descending=args.desc, limit=args.limit,
        offset=lamassu.bookmark_offset(args.bookmark) if args.bookmark else 0,
    )
    if lamassu.wanted(args):
        lamassu.write_listing(kms, query)
        return 0
    if getattr(args, "jsonl", False):
        from .io import emit_json_lines

        emit_json_lines(kms.keys.iter_json(query))
        return 0
    if args.json:
        emit_json_texts(kms.keys.iter_json(query))
        return 0
    from .io import write_table

    rows = (
        (r.name, r.key_id[:12], r.engine_id, f"{r.algorithm} {r.size}", r.strength,
         "priv" if r.has_private_key else "pub", "yes" if r.bound else "", r.state or ("" if r.status == "ok" else r.status))
        for r in kms.keys.iter(query)
    )
    write_table(("NAME", "KEY ID", "ENGINE", "ALGORITHM", "STRENGTH", "KIND", "BOUND", "STATE"), rows,
                widths={0: 40, 2: 24})
    return 0


def _canon_alg(name: str) -> str:
    from ..service.algorithms import normalise_algorithm

    return normalise_algorithm(name)


def show(kms, args) -> int:
    from . import lamassu_output as lamassu

    if lamassu.wanted(args):
        lamassu.write_key(kms.keys.resolve(args.ref))
        return 0
    _print_key(kms.keys.resolve(args.ref), args.json)
    return 0


def _size_for(algorithm: str, size: int | None) -> int:
    """``--size`` as given; Ed25519 has one size, so it may be left out there."""
    from ..service.algorithms import ED25519

    if size is not None:
        return size
    if _canon_alg(algorithm) == ED25519:
        return 256
    raise InvalidInput(f"Say the key size for {algorithm} with --size (RSA 2048/3072/4096; ECDSA 224/256/384/521; "
                       "ML-DSA 44/65/87).")


def _warn_compatibility(kms, record) -> None:
    """One stderr line per client of the key's backend that cannot use it (a refused key never gets here:
    on an engine shared with Lamassu the service refuses what Lamassu cannot use, naming the reason)."""
    if record.has_private_key:
        for line in kms.keys.compatibility(record.engine_id, record.algorithm, record.size).warnings():
            sys.stderr.write(f"warning: {safe_text(line)}\n")


def create(kms, args) -> int:
    size = _size_for(args.algorithm, args.size)
    backup = kms.backup.parse_policy(args.backup) if args.backup else None
    if sys.stderr.isatty() and not args.json:
        sys.stderr.write(f"Generating {args.algorithm} {size} key…\n")
    record = kms.keys.create(
        args.algorithm, size, args.name, engine_id=args.engine, aliases=args.alias, tags=args.tag,
        metadata=_metadata(args.metadata), backup=backup,
    )
    _warn_compatibility(kms, record)
    _print_key(record, args.json)
    return 0


def import_key(kms, args) -> int:
    data = _read_input(args.file, MAX_KEY_FILE_BYTES, "key")
    passphrase = None
    if args.passphrase_stdin:
        if args.file == "-":
            raise InvalidInput("The key and its passphrase cannot both come from stdin.")
        passphrase = sys.stdin.readline().rstrip("\r\n").encode()
    elif b"ENCRYPTED" in data and sys.stdin.isatty():
        from .io import prompt_secret

        value = prompt_secret("key passphrase")
        passphrase = value.encode() if value else None
    if args.backup or args.backup_out:
        from .backup_cmds import escrow_import

        record = escrow_import(kms, args, data, passphrase, _metadata(args.metadata))
    else:
        record = kms.keys.import_key(
            data, args.name, engine_id=args.engine, passphrase=passphrase, aliases=args.alias, tags=args.tag,
            metadata=_metadata(args.metadata),
        )
    _warn_compatibility(kms, record)
    _print_key(record, args.json)
    return 0


def export_public(kms, args) -> int:
    _write_out(args.out, kms.keys.export_public(args.ref, args.format))
    return 0


def _message_bytes(kms, args) -> bytes:
    """The message or digest to sign or verify; for ``external-mu``, the mu of the message, hashed here."""
    infile = "-" if args.infile is None else args.infile
    if args.message_type == "external-mu" and args.input_encoding == "raw":
        return kms.signing.external_mu(args.ref, _chunks(infile))  # a file of any size, a chunk at a time
    data = _decode(_read_input(infile, MAX_MESSAGE_BYTES, "message"), args.input_encoding, "message")
    return kms.signing.external_mu(args.ref, [data]) if args.message_type == "external-mu" else data


def _chunks(path: str, size: int = 1 << 20) -> Iterator[bytes]:
    """A file (or stdin for ``-``) read as it is hashed: never whole in memory."""
    from ..files import open_input

    with contextlib.nullcontext(sys.stdin.buffer) if path == "-" else open_input(path, "message") as stream:
        while chunk := stream.read(size):
            yield chunk


def sign(kms, args) -> int:
    if args.batch is not None:
        return sign_batch(kms, args)
    if args.threads is not None:
        raise InvalidInput("--threads is for --batch: one message is signed on one thread.")
    data = _message_bytes(kms, args)
    signature = kms.signing.sign(args.ref, args.algorithm, data, args.message_type, allow_retired=args.allow_retired)
    if args.json:
        emit_json({"algorithm": args.algorithm.upper(), "signature": base64.b64encode(signature).decode(),
                   "signature_hex": signature.hex()})
        return 0
    _write_out(args.out, _encode(signature, args.encoding))
    return 0


def sign_batch(kms, args) -> int:
    """``keys sign REF --batch FILE|-``: JSONL results on stdout or --out, progress on stderr."""
    from .batch_io import run_batch

    if args.infile is not None:
        raise InvalidInput("--in and --batch are exclusive: the batch file holds the messages.")
    if args.message_type == "external-mu":
        raise InvalidInput("A batch signs its messages as they are (raw) or digests: external-mu is for one "
                           "message, hashed here (keys sign REF --in FILE --message-type external-mu).")
    if args.input_encoding == "raw":
        args.input_encoding = "hex"
    return run_batch(kms, args)


def verify(kms, args) -> int:
    data = _message_bytes(kms, args)
    signature = _decode(_read_input(args.signature, 1 << 16, "signature"), args.encoding, "signature")
    valid = kms.signing.verify(args.ref, args.algorithm, data, signature, args.message_type, through_engine=args.engine_verify)
    if args.json:
        emit_json({"valid": valid})
    else:
        print("Signature valid." if valid else "Signature INVALID.")
    return 0 if valid else 1


def csr(kms, args) -> int:
    """``keys csr REF --subject … --out FILE``: the file is claimed first, so nothing is signed for a path taken."""
    made = write_made(args.out, lambda: kms.csr.make(args.ref, args.subject, args.san, args.format, args.profile))
    if args.json:
        emit_json({"path": args.out, **made.to_json()})
    else:
        print(f"CSR for key {safe_text(made.key_name, 80)} ({made.signature_algorithm}) written to "
              f"{safe_text(args.out, 200)}: subject {safe_text(made.subject, 200)}, SHA-256 {made.sha256}.")
    return 0


def delete(kms, args) -> int:
    from .io import confirm_typed

    record = kms.keys.resolve(args.ref)
    if not args.yes and not confirm_typed(
        record.name, f"Delete key {safe_text(record.name, 80)} ({record.key_id[:16]}…) from engine {record.engine_id}?"
        f"\n{kms.keys.deletion_notice(record)}"
    ):
        raise Refused("Deletion not confirmed; nothing was deleted.", hint="Pass --yes to skip the typed confirmation.")
    from .engine_cmds import parse_options

    deleted = kms.keys.delete(args.ref, force=args.force, options=parse_options(args.option))
    gone = kms.keys.by_name(deleted.name) is None
    if args.json:
        emit_json({"deleted": deleted.key_id, "name": deleted.name, "state": None if gone else deleted.state})
    elif gone:
        print(f"Key {safe_text(deleted.name, 80)} deleted.")
    else:
        print(f"Key {safe_text(deleted.name, 80)} is now {safe_text(deleted.state)}; it can still be recovered "
              f"(kms-tui keys action {safe_text(deleted.name, 80)} lists how).")
    return 0


def action(kms, args) -> int:
    from .deletion_cmds import DESTRUCTIVE_ACTIONS, confirm_destruction

    if not args.action:
        actions = kms.keys.actions(args.ref)
        if args.json:
            emit_json(actions)
        else:
            for name, text in actions.items():
                print(f"{name:<18}{text}")
            if not actions:
                print("This key's engine has no extra actions.")
        return 0
    record = kms.keys.resolve(args.ref)
    if args.action in DESTRUCTIVE_ACTIONS:
        confirm_destruction(record, args.action, args)
    result = kms.keys.run_action(args.ref, args.action)
    if args.json:
        emit_json(None if result is None else result.to_json())
    elif result is None:
        print(f"Key {safe_text(record.name, 80)}: {args.action} done; the key is gone.")
    else:
        print(f"Key {safe_text(record.name, 80)}: {args.action} done; state {safe_text(result.state or 'ok')}.")
    return 0


def _edited(record, args) -> int:
    _print_key(record, args.json)
    return 0


def rename(kms, args) -> int:
    return _edited(kms.keys.rename(args.ref, args.new_name), args)


def metadata(kms, args) -> int:
    return _edited(kms.keys.set_metadata(args.ref, _metadata(args.set)), args)


def alias_add(kms, args) -> int:
    return _edited(kms.keys.add_alias(args.ref, args.value), args)


def alias_remove(kms, args) -> int:
    return _edited(kms.keys.remove_alias(args.ref, args.value), args)


def tag_add(kms, args) -> int:
    return _edited(kms.keys.add_tag(args.ref, args.value), args)


def tag_remove(kms, args) -> int:
    return _edited(kms.keys.remove_tag(args.ref, args.value), args)


def bind(kms, args) -> int:
    return _edited(kms.keys.bind(args.ref, args.resource_type, args.resource_id), args)


def unbind(kms, args) -> int:
    return _edited(kms.keys.unbind(args.ref, args.resource_type, args.resource_id), args)
