"""Unit tests of the wizards' pure parts: the equivalent CLI command, and reading inputs."""

from __future__ import annotations

import base64
import inspect
import shlex
import subprocess

import pytest

from engines.errors import InvalidInput
from kms_tui.cli.parser import build_parser
from kms_tui.wizards import commands as C
from kms_tui.wizards.inputs import (
    decode_signature_file,
    decode_text,
    encode_signature,
    load_message,
    read_file,
    split_list,
    write_new_file,
)
from tests.tui.conftest import HOSTILE

HOSTILE_NAMES = [
    "plain-name", "with space", "it's", "$(touch /tmp/pwned)", "`id`", "a;b|c&d>e", "[red]x[/red]", "*?~",
    "-starts-with-dash", "tab\there", "new\nline", "back\\slash", "\\'", "ünïcödé ✓", HOSTILE, "\U0001f511 key",
    "bell\x07", "\x7fdel", "zwj\u200dok", "",
]


def shell_words(command: str) -> list[str]:
    """What bash makes of the command line: the argv a pasted command would run with."""
    script = f"set -- {command}; printf '%s\\0' \"$@\""
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, env={"LC_ALL": "C.UTF-8"})
    return out.stdout.decode("utf-8").split("\0")[:-1]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_reach_the_cli_exactly(name):
    command = C.create_command("ECDSA", 384, name, "golang-default", aliases=[name, "x y"], tags=["[b]t[/b]"])
    assert shell_words(command.text) == command.argv
    assert command.argv == ["kms-tui", "keys", "create", "--algorithm", "ECDSA", "--size", "384", "--name", name,
                            "--engine", "golang-default", "--alias", name, "--alias", "x y", "--tag", "[b]t[/b]"]
    # The text on screen holds no control or bidi character: it cannot drive the terminal.
    assert not any(ord(c) < 32 or c in "\x7f\u202e" for c in command.text)


def test_plain_arguments_are_shlex_quoted():
    assert C.quote("simple") == "simple"
    assert C.quote("with space") == "'with space'"
    assert C.quote("it's") == shlex.quote("it's")
    assert C.quote("a\x1bb") == "$'a\\x1bb'"
    assert C.quote("rtl\u202eevil") == "$'rtl\\u202eevil'"
    assert C.quote("q'\\") == shlex.quote("q'\\")
    assert C.quote("q'\\\x07") == "$'q\\'\\\\\\x07'"  # in $'…' quotes and backslashes are escaped


def test_the_commands_parse_with_the_real_cli():
    parser = build_parser()
    spec = C.MessageSpec(digest=True, encoding="hex")
    for command in (
        C.create_command("RSA", 4096, "root ca", "pkcs11-hsm", aliases=["root"], tags=["pki"], data_dir="/srv/kms"),
        C.import_command("/keys/a b.pem", "imported", "golang-default", encrypted=True, aliases=["a"], tags=["t"]),
        C.import_command(None, "pasted", "golang-default"),
        C.sign_command("issuing-ca", "ECDSA_SHA_384", spec, out="/tmp/s.sig", out_encoding="hex"),
        C.verify_command("issuing-ca", "ECDSA_SHA_384", C.MessageSpec(path="/m.bin"), signature_encoding="raw"),
    ):
        args = parser.parse_args(command.argv[1:])
        assert args.handler is not None


def test_no_secret_can_reach_a_command():
    for fn in (C.create_command, C.import_command, C.sign_command, C.verify_command):
        params = inspect.signature(fn).parameters
        assert not [p for p in params if any(w in p for w in ("passphrase", "secret", "pin", "password"))]
    command = C.import_command("/keys/enc.pem", "k", "golang-default", encrypted=True)
    assert command.argv[-1] == "--passphrase-stdin"
    pasted = C.import_command(None, "k", "golang-default", encrypted=True)
    assert pasted.argv[3] == C.KEY_FILE and "--passphrase-stdin" in pasted.argv
    assert "Save the pasted key as KEY_FILE" in pasted.notes[0]


def test_data_dir_sign_and_verify_forms():
    assert C.create_command("Ed25519", 256, "k", "e", data_dir="/d").argv[:3] == ["kms-tui", "--data-dir", "/d"]
    text = C.MessageSpec()
    assert C.sign_command("k", "ED25519", text).text == "kms-tui keys sign k --algorithm ED25519 --in -"
    assert C.sign_command("k", "ED25519", C.MessageSpec(path="/f")).notes == []
    digest = C.MessageSpec(digest=True, encoding="base64")
    assert C.sign_command("k", "ECDSA_SHA_256", digest, out="o.sig", out_encoding="raw").text == (
        "kms-tui keys sign k --algorithm ECDSA_SHA_256 --message-type digest --in - --input-encoding base64 "
        "--out o.sig --encoding raw")
    both_pasted = C.verify_command("k", "ED25519", text)
    assert both_pasted.argv[-4:] == ["--signature", C.SIGNATURE_FILE, "--encoding", "base64"]
    from_file = C.verify_command("k", "ED25519", C.MessageSpec(path="/m"), signature_encoding="hex")
    assert from_file.argv[-4:] == ["--signature", "-", "--encoding", "hex"]
    pasted_key = C.verify_command(None, "ED25519", C.MessageSpec(path="/m"), signature_path="/s")
    assert pasted_key.argv[3] == C.PUBLIC_KEY_NAME and "record the public key first" in pasted_key.notes[-1]


def test_split_list():
    assert split_list(" a, b ,,a, c d ,") == ["a", "b", "c d"]
    assert split_list("") == []


def test_decode_text_hex_first_then_base64():
    assert decode_text("00ff", "digest") == (b"\x00\xff", "hex")
    assert decode_text(" 0x00FF\n", "digest") == (b"\x00\xff", "hex")
    assert decode_text("AP8=", "digest") == (b"\x00\xff", "base64")
    assert decode_text("de ad\nbe ef", "digest") == (bytes.fromhex("deadbeef"), "hex")
    for bad, why in (("", "empty"), ("xyz!", "neither hex nor base64"), ("abc", "neither hex nor base64")):
        with pytest.raises(InvalidInput, match=why):
            decode_text(bad, "digest")


def test_signature_files_and_encodings(tmp_path):
    signature = bytes(range(70))
    for encoding in ("base64", "hex", "raw"):
        assert decode_signature_file(encode_signature(signature, encoding)) == (signature, encoding)
    with pytest.raises(InvalidInput, match="empty"):
        decode_signature_file(b"")
    assert encode_signature(b"\x01", "base64") == base64.b64encode(b"\x01") + b"\n"


def test_files_are_read_bounded_and_never_overwritten(tmp_path):
    target = tmp_path / "out.sig"
    assert write_new_file(str(target), b"one") == str(target)
    with pytest.raises(InvalidInput, match="exists; it is not overwritten"):
        write_new_file(str(target), b"two")
    assert target.read_bytes() == b"one"
    assert read_file(str(target), 10, "signature") == b"one"
    with pytest.raises(InvalidInput, match="limit is 2 bytes"):
        read_file(str(target), 2, "signature")
    with pytest.raises(InvalidInput, match="is a directory"):
        read_file(str(tmp_path), 10, "message")
    with pytest.raises(InvalidInput, match="Cannot write"):
        write_new_file(str(tmp_path / "missing" / "x.sig"), b"")


def test_load_message_kinds(tmp_path):
    (tmp_path / "m").write_bytes(b"\x00bytes")
    assert load_message("text", "héllo", "", "") == ("héllo".encode(), "RAW", "raw")
    assert load_message("file", "", str(tmp_path / "m"), "") == (b"\x00bytes", "RAW", "raw")
    assert load_message("digest", "", "", "ab" * 32) == (b"\xab" * 32, "DIGEST", "hex")
    with pytest.raises(InvalidInput, match="Type the message"):
        load_message("text", "", "", "")


def test_the_wizards_read_a_regular_file_only(tmp_path):
    """A pipe typed as a message, signature or key file is refused, not waited on by the worker (and the app's exit)."""
    import os
    import threading

    from kms_tui.wizards.inputs import FileChunks, load_message
    from kms_tui.wizards.recognise import read_and_recognise
    from kms_tui.wizards.verify import read_signature

    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    reads = (lambda p: load_message("file", "", p, ""), lambda p: read_signature("file", "", p),
             lambda p: read_and_recognise(None, "file", p, ""), lambda p: list(FileChunks(p)))
    for read in reads:
        for path in (fifo, tmp_path / "link"):
            writer = threading.Timer(1, fifo.write_bytes, (b"00",))  # what an unguarded read would wait for
            writer.start()
            try:
                with pytest.raises(InvalidInput, match="not a regular file"):
                    read(str(path))
            finally:
                writer.cancel()
    (tmp_path / "message.txt").write_bytes(b"hello")
    assert load_message("file", "", str(tmp_path / "message.txt"), "")[0] == b"hello"
