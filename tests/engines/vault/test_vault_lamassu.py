"""A Vault KV v2 engine shared with Lamassu: registered and shown as such; no prefix.

Lamassu keeps each key at ``<mount_path>/data/<key id>`` (lamassuiot/lamassuiot
engines/crypto/vaultkv2/vaultkv2.go: ``kvv2Client.Put(ctx, keyID, …)`` on the mount, and
``ListPrivateKeyIDs`` lists ``<mount_path>/metadata``); the mount is its configuration
(engines/crypto/vaultkv2/config/config.go ``MountPath``), so any mount may be shared.
"""

from __future__ import annotations

from tests.engines.lamassu_shared import refused, register_shared


def test_registers_shared_on_any_mount_and_refuses_a_prefix_with_the_reason(openbao, lab, mount, tmp_path):
    options = {"address": openbao.address, "mount": mount, "timeout": "5"}
    cli = register_shared(tmp_path, "HASHICORP_VAULT_KV_V2", "vault", options, lab.full_token)
    line = refused(cli, "HASHICORP_VAULT_KV_V2", {**options, "prefix": "kms/", "lamassu": "true"}, lab.full_token)
    assert "shared with Lamassu takes no prefix" in line and "<mount>/data/<key id>" in line, line
    assert lab.full_token not in line
