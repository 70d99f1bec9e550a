"""Azure Key Vault inventory of known keys: the listing alone, with the enabled flag it carries."""

from __future__ import annotations


def test_known_keys_come_from_the_listing_with_their_enabled_flag(server, make_driver):
    maker = make_driver()
    disabled, enabled, new = (maker.create("ECDSA", 256) for _ in range(3))
    version = server.vault.get(disabled.ref)["key"]["kid"].rsplit("/", 1)[1]
    server.vault.update(disabled.ref, version, {"attributes": {"enabled": False}})
    server.vault.delete(enabled.ref)
    server.vault.recover(enabled.ref)
    driver = make_driver()  # nothing read before
    listed = {k.ref: k for k in driver.inventory({disabled.ref, enabled.ref})}
    assert set(listed) == {disabled.ref, enabled.ref, new.ref}
    assert (listed[disabled.ref].light, listed[disabled.ref].state, listed[disabled.ref].public_key) == (
        True, "Disabled", None)
    assert (listed[enabled.ref].light, listed[enabled.ref].state) == (True, None)
    assert not listed[new.ref].light and listed[new.ref].key_id == new.key_id
    server.vault.delete(enabled.ref)
    full = {k.ref: k for k in driver.inventory({disabled.ref, enabled.ref}, full=True)}
    assert set(full) == {disabled.ref, new.ref} and not any(k.light for k in full.values())
    assert full[disabled.ref].key_id == disabled.key_id and full[disabled.ref].state == "Disabled"
