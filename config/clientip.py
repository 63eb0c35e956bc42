"""The client's address: one notion of it for the rate limit and the sign-in lockout.

Behind proxies, the address the proxies saw is in X-Forwarded-For, which anyone can also
send. It is believed only from a trusted peer:
- TRUSTED_PROXY_NETWORKS set: the peer (REMOTE_ADDR) must be in one of these networks;
  the client is then the right-most forwarded address that is not itself in them (or, with
  TRUSTED_PROXIES set as well, the one that many hops from the right).
- Only TRUSTED_PROXIES set: every peer is taken for the proxy (the site must be reachable
  only through it); the client is the address TRUSTED_PROXIES hops from the right.
- Neither: X-Forwarded-For is ignored, and the first one seen with DEBUG off is logged.
"""

import ipaddress
import logging

from django.conf import settings

log = logging.getLogger(__name__)
_warned = False


def parse_address(value):
    """An ip_address from "1.2.3.4", "1.2.3.4:5678", "[::1]:80" or "::1"; None if it is none."""
    value = (value or "").strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def trusted_networks():
    return [ipaddress.ip_network(network, strict=False) for network in settings.TRUSTED_PROXY_NETWORKS]


def _in(address, networks):
    return address is not None and any(address in network for network in networks)


def peer_is_trusted(request, networks=None):
    networks = trusted_networks() if networks is None else networks
    if networks:
        return _in(parse_address(request.META.get("REMOTE_ADDR")), networks)
    return settings.TRUSTED_PROXIES > 0


def client_ip(request):
    """The client's address as a string ("" if there is none)."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = trusted_networks()
    forwarded_header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded_header or not peer_is_trusted(request, networks):
        return remote
    forwarded = [parse_address(part) for part in forwarded_header.split(",")]
    if settings.TRUSTED_PROXIES:
        if len(forwarded) < settings.TRUSTED_PROXIES:
            return remote
        chosen = forwarded[-settings.TRUSTED_PROXIES]
        return str(chosen) if chosen is not None else remote
    for address in reversed(forwarded):
        if address is None:
            return remote  # garbage where a proxy should have written an address
        if not _in(address, networks):
            return str(address)
    return str(forwarded[0]) if forwarded[0] is not None else remote


def warn_if_forwarded_from_untrusted_peer(request):
    """Log once per process that X-Forwarded-For came from a peer that is not trusted: behind a
    proxy that is not configured, every client looks like the proxy (one shared rate limit
    and lockout); without one, a client is trying to choose its own address."""
    global _warned
    if _warned or settings.DEBUG or "HTTP_X_FORWARDED_FOR" not in request.META:
        return
    if peer_is_trusted(request):
        return
    _warned = True
    log.warning(
        "A request from %s carries X-Forwarded-For, which is ignored: this peer is not a trusted "
        "proxy. Behind a proxy, set TRUSTED_PROXIES (the number of proxies) or TRUSTED_PROXY_NETWORKS "
        "(their networks), or every client is taken for the proxy.",
        request.META.get("REMOTE_ADDR", ""),
    )
