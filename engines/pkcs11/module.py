"""Loading PKCS#11 modules and listing their tokens, once per process.

A module is loaded by its real path (python-pkcs11 refuses a second ``C_Initialize``
of one library under another name, e.g. a symlink) and kept for the life of the
process; ``session`` keeps the tokens' shared sessions in it. A missing file
and a file that is no PKCS#11 library are told apart.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import threading
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import EngineConfigError, EngineUnavailable
from . import errors as PE

if TYPE_CHECKING:
    from pkcs11 import Token
    from pkcs11._pkcs11 import lib as Library

    from .session import Shared

log = logging.getLogger("engines.pkcs11")

_registry_lock = threading.Lock()
_modules: dict[str, Module] = {}


def real_module_path(path: str) -> str:
    """The canonical path: a module must be loaded once, whatever symlink named it."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


@dataclass(frozen=True)
class TokenInfo:
    """A token as CK_TOKEN_INFO describes it, with python-pkcs11's Token object to open it."""

    label: str
    serial: str
    manufacturer: str
    model: str
    initialized: bool
    flags: int
    token: Token = field(repr=False, compare=False)


class Module:
    """A loaded PKCS#11 module, its lock and its tokens' shared sessions."""

    def __init__(self, path: str, lib: Library):
        self.path = path
        self.lib = lib
        self.lock = threading.RLock()
        self.sessions: dict[tuple[str, str], Shared] = {}  # (serial, label) -> its shared session

    def __repr__(self) -> str:
        return f"Module({self.path!r}, sessions={len(self.sessions)})"

    def tokens(self, rescan: bool = False) -> list[TokenInfo]:
        """Tokens the module shows; with ``rescan``, re-initialise first when no session is open,
        because modules such as SoftHSM read their token list at C_Initialize only."""
        with self.lock:
            if rescan and not self.sessions:
                try:
                    self.lib.reinitialize()
                except Exception as exc:
                    raise EngineUnavailable(f"The PKCS#11 module {self.path} failed to re-initialise: "
                                            f"{type(exc).__name__}.") from None
            found: list[TokenInfo] = []
            try:
                for slot in self.lib.get_slots(token_present=True):
                    try:
                        token = slot.get_token()
                    except Exception as exc:  # TokenNotPresent/TokenNotRecognised: a slot to skip
                        log.info("slot %s of %s skipped: %s", slot.slot_id, self.path, type(exc).__name__)
                        continue
                    flags = int(token.flags)
                    found.append(TokenInfo(
                        token.label, token.serial.decode("ascii", "replace").strip(), token.manufacturer_id.strip(),
                        token.model.strip(), bool(flags & 0x400), flags, token))  # 0x400: CKF_TOKEN_INITIALIZED
            except Exception as exc:
                raise PE.translate(exc, f"module {self.path}", "list its tokens") from None
            return found

    def find(self, label: str | None, serial: str | None, shown: str | None = None) -> TokenInfo:
        """The one initialised token with this label and/or serial; ``shown`` names the module in errors."""
        def matching(tokens: Sequence[TokenInfo]) -> list[TokenInfo]:
            return [t for t in tokens if t.initialized and (label is None or t.label == label)
                    and (serial is None or t.serial == serial)]

        found = matching(self.tokens())
        if not found:
            found = matching(self.tokens(rescan=True))
        wanted = " and ".join(x for x in (label is not None and f"labelled {label!r}",
                                          serial is not None and f"with serial {serial!r}") if x)
        if len(found) > 1:
            serials = ", ".join(repr(t.serial) for t in found[:10])
            raise EngineConfigError(f"Module {shown or self.path} has {len(found)} tokens {wanted}.",
                                    hint=f"Choose one with the serial option: {serials}.")
        if not found:
            labels = sorted(f"{t.label!r} (serial {t.serial})" for t in self.tokens() if t.initialized)
            more = "." if len(labels) <= 10 else ", …"
            hint = ("Tokens: " + ", ".join(labels[:10]) + more) if labels else "It shows no initialised token."
            raise PE.TokenNotFound(f"Module {shown or self.path} has no token {wanted}.", hint=hint)
        return found[0]


# python-pkcs11's package imports its ``util`` helpers (DER encoders built on asn1crypto) as it
# loads: about 40 % of its import time, on every command that touches a token, for code kms-tui
# never calls (``cryptography`` encodes keys here). Until python-pkcs11 is first imported,
# each helper module is a stand-in that imports the real one on first use of any name in it.
_DEFERRED_UTIL = ("dh", "dsa", "ec", "rsa", "x509")
_defer_lock = threading.RLock()  # a helper whose import uses another stand-in takes it again


class _DeferredModule(types.ModuleType):
    """A module imported on first use of one of its names (``from pkcs11.util.ec import …`` included)."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        with _defer_lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            vars(self).update(vars(real))
        return getattr(real, name)


def _defer_pkcs11_util() -> None:
    """Stand-ins for ``pkcs11.util.*`` before python-pkcs11's first import; nothing when it is imported."""
    if "pkcs11" in sys.modules:
        return
    spec = importlib.util.find_spec("pkcs11")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return
    where = [os.path.join(next(iter(spec.submodule_search_locations)), "util")]
    for name in _DEFERRED_UTIL:
        full = f"pkcs11.util.{name}"
        found = importlib.machinery.PathFinder.find_spec(full, where)
        if found is not None and full not in sys.modules:
            stand_in = _DeferredModule(full)
            stand_in.__spec__ = found
            sys.modules[full] = stand_in


def import_pkcs11() -> types.ModuleType:
    """python-pkcs11, imported with its ``util`` helpers deferred (see ``_defer_pkcs11_util``)."""
    with _defer_lock:
        _defer_pkcs11_util()
    import pkcs11

    return pkcs11


def load_module(path: str) -> Module:
    """The module at ``path``, loaded and initialised once per process."""
    real = real_module_path(path)
    with _registry_lock:
        module = _modules.get(real)
        if module is not None:
            return module
        if not os.path.exists(real):
            raise PE.ModuleMissing(f"The PKCS#11 module file {path} does not exist.",
                                   hint="Give the path of the vendor's PKCS#11 library (.so).")
        if not os.path.isfile(real):
            raise PE.ModuleInvalid(f"{path} is not a file, so not a PKCS#11 module.")
        try:
            pkcs11 = import_pkcs11()
        except ImportError:
            raise EngineConfigError("The PKCS#11 engine needs the Python package python-pkcs11.") from None
        lib = next((lib for name, lib in pkcs11._loaded.items() if real_module_path(name) == real), None)
        try:
            if lib is None:
                lib = pkcs11.lib(real)
            elif not lib.initialized:
                lib.initialize()
        except pkcs11.PKCS11Error as exc:
            if str(exc).startswith("OS exception while loading"):
                raise PE.ModuleInvalid(f"{path} is not a PKCS#11 module: it cannot be loaded as a library "
                                       "exporting C_GetFunctionList.") from None
            raise EngineUnavailable(f"The PKCS#11 module {path} failed to initialise ({type(exc).__name__}).",
                                    hint="Check its configuration (for SoftHSM: SOFTHSM2_CONF and its token directory).") from None
        module = _modules[real] = Module(real, lib)
        return module
