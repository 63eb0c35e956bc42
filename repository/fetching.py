"""Fetching web pages safely: the one way the site reaches out to addresses people give it.

Reference link checks and source-metadata lookups both go through `fetch`. The addresses
come from the public, so the fetcher treats every one as hostile:

- only http and https, no user names or passwords in the address;
- the host is resolved here, and the request is refused if ANY of its addresses is not
  globally routable (loopback, private, shared, link-local such as 169.254.169.254,
  multicast, reserved, unspecified, and the IPv6 forms of all of them, IPv4-mapped and
  NAT64 addresses included);
- the connection then goes to the address that was checked (with the host name in the
  Host header, and as TLS server name and certificate name), so a DNS answer that changes
  between the check and the connection cannot slip through;
- redirects are followed by hand, at most FETCH_MAX_REDIRECTS, and every hop is checked
  again the same way;
- connect and read timeouts, an overall deadline, and a cap on the bytes read;
- a User-Agent that names the site, and a minimum interval between requests to one host,
  shared by every process through Django's cache.

The only way past the address check is FETCH_ALLOWED_PRIVATE_HOSTS, which is empty and
read from no environment variable: tests set it to reach their server on 127.0.0.1.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import urllib3
from django.conf import settings
from django.core.cache import cache
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

SCHEMES = {"http": 80, "https": 443}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# NAT64 prefixes carry an IPv4 address in their last 32 bits; that address is checked too.
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class FetchError(Exception):
    """The page could not be fetched. `str()` is short enough for a status column."""


class FetchRefused(FetchError):
    """Not fetched on purpose: a scheme other than http(s), or an address that is not public."""


class FetchTooManyRedirects(FetchError):
    """More redirects than FETCH_MAX_REDIRECTS."""


class FetchTooLarge(FetchError):
    """The body is larger than the cap (and the caller did not ask for the first part only)."""


class FetchNetworkError(FetchError):
    """A failure that may pass: the name did not resolve, the connection failed or dropped.
    Tasks retry these with backoff."""


class FetchTimeout(FetchNetworkError):
    """The connection, a read, or the whole fetch took longer than allowed."""


class FetchHostBusy(FetchNetworkError):
    """Another request to the same host is too recent and the wait would be too long."""


@dataclass(frozen=True)
class FetchResult:
    url: str  # what was asked for
    final_url: str  # where it ended after redirects
    status: int
    headers: dict  # lower-cased names
    body: bytes
    truncated: bool  # the body was longer than max_bytes and is cut there
    redirects: int

    @property
    def content_type(self):
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self):
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip("\"'") or None
        return None


def user_agent():
    """Names the site and where to read about it, as polite crawlers do."""
    if settings.FETCH_USER_AGENT:
        return settings.FETCH_USER_AGENT
    name = "".join(ch for ch in settings.SITE_NAME if 32 <= ord(ch) < 127) or "Incident repository"
    return f"Mozilla/5.0 (compatible; {name} link checker; +{settings.SITE_URL})"


def _lookup(host, port):
    """The resolver; one function so that tests can stand in for DNS."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def is_public_address(address):
    """True only for an address that is globally routable unicast."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if any(ip in network for network in NAT64_NETWORKS):
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _addresses(host, port):
    """The checked addresses to connect to. Raises FetchRefused or FetchNetworkError."""
    allowed = host in settings.FETCH_ALLOWED_PRIVATE_HOSTS
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            infos = _lookup(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchNetworkError(f"The host name {host} did not resolve") from exc
        addresses = list(dict.fromkeys(info[4][0].split("%", 1)[0] for info in infos))
        if not addresses:
            raise FetchNetworkError(f"The host name {host} did not resolve")
    if not allowed:
        for address in addresses:
            if not is_public_address(address):
                raise FetchRefused(f"Refused: {host} is not a public address")
    return addresses


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower-case, without brackets
    port: int
    path: str  # path and query, never empty
    host_header: str


def _target(url):
    """Check the address itself (not yet where it points). Raises FetchRefused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise FetchRefused("Refused: not a valid web address") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise FetchRefused(f"Refused: only http and https addresses are fetched, not {scheme or 'this'}")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("Refused: addresses with a user name or password are not fetched")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchRefused("Refused: the address has no host")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise FetchRefused("Refused: the host name is not valid") from None
    port = port or SCHEMES[scheme]
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == SCHEMES[scheme] else f"{shown}:{port}"
    # Percent-encode what may not travel raw (spaces, non-ASCII); escapes already there stay.
    path = quote(parts.path or "/", safe=PATH_SAFE)
    if parts.query:
        path = f"{path}?{quote(parts.query, safe=PATH_SAFE + '?')}"
    return _Target(scheme, host, port, path, host_header)


def _pace(host, deadline):
    """Wait until this host may be asked again; the slot is shared through the cache."""
    interval = settings.FETCH_HOST_INTERVAL
    if not interval:
        return
    key = f"fetch:host:{host}"
    give_up = min(deadline, time.monotonic() + settings.FETCH_HOST_MAX_WAIT)
    while not cache.add(key, 1, timeout=interval):
        if time.monotonic() >= give_up:
            raise FetchHostBusy(f"{host} was asked too recently; try again later")
        time.sleep(min(0.25, max(0.05, interval / 8)))


def _pool(target, address):
    timeout = urllib3.Timeout(connect=settings.FETCH_CONNECT_TIMEOUT, read=settings.FETCH_READ_TIMEOUT)
    common = {"port": target.port, "timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.FETCH_CA_CERTS or None,
            server_hostname=target.host,
            assert_hostname=target.host,
            **common,
        )
    return urllib3.HTTPConnectionPool(address, **common)


def _request(target, method, addresses):
    """Send the request to the first checked address that answers. Returns (response, pool)."""
    headers = {
        "Host": target.host_header,
        "User-Agent": user_agent(),
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
        "Accept-Encoding": "gzip, deflate",
    }
    last_error = None
    for address in addresses:
        pool = _pool(target, address)
        try:
            response = pool.urlopen(
                method,
                target.path,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
                assert_same_host=False,
            )
        except NewConnectionError as exc:  # refused or unreachable: the next address may answer
            last_error = exc
            pool.close()
            continue
        except HTTPError as exc:
            pool.close()
            raise _translate(exc, target.host) from exc
        except ValueError as exc:  # http.client refuses what urllib3 let through
            pool.close()
            raise FetchError(f"Not a valid request for {target.host}") from exc
        return response, pool
    raise _translate(last_error, target.host) from last_error


def _translate(exc, host):
    if isinstance(exc, NewConnectionError):
        return FetchNetworkError(f"Could not connect to {host}")
    if isinstance(exc, ConnectTimeoutError):
        return FetchTimeout(f"Timed out connecting to {host}")
    if isinstance(exc, ReadTimeoutError):
        return FetchTimeout(f"Timed out waiting for {host}")
    if isinstance(exc, DecodeError):
        return FetchError(f"{host} sent a body that could not be decoded")
    if isinstance(exc, SSLError):
        return FetchError(f"TLS failed with {host}: {str(exc.args[0] if exc.args else exc)[:150]}")
    return FetchNetworkError(f"Network error with {host}: {type(exc).__name__}")


def _read(response, max_bytes, truncate, deadline, host):
    """Read at most max_bytes (+1 to notice more). Returns (body, truncated)."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(f"The page is larger than {max_bytes:,} bytes")
    body = bytearray()
    try:
        while len(body) <= max_bytes:
            if time.monotonic() > deadline:
                raise FetchTimeout(f"Reading from {host} took too long")
            # read1: what has arrived (at most the amount), so the deadline is checked often.
            chunk = response.read1(min(CHUNK, max_bytes + 1 - len(body)), decode_content=True)
            if not chunk:
                return bytes(body), False
            body.extend(chunk)
    except HTTPError as exc:
        raise _translate(exc, host) from exc
    if not truncate:
        raise FetchTooLarge(f"The page is larger than {max_bytes:,} bytes")
    return bytes(body[:max_bytes]), True


def fetch(url, *, method="GET", max_bytes=None, truncate=False):
    """Fetch `url` with every guard of this module. Returns a FetchResult.

    `max_bytes` caps the body (FETCH_MAX_BYTES when None; 0 reads no body). A longer body
    raises FetchTooLarge, or with `truncate` is cut at the cap and marked `truncated`.
    Raises FetchRefused, FetchTooManyRedirects, FetchTooLarge, FetchTimeout,
    FetchNetworkError (and FetchHostBusy, one of those), or FetchError for the rest.
    """
    method = method.upper()
    if method not in {"GET", "HEAD"}:
        raise ValueError("Only GET and HEAD are fetched.")
    max_bytes = settings.FETCH_MAX_BYTES if max_bytes is None else max_bytes
    deadline = time.monotonic() + settings.FETCH_TOTAL_TIMEOUT
    current = url.strip()
    for redirects in range(settings.FETCH_MAX_REDIRECTS + 1):
        target = _target(current)
        addresses = _addresses(target.host, target.port)
        _pace(target.host, deadline)
        if time.monotonic() > deadline:
            raise FetchTimeout(f"Fetching {url[:80]} took too long")
        response, pool = _request(target, method, addresses)
        try:
            location = response.headers.get("location", "")
            if response.status in REDIRECT_STATUSES and location:
                current = urljoin(current, location.strip())
                continue
            headers = {name.lower(): value for name, value in response.headers.items()}
            if method == "HEAD" or max_bytes == 0:
                body, truncated = b"", False
            else:
                body, truncated = _read(response, max_bytes, truncate, deadline, target.host)
            return FetchResult(url, current, response.status, headers, body, truncated, redirects)
        finally:
            response.close()
            pool.close()
    raise FetchTooManyRedirects(f"More than {settings.FETCH_MAX_REDIRECTS} redirects")
