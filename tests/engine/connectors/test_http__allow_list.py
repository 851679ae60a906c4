"""The outbound allow-list: internal addresses are refused before any connection is made."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from engine.connectors.guard import Policy, parse_policy

pytestmark = pytest.mark.django_db


class Connections:
    def __init__(self) -> None:
        self.attempts: list[object] = []
        self.allowed: set[tuple[str, int]] = set()


@pytest.fixture
def connections(monkeypatch):
    """Fail loudly if a TCP connection is opened to anything but `allowed`: a refusal sends nothing."""
    spy = Connections()
    # FlowSync's own Redis is not an outbound call (a connector run publishes its lag there).
    redis = urlsplit(settings.REDIS_URL)
    spy.allowed.add((redis.hostname or "127.0.0.1", redis.port or 6379))
    real_connect = socket.socket.connect

    def connect(sock, address):  # type: ignore[no-untyped-def]
        if tuple(address[:2]) in spy.allowed:
            return real_connect(sock, address)
        spy.attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", connect)
    return spy


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:{port}/orders/1", "loopback"),
        ("http://localhost:{port}/orders/1", "loopback"),
        ("http://[::1]:{port}/orders/1", "loopback"),
        ("http://10.20.30.40/admin", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "cloud metadata"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "cloud metadata"),
        ("http://0.0.0.0:{port}/", "unspecified"),
    ],
)
def test_internal_addresses_are_refused_without_an_allow_list_entry(engine, http_server, connections, settings,
                                                                     url, kind):
    settings.CONNECTOR_HTTP_ALLOW = ""
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=url.format(port=http_server.port))
    assert engine.run_connectors() == 1
    incident = engine.incident(key)
    assert incident.error_type == "JOB_NO_RETRIES"
    assert "is not allowed" in incident.error_message and f"{kind} addresses are refused" in incident.error_message
    assert "FLOWSYNC_CONNECTOR_HTTP_ALLOW" in incident.error_message
    assert engine.job(key).failures == 1  # not retried: the address will not become public
    assert http_server.seen == [] and connections.attempts == []


def test_a_redirect_to_an_internal_address_is_refused_too(engine, http_server, allow_local, connections):
    connections.allowed.add(("127.0.0.1", http_server.port))
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=http_server.url + "/redirect-to/?to=http://10.9.8.7/secret")
    engine.run_connectors()
    incident = engine.incident(key)
    assert "10.9.8.7" in incident.error_message and "private addresses are refused" in incident.error_message
    assert http_server.paths() == ["/redirect-to/"]
    assert connections.attempts == []


def test_an_allow_list_entry_opens_exactly_what_it_names():
    policy = parse_policy("127.0.0.1, 10.0.0.0/8 api.internal *.corp.example 169.254.0.0/16")
    ip = ipaddress.ip_address
    assert policy.address_allowed(ip("127.0.0.1"))
    assert not policy.address_allowed(ip("127.0.0.2"))
    assert policy.address_allowed(ip("10.200.1.1"))
    assert not policy.address_allowed(ip("172.16.0.1"))
    assert policy.address_allowed(ip("169.254.10.10"))
    # The metadata address needs an entry of its own, however broad the range that contains it.
    assert not policy.address_allowed(ip("169.254.169.254"))
    assert parse_policy("169.254.169.254").address_allowed(ip("169.254.169.254"))
    # A listed host name may resolve anywhere (but not to the metadata address).
    assert policy.host_listed("api.internal") and policy.host_listed("API.Internal.")
    assert policy.host_listed("db.corp.example") and not policy.host_listed("corp.example.evil")
    assert policy.address_allowed(ip("192.168.0.5"), host_listed=True)
    assert not policy.address_allowed(ip("169.254.169.254"), host_listed=True)


def test_public_addresses_are_allowed_by_default_and_odd_ones_are_not():
    policy = Policy()
    ip = ipaddress.ip_address
    assert policy.address_allowed(ip("93.184.216.34"))
    assert policy.address_allowed(ip("2606:2800:220:1:248:1893:25c8:1946"))
    for refused in ("100.64.0.1", "224.0.0.1", "::", "fe80::1", "fc00::1", "2002:a00:1::1", "::ffff:10.0.0.1"):
        assert not policy.address_allowed(ip(refused)), refused


def test_every_resolved_address_must_be_allowed(monkeypatch):
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
               (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: answers)
    from engine.connectors.guard import AddressRefused

    with pytest.raises(AddressRefused, match=r"rebind\.example \(10\.0\.0\.7\)"):
        Policy().resolve("rebind.example", 443)
    answers.pop()
    assert Policy().resolve("rebind.example", 443) == "93.184.216.34"


def test_a_bad_setting_fails_the_job_with_the_entry_named(engine, settings, connections):
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1, http://oops/"
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url="http://93.184.216.34/")
    engine.run_connectors()
    assert "'http://oops/' is neither a host name nor an IP/CIDR" in engine.incident(key).error_message


@pytest.mark.parametrize("literal", [
    "64:ff9b::a00:1",  # NAT64 well-known prefix → 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 → 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 → 169.254.169.254 (metadata)
    "64:ff9b:1::c0a8:101",  # NAT64 local-use prefix → 192.168.1.1
    "::a00:1",  # IPv4-compatible ::10.0.0.1
    "::127.0.0.1",  # IPv4-compatible loopback
    "::ffff:0:a00:1",  # IPv4-translated (SIIT) → 10.0.0.1
    "::ffff:127.0.0.1",  # IPv4-mapped
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:a00:1::1",  # Teredo with server 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo with client 10.0.0.1 (stored inverted)
    "2001:db8::5efe:a00:1",  # ISATAP interface id with 10.0.0.1
])
def test_every_ipv6_form_is_judged_by_the_ipv4_it_embeds(literal):
    from engine.connectors.guard import AddressRefused

    with pytest.raises(AddressRefused):
        Policy().resolve(literal, 80)
    with pytest.raises(AddressRefused):
        Policy().resolve(f"[{literal}]".strip("[]"), 443)


def test_translated_forms_of_public_ipv4_stay_reachable():
    policy, ip = Policy(), ipaddress.ip_address
    assert policy.address_allowed(ip("64:ff9b::5db8:d822"))  # NAT64 of 93.184.216.34
    assert policy.address_allowed(ip("::ffff:93.184.216.34"))
    # Listing the private IPv4 opens its NAT64 form too (it is the same destination).
    assert parse_policy("10.0.0.0/8").address_allowed(ip("64:ff9b::a00:1"))
