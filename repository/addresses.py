"""Web addresses compared as people mean them: the same page whatever the tracking."""

import functools
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that say who sent the reader, not which page it is.
TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "ga_")
TRACKING_PARAMETERS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mkt_tok",
    "ref",
    "ref_src",
    "cmpid",
    "smid",
    "sr_share",
    "ocid",
    "share",
    "src",
}


@functools.lru_cache(maxsize=65_536)
def normalize_url(url):
    """The key two addresses of one page share: no scheme, no `www.`, no tracking
    parameters, no fragment, no AMP path, no trailing slash, the host in lower case.
    '' for what is not a web address. Remembered: an import meets each address several
    times (reading, comparing, publishing)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if host.startswith("amp."):
        host = host[4:]
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    for amp in ("/amp/", "/amp"):
        if path.endswith(amp):
            path = path[: -len(amp)] or "/"
    if path.startswith("/amp/"):
        path = path[4:]
    path = path.rstrip("/")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMETERS
        and not key.lower().startswith(TRACKING_PREFIXES)
        and key.lower() != "amp"
    ]
    return urlunsplit(("", host, path, urlencode(sorted(query)), "")).lstrip("/")


KEY_LENGTH = 500  # the stored keys' length (Incident.source_key, Reference.url_key)


def address_key(url):
    """normalize_url cut to the length of the indexed columns that store it."""
    return normalize_url(url)[:KEY_LENGTH]
