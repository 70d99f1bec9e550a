"""An engine kept in this process's memory, as another package would plug one in.

It stores each key as PEM PKCS#8 in a dict and leaves everything else to
``StoredKeyEngine``: what a plugged engine has to write, and what the registry's
entry-point tests load through a real ``EntryPoint``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import ClassVar

from engines import algorithms as A
from engines import errors as E
from engines import keys as K
from engines.base import NativeKey
from engines.stored import StoredKeyEngine


class MemoryEngine(StoredKeyEngine):
    TYPE = "TEST_MEMORY"
    DISPLAY = "In-memory test engine"
    PROVIDER = "kms-tui tests"
    SECURITY_LEVEL = 0
    # An outside engine offers the subset it holds; a small one keeps its contract run short.
    SUPPORTED: ClassVar[dict[str, tuple[int, ...]]] = {A.RSA: (2048,), A.ECDSA: (256, 384), A.ED25519: (256,)}
    # engine id -> key id -> PEM PKCS#8: the keys outlive a driver, as a real store's do
    STORES: ClassVar[dict[str, dict[str, bytes]]] = {}

    @property
    def blobs(self) -> dict[str, bytes]:
        return self.STORES.setdefault(self.engine_id, {})

    def _read_private(self, ref: str, *, signing: bool = False):
        blob = self.blobs.get(ref) if isinstance(ref, str) else None
        if blob is None:
            raise self._not_found(ref)
        return K.parse_key(blob).private_key

    def _write_private(self, key_id: str, private) -> str:
        if key_id in self.blobs:
            raise E.KeyExists(f"Key {key_id} already exists in engine {self.engine_id!r}.")
        self.blobs[key_id] = K.private_pkcs8_pem(private)
        return key_id

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        for ref in sorted(self.blobs):
            yield self.get(ref)

    def delete(self, ref: str, **options: str) -> None:
        if self.blobs.pop(ref, None) is None:
            raise self._not_found(ref)
