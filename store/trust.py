"""Whether the data directory and the database files can be trusted, as ssh would judge them.

A directory or file that belongs to another user, or that group or others may
write to, could have been changed by someone else: it is refused with the fix,
never silently chmod-ed (that would erase the evidence of who could write
there). Only ``kms-tui doctor --repair`` changes the mode of something that
already exists, and it says so.
"""

from __future__ import annotations

import os
import stat

from .errors import UntrustedPath


def _who(bits: int) -> str:
    group, other = bool(bits & 0o070), bool(bits & 0o007)
    return "group and others" if group and other else "its group" if group else "others"


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())


def check_trusted(path: os.PathLike[str] | str, st: os.stat_result, what: str, private_mode: int) -> None:
    """Raise UntrustedPath when ``st`` (of ``path``) is another user's or writable by group or others."""
    if st.st_uid != os.geteuid():
        raise UntrustedPath(
            f"The {what} {path} belongs to another user (uid {st.st_uid}); kms-tui does not use it.",
            hint=f"If it is meant to be yours, check its content, then: chown {_user()} {path} — "
            "or choose another data directory (--data-dir).",
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise UntrustedPath(
            f"The {what} {path} is writable by {_who(mode & 0o022)} (mode {mode:04o}): someone else could "
            "have changed it, so kms-tui does not use it.",
            hint=f"Check that its content is yours (kms-tui audit verify), then: chmod {private_mode:o} {path}",
        )


def check_trusted_file(path: os.PathLike[str] | str, what: str) -> None:
    """Refuse an existing file that is a link, not a regular file, or not trusted; absent is fine.

    The file itself is opened (never through a symbolic link) and its descriptor
    examined, so what is judged is what is there.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return
    except OSError as exc:
        if os.path.islink(path):
            raise UntrustedPath(
                f"The {what} {path} is a symbolic link; kms-tui opens only the file itself.",
                hint="Replace the link by the file it points to.",
            ) from None
        raise UntrustedPath(f"The {what} {path} cannot be examined: {exc.strerror}.",
                            hint="Check its owner and permissions.") from None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedPath(f"The {what} {path} is not a regular file.", hint="Move it aside.")
    check_trusted(path, st, what, 0o600)
