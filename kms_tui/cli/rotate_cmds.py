"""``kms-tui keys rotate REF``: a successor key, every alias moved to it, the key retired."""

from __future__ import annotations

from .io import emit_json, safe_text


def _binding(binding: dict) -> str:
    return f"{safe_text(binding.get('resource_type'), 80)}/{safe_text(binding.get('resource_id'), 120)}"


def rotate(kms, args) -> int:
    result = kms.rotation.rotate(args.ref, engine_id=args.engine, algorithm=args.algorithm, size=args.size,
                                 name=args.name, move_bindings=args.move_bindings)
    if args.json:
        emit_json(result.to_json())
        return 0
    pred, new = result.predecessor, result.successor
    print(f"Key {safe_text(pred.name, 80)} rotated to {safe_text(new.name, 80)} ({new.algorithm} {new.size}, "
          f"key id {new.key_id[:16]}…, engine {safe_text(new.engine_id, 80)}).")
    aliases = ", ".join(safe_text(a, 80) for a in result.aliases) or "none"
    print(f"Aliases moved: {aliases}.")
    if result.engine_aliases:
        print(f"Engine aliases moved: {', '.join(safe_text(a, 120) for a in result.engine_aliases)}.")
    if result.engine_aliases_left:
        print(f"Engine aliases left on {safe_text(pred.name, 80)} (the successor is on another engine): "
              f"{', '.join(safe_text(a, 120) for a in result.engine_aliases_left)}.")
    if result.bindings_moved:
        print(f"Bindings moved: {', '.join(_binding(b) for b in result.bindings_moved)}.")
    if result.bindings_left:
        print(f"Bindings left on {safe_text(pred.name, 80)} (move them with keys bind/unbind, or rotate with "
              f"--move-bindings): {', '.join(_binding(b) for b in result.bindings_left)}.")
    print(f"{safe_text(pred.name, 80)} is retired: it still verifies; signing with it needs --allow-retired.")
    return 0
