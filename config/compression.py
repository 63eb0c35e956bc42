"""Compressed responses: brotli when the client accepts it, else gzip, for text only.

BREACH: a compressed response that holds a secret next to text an attacker can choose leaks
the secret through its length. The secrets pages hold are CSRF tokens (every form; editors'
pages all have one) and a contributor's status link (its page is private). So a response is
never compressed when its page used the CSRF token while rendering (Django then sets
request.META["CSRF_COOKIE_NEEDS_UPDATE"]), when it sets the CSRF cookie, or when it is
private or no-store; what is left is what anyone may read.

CompressionMiddleware sits just inside CsrfViewMiddleware (after it in MIDDLEWARE), so that
it sees the flag before CsrfViewMiddleware clears it. The page cache (repository/caching.py)
uses the same functions to store pages compressed once.
"""

import gzip

import brotli
from django.conf import settings
from django.utils.cache import patch_vary_headers

MIN_LENGTH = 200  # shorter bodies gain nothing
BROTLI_QUALITY = 5  # about gzip's speed, smaller output (11 is for files compressed once)
GZIP_LEVEL = 6
TYPES = {
    "text/html",
    "text/plain",
    "text/css",
    "text/csv",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/schema+json",
    "application/ld+json",
    "application/xml",
    "application/atom+xml",
    "image/svg+xml",
}


def negotiate(request):
    """The encoding to send: "br", "gzip", or "" (none), from Accept-Encoding's q-values."""
    accepted = {}
    for part in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            accepted[name.strip().lower()] = quality
    wildcard = accepted.get("*", 0.0)
    for encoding in ("br", "gzip"):
        if accepted.get(encoding, wildcard) > 0:
            return encoding
    return ""


def compress(body, encoding):
    if encoding == "br":
        return brotli.compress(body, quality=BROTLI_QUALITY, mode=brotli.MODE_TEXT)
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    return body


def _content_type(response):
    return response.get("Content-Type", "").split(";")[0].strip().lower()


def holds_secret(request, response):
    """True when the response may carry a secret: a CSRF token, or a private page."""
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE") or settings.CSRF_COOKIE_NAME in response.cookies:
        return True
    cache_control = response.get("Cache-Control", "").lower()
    return "private" in cache_control or "no-store" in cache_control


def compressible(request, response):
    """Whether the response's body is text that may be compressed (whatever the client takes)."""
    return (
        not response.streaming
        and not response.has_header("Content-Encoding")
        and response.status_code != 206
        and _content_type(response) in TYPES
        and len(response.content) >= MIN_LENGTH
        and not holds_secret(request, response)
    )


def apply(response, encoding, body=None):
    """Give the response its body in `encoding` (compressed now unless `body` is), with the
    headers that say so. Does nothing when compression would not make it shorter."""
    patch_vary_headers(response, ("Accept-Encoding",))
    if not encoding:
        return response
    body = compress(response.content, encoding) if body is None else body
    if len(body) >= len(response.content):
        return response
    response.content = body
    response.headers["Content-Length"] = str(len(body))
    response.headers["Content-Encoding"] = encoding
    etag = response.get("ETag")
    if etag and etag.startswith('"'):
        response.headers["ETag"] = "W/" + etag  # another body: the validator is weak
    return response


class CompressionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if compressible(request, response):
            apply(response, negotiate(request))
        return response
