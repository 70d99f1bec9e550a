"""Subjects and SANs as typed for ``keys csr``: their order, their escapes, and every refusal."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from kms_tui.service.errors import InvalidInput
from kms_tui.service.x509_names import parse_sans, parse_subject


def oids_and_values(name: x509.Name) -> list[tuple[str, str]]:
    return [(a.oid.dotted_string, a.value) for a in name]


def test_slash_form_keeps_the_written_order():
    name = parse_subject("/C=ES/O=Example/CN=device-ca")
    assert oids_and_values(name) == [("2.5.4.6", "ES"), ("2.5.4.10", "Example"), ("2.5.4.3", "device-ca")]
    assert len(name.rdns) == 3
    assert oids_and_values(parse_subject("/CN=x/C=ES")) == [("2.5.4.3", "x"), ("2.5.4.6", "ES")]


def test_rfc4514_is_read_reversed_to_the_same_name():
    slash = parse_subject("/C=ES/O=Example/CN=device-ca")
    assert parse_subject("CN=device-ca,O=Example,C=ES") == slash
    assert parse_subject("CN=device-ca, O=Example, C=ES").public_bytes() == slash.public_bytes()
    assert slash.rfc4514_string() == "CN=device-ca,O=Example,C=ES"


def test_every_attribute_name_and_the_dotted_form():
    name = parse_subject("/C=es/ST=Madrid/L=Madrid/O=Ex/OU=PKI/CN=x/serialNumber=A-1/emailAddress=a@b.es"
                         "/DC=example/UID=u1/2.5.4.97=VATES-B1")
    assert [a.oid for a in name][:10] == [
        NameOID.COUNTRY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.LOCALITY_NAME, NameOID.ORGANIZATION_NAME,
        NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER, NameOID.EMAIL_ADDRESS,
        NameOID.DOMAIN_COMPONENT, NameOID.USER_ID]
    assert oids_and_values(name)[0] == ("2.5.4.6", "ES") and oids_and_values(name)[-1] == ("2.5.4.97", "VATES-B1")
    assert parse_subject("cn=x,c=ES") == parse_subject("/C=ES/CN=x")


def test_escapes():
    assert oids_and_values(parse_subject(r"/O=A\/B/CN=x\\y")) == [("2.5.4.10", "A/B"), ("2.5.4.3", "x\\y")]
    assert oids_and_values(parse_subject(r"CN=a\,b\+c,O=caf\C3\A9")) == [("2.5.4.10", "café"), ("2.5.4.3", "a,b+c")]
    assert oids_and_values(parse_subject("/O=Example, S.L./CN=a,b")) == [("2.5.4.10", "Example, S.L."), ("2.5.4.3", "a,b")]


@pytest.mark.parametrize(("subject", "words"), [
    ("", "empty"),
    ("/", "empty"),
    ("/C=ES/CN=", "'CN=': the value is empty"),
    ("/C=ES/FOO=x", "'FOO' is not an attribute name"),
    ("CN=x,Bogus=y", "'Bogus' is not an attribute name"),
    ("/C=ESP/CN=x", "'C=ESP': a country is 2 letters"),
    ("/C=E1/CN=x", "a country is 2 letters"),
    ("/CN=a\x00b", "control character"),
    ("/CN=a\nb", "control character"),
    ("CN=a\x7f", "control character"),
    ("/CN=" + "x" * 65, "CN takes at most 64"),
    ("/O=" + "x" * 65, "O takes at most 64"),
    ("/CN=x/O", "has no '='"),
    ("/CN=x\\", "lone backslash"),
    ("/serialNumber=a_b", "serialNumber takes"),
    ("/emailAddress=nobody", "has an @"),
    ("/emailAddress=ñ@b.es", "ASCII only"),
    ("CN=\\ff\\fe", "not UTF-8"),
])
def test_refusals_name_the_part(subject, words):
    with pytest.raises(InvalidInput) as refused:
        parse_subject(subject)
    assert words in refused.value.message


def test_sans_typed_and_in_order():
    names = parse_sans(["dns:*.example.com", "DNS:xn--caf-dma.example", "ip:192.0.2.1", "ip:2001:db8::1",
                        "email:ops@example.com", "uri:spiffe://example.org/ca"])
    assert names == [x509.DNSName("*.example.com"), x509.DNSName("xn--caf-dma.example"),
                     x509.IPAddress(ipaddress.ip_address("192.0.2.1")), x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
                     x509.RFC822Name("ops@example.com"), x509.UniformResourceIdentifier("spiffe://example.org/ca")]


@pytest.mark.parametrize(("san", "words"), [
    ("example.com", "write dns:NAME"),
    ("x500:CN=a", "write dns:NAME"),
    ("dns:", "empty"),
    ("dns:a b.example", "spaces"),
    ("dns:-a.example", "'-a' is not a DNS label"),
    ("dns:a-.example", "'a-' is not a DNS label"),
    ("dns:a..example", "'' is not a DNS label"),
    ("dns:a.*.example", "'*' is not a DNS label"),
    ("dns:*.", "is not a DNS label"),
    ("dns:*", "needs a domain"),
    ("dns:café.example", "xn--"),
    ("dns:" + "a" * 64 + ".example", "is not a DNS label"),
    ("ip:300.1.1.1", "not an IPv4 or IPv6"),
    ("ip:example.com", "not an IPv4 or IPv6"),
    ("email:ops.example.com", "local@domain"),
    ("email:@example.com", "local@domain"),
    ("email:ops@bad_domain", "its domain"),
    ("uri:example.com/path", "starts with its scheme"),
    ("uri:1http://x", "starts with its scheme"),
    pytest.param("uri:https://example.com/" + "a" * 1024, "the limit is 1024", id="uri-too-long"),
    ("dns:a\x00.example", "control characters"),
])
def test_san_refusals(san, words):
    with pytest.raises(InvalidInput) as refused:
        parse_sans([san])
    assert words in refused.value.message and repr(san[:20])[:-1] in refused.value.message


def test_a_san_given_twice_is_refused():
    with pytest.raises(InvalidInput, match="given twice"):
        parse_sans(["dns:a.example", "DNS:a.example"])
