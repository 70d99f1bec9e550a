"""Shared PKCS#11 sessions: one logged-in session per token for the whole process.

python-pkcs11 initialises a module with ``C_Initialize(NULL)``, which promises the
module that no two threads call it at once; parallel sessions from several threads
were seen to fail on SoftHSM. ``Session.close()`` logs the whole application out of
the token, and a second login raises ``UserAlreadyLoggedIn``. Hence this registry,
keyed by (real module path, token): every driver of a token, in any ``Kms`` of the
process, shares ONE long-lived, logged-in session, reference-counted so that closing
one driver never logs out another, and every call into a module holds its one lock.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ..errors import KmsError
from . import errors as PE
from .module import Module, TokenInfo, load_module

if TYPE_CHECKING:
    from pkcs11 import Session
    from pkcs11.attributes import AttributeMapper

__all__ = ["Shared", "TokenLink", "load_module"]

log = logging.getLogger("engines.pkcs11")

T = TypeVar("T")
_SALT = os.urandom(16)  # PINs are compared as salted digests, never kept by the registry


@dataclass(eq=False)
class Shared:
    """The one session of a token; ``users`` counts the links attached to it."""

    session: Session
    info: TokenInfo
    pin_digest: bytes = field(repr=False)
    users: int = 0
    mechanisms: frozenset[int] = frozenset()
    # Mechanism -> (smallest, largest) key size the token reports, None where it says nothing.
    mechanism_info: dict[int, tuple[int | None, int | None]] = field(default_factory=dict, repr=False)
    copy_refused: bool = False  # C_CopyObject refused: new pairs are generated on the token and renamed


def _pin_digest(pin: str) -> bytes:
    return hashlib.sha256(_SALT + pin.encode("utf-8", "surrogatepass")).digest()


def _mapper() -> AttributeMapper:
    """Labels as text that survives bytes which are not UTF-8 (other tools write them)."""
    from pkcs11 import Attribute
    from pkcs11.attributes import AttributeMapper

    mapper = AttributeMapper()
    mapper.register_handler(Attribute.LABEL, lambda s: s.encode("utf-8", "surrogateescape"),
                            lambda b: b.decode("utf-8", "surrogateescape"))
    return mapper


class TokenLink:
    """A driver's use of its token's shared session. Holds the PIN; never shows it."""

    def __init__(self, module: str, label: str | None, serial: str | None, pin: str):
        self.module_option = module
        self.label = label
        self.serial = serial
        self._pin = pin
        self._module: Module | None = None
        self._shared: Shared | None = None
        self._key: tuple[str, str] | None = None

    def __repr__(self) -> str:
        return f"TokenLink(module={self.module_option!r}, token={self.label!r}, serial={self.serial!r})"

    @property
    def where(self) -> str:
        token = self._shared.info.label if self._shared else (self.label or self.serial)
        return f"token {token!r} of module {self.module_option}"

    @property
    def session_key(self) -> tuple[str, str] | None:
        """The key of the session this link last attached to in its module's ``sessions``."""
        return self._key

    def attached(self) -> Shared | None:
        """The session this link last used, if its module still holds it (call under the module lock)."""
        shared = self._shared
        if shared is not None and self._module is not None and self._registered(self._module) is shared:
            return shared
        return None

    def _registered(self, module: Module) -> Shared | None:
        """The session ``module`` holds for the token this link last attached to."""
        return None if self._key is None else module.sessions.get(self._key)

    def module(self) -> Module:
        if self._module is None:
            self._module = load_module(self.module_option)
        return self._module

    def run(self, what: str, fn: Callable[[Shared], T], *, retry: bool = True) -> T:
        """``fn(shared)`` under the module lock, on the logged-in session; PKCS#11 errors translated.

        A session lost under us (token reinserted, closed elsewhere) is reopened once
        when ``retry`` (for calls that are safe to repeat).
        """
        module = self.module()
        with module.lock:
            for attempt in (0, 1):
                shared = self._attach(module)
                try:
                    return fn(shared)
                except KmsError:
                    raise
                except Exception as exc:
                    if PE.is_session_lost(exc):
                        self._drop(module, shared)
                        if retry and attempt == 0:
                            continue
                    translated = PE.translate(exc, self.where, what)
                    if translated is exc:
                        raise
                    raise translated from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _attach(self, module: Module) -> Shared:
        if self._shared is not None and self._registered(module) is self._shared:
            return self._shared
        info = module.find(self.label, self.serial, self.module_option)
        key = (info.serial, info.label)
        shared = module.sessions.get(key)
        digest = _pin_digest(self._pin)
        if shared is None:
            shared = module.sessions[key] = self._open(module, info, digest)
        elif shared.pin_digest != digest:
            raise PE.PinMismatch(
                f"Token {info.label!r} is already logged in by another engine of this process with a different PIN.",
                hint="Give every engine of one token the same PIN.")
        shared.users += 1
        self._shared, self._key = shared, key
        return shared

    def _open(self, module: Module, info: TokenInfo, digest: bytes) -> Shared:
        where = f"token {info.label!r} of module {self.module_option}"
        if info.flags & PE.CKF_USER_PIN_LOCKED:
            raise PE.PinLocked(f"The user PIN of {where} is locked.", hint="The security officer must unlock or reset it.")
        try:
            session = info.token.open(rw=True, user_pin=self._pin, attribute_mapper=_mapper())
        except Exception as exc:
            if type(exc).__name__ == "UserAlreadyLoggedIn":  # logged in outside this registry
                session = info.token.open(rw=True, attribute_mapper=_mapper())
            else:
                error = PE.translate(exc, where, "log in")
                if isinstance(error, PE.WrongPin):
                    flags = next((t.flags for t in module.tokens() if t.serial == info.serial), 0)
                    note = PE.pin_flag_note(flags)
                    error = PE.WrongPin(f"The user PIN of {where} is wrong.{' ' + note if note else ''}",
                                        hint="Check the PIN and give this engine the right one.")
                if error is exc:
                    raise
                raise error from None
        try:
            mechanisms = frozenset(int(m) for m in info.token.slot.get_mechanisms())
        except Exception as exc:
            session.close()
            raise PE.translate(exc, where, "list its mechanisms") from None
        return Shared(session, info, digest, mechanisms=mechanisms)

    def _drop(self, module: Module, shared: Shared) -> None:
        """Forget a session that no longer works; the next call opens a new one."""
        if self._key is not None and module.sessions.get(self._key) is shared:
            del module.sessions[self._key]
        try:
            shared.session.close()
        except Exception:  # it is already gone: nothing left to close
            pass
        self._shared = None

    def release(self) -> None:
        """Detach; the last user of a token's session logs out and closes it."""
        module, shared = self._module, self._shared
        if module is None or shared is None:
            return
        with module.lock:
            self._shared = None
            if self._key is None or module.sessions.get(self._key) is not shared:
                return
            shared.users -= 1
            if shared.users <= 0:
                del module.sessions[self._key]
                try:
                    shared.session.close()
                except Exception as exc:
                    log.warning("closing the session of token %r failed: %s", shared.info.label, type(exc).__name__)
