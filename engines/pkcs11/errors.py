"""Typed errors of the PKCS#11 engine, and the translation of python-pkcs11 exceptions.

python-pkcs11 raises one exception class per ``CKR_*`` return value. They are
translated here, at the driver boundary, by class name, so this module never
imports the SDK. Messages name the token and the module, never a PIN.
"""

from __future__ import annotations

from ..errors import (
    EngineAuthError,
    EngineConfigError,
    EngineError,
    EngineUnavailable,
    KeyExists,
    KeyNotFoundInEngine,
    OperationNotSupported,
    UnsupportedKeyType,
)


class ModuleMissing(EngineConfigError):
    title = "PKCS#11 module not found"


class ModuleInvalid(EngineConfigError):
    title = "Not a PKCS#11 module"


class TokenNotFound(EngineConfigError):
    title = "Token not found"


class WrongPin(EngineAuthError):
    title = "Wrong PIN"


class PinLocked(EngineAuthError):
    title = "PIN locked"


class PinMismatch(EngineAuthError):
    title = "PIN differs from the open session"


class MechanismNotSupported(OperationNotSupported):
    title = "Mechanism not supported"


class KeyTypeNotOnToken(UnsupportedKeyType):
    """A key type the token has no generation or signing mechanism for."""

    title = "Mechanism not supported"


# PIN state flags of CK_TOKEN_INFO (PKCS#11 v2.40 §5.2).
CKF_USER_PIN_COUNT_LOW = 0x00010000
CKF_USER_PIN_FINAL_TRY = 0x00020000
CKF_USER_PIN_LOCKED = 0x00040000
CKF_USER_PIN_TO_BE_CHANGED = 0x00080000


def pin_flag_note(flags: int) -> str:
    """A sentence about the token's PIN counters, or '' when it reports none."""
    if flags & CKF_USER_PIN_LOCKED:
        return "The token now reports the user PIN as locked (CKF_USER_PIN_LOCKED)."
    if flags & CKF_USER_PIN_FINAL_TRY:
        return "One try is left before the token locks the PIN (CKF_USER_PIN_FINAL_TRY)."
    if flags & CKF_USER_PIN_COUNT_LOW:
        return "The token reports failed logins (CKF_USER_PIN_COUNT_LOW): few tries may be left."
    return ""


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


_KEY_GONE = {"NoSuchKey", "ObjectHandleInvalid", "KeyHandleInvalid"}
_UNREACHABLE = {
    "DeviceRemoved", "DeviceError", "TokenNotPresent", "TokenNotRecognised", "SessionHandleInvalid",
    "SessionClosed", "SessionCount", "UserNotLoggedIn", "GeneralError", "FunctionFailed",
}
_UNSUPPORTED = {"MechanismInvalid", "MechanismParamInvalid", "FunctionNotSupported"}
_BAD_KEY_SPEC = {"KeySizeRange", "DomainParamsInvalid", "CurveNotSupported", "TemplateInconsistent"}
_MEMORY = {"DeviceMemory", "HostMemory"}
_READ_ONLY = {"TokenWriteProtected", "SessionReadOnly"}


def is_session_lost(exc: BaseException) -> bool:
    """True when the shared session must be reopened (token reinserted, session closed elsewhere)."""
    return bool(_names(exc) & {"SessionHandleInvalid", "SessionClosed", "UserNotLoggedIn", "DeviceRemoved",
                               "TokenNotPresent", "CryptokiNotInitialized"})


def translate(exc: Exception, where: str, what: str, mechanism: str | None = None) -> Exception:
    """A typed error for a python-pkcs11 exception raised while doing ``what`` on ``where``.

    ``where`` names the token (``token 'ca' of module /x.so``); ``mechanism`` the
    ``CKM_*`` name in use, for mechanism errors. Anything not a PKCS#11 error is
    returned unchanged (a bug, for the caller's log).
    """
    names = _names(exc)
    if "PKCS11Error" not in names:
        return exc
    cause = type(exc).__name__
    if names & _KEY_GONE:
        return KeyNotFoundInEngine(f"The key is no longer on {where}.")
    if names & _UNSUPPORTED:
        named = mechanism or "the mechanism"
        return MechanismNotSupported(f"{_cap(where)} refused {named} ({cause}) to {what}.")
    if names & _BAD_KEY_SPEC:
        return UnsupportedKeyType(f"{_cap(where)} cannot {what}: it refused the key parameters ({cause}).")
    if "PinLocked" in names:
        return PinLocked(f"The user PIN of {where} is locked.", hint="The security officer must unlock or reset it.")
    if names & {"PinIncorrect", "PinInvalid", "PinLenRange"}:
        return WrongPin(f"The user PIN of {where} is wrong.", hint="Check the PIN and give this engine the right one.")
    if "PinExpired" in names:
        return EngineAuthError(f"The user PIN of {where} has expired and must be changed with the token's tools.")
    if "UserPinNotInitialized" in names:
        return EngineConfigError(f"{_cap(where)} has no user PIN set.",
                                 hint="Initialise the user PIN with the token's tools first.")
    if names & _MEMORY:
        return EngineError(f"{_cap(where)} ran out of memory to {what} ({cause}).")
    if names & _READ_ONLY:
        return EngineError(f"{_cap(where)} is write-protected: cannot {what}.")
    if "AttributeSensitive" in names:
        return EngineError(f"{_cap(where)} refused to reveal an attribute needed to {what}.")
    if names & _UNREACHABLE:
        return EngineUnavailable(f"{_cap(where)} could not {what}: {cause}.",
                                 hint="Check that the token is present and the module works.")
    if "MultipleObjectsReturned" in names:
        return EngineError(f"Several objects on {where} match: cannot {what}.")
    return EngineError(f"{_cap(where)} refused to {what}: {cause}.")


__all__ = [
    "KeyExists", "KeyNotFoundInEngine", "KeyTypeNotOnToken", "MechanismNotSupported", "ModuleInvalid",
    "ModuleMissing", "PinLocked", "PinMismatch", "TokenNotFound", "WrongPin", "is_session_lost",
    "pin_flag_note", "translate",
]
