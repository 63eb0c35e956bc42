"""Public pages for anonymous readers, rendered once and kept until something they show changes.

`@public_page` on a read view (GET and HEAD) does this:

- A reader without a session (no session cookie, no messages cookie) is anonymous: the page
  is kept under a key made of the code's release, the host, the path with its query string
  and the content encoding, together with the freshness tokens of the scopes it follows
  (repository/freshness.py: every publish, merge and curation draws a new one on commit).
  The entry and the current tokens are read in one round trip; the entry is a hit only if
  its tokens are still the current ones, so a publish makes every page stale at once. A hit
  costs no database query (PageCacheMiddleware serves it before the session and
  authentication middleware run); a miss renders the page and keeps it, compressed once
  (config/compression.py), with PAGE_CACHE_TIMEOUT as a safety net for when the cache could
  not be told of a change (it was down at that moment). Nothing expires by timeout otherwise.
- Anonymous pages carry a weak ETag (from the same tokens, so it changes exactly when the
  page may) and Last-Modified (when the page was rendered, after the change it shows), and a
  conditional GET that matches answers 304 (If-None-Match first; If-Modified-Since only
  without it). Cache-Control is `public, no-cache` (a shared cache in front may keep the page
  and must ask again each time, which a 304 answers cheaply); with PAGE_CACHE_SHARED_MAX_AGE
  it may serve it that many seconds without asking, and must then be set to pass requests
  carrying the session cookie through. They do not vary on Cookie.
- With a session (an editor, or anyone with a flash message waiting), the page is rendered
  fresh, `private, no-cache`, without validators, and varies on Cookie: the signed-in header
  and messages never reach the cache, and an editor is never given a cached page.
- A page is stored only if it is a 200 that set no cookie, used no CSRF token (a form) and
  showed no message; other responses pass as they are.
- When the cache fails (Redis down or hanging), this process renders pages without it for
  CACHE_BACKOFF_SECONDS, then tries again: a page never fails because of the cache.

Use it on any new public read view; `scopes` names the freshness scopes the page follows
(PUBLISHED by default). With PAGE_CACHE off (the test suite's default, so that each request
renders and shows its context) pages are not kept, and everything else above still holds.
"""

import functools
import hashlib
import logging
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import http_date, parse_etags, parse_http_date_safe

from config import compression

from . import freshness

log = logging.getLogger(__name__)

CACHE_ALIAS = "default"
KEY_PREFIX = "page"
# The view's own headers worth keeping; the rest are set again on every response.
DROPPED_HEADERS = {
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "cache-control",
    "expires",
    "vary",
    "set-cookie",
}

_release = None


def backoff_reset():
    """Use the cache again at once (for tests that bring it back)."""
    freshness.backoff_reset()


def _cache_failed(exc):
    freshness.cache_failed()
    log.warning(
        "Page cache: the cache failed (%s: %s); rendering pages without it for %ss.",
        type(exc).__name__,
        exc,
        settings.CACHE_BACKOFF_SECONDS,
    )


def release():
    """A digest of the code and templates (and of the collected static files' names): a new
    release never serves a page rendered by the one before, whose stylesheet may be gone."""
    global _release
    if _release is None:
        digest = hashlib.blake2b(digest_size=8)
        base = Path(settings.BASE_DIR)
        paths = []
        for folder in ("config", "repository", "submissions", "templates"):
            paths += (base / folder).rglob("*.py")
            paths += (base / folder).rglob("*.html")
        paths.append(Path(settings.STATIC_ROOT) / "staticfiles.json")
        for path in sorted(paths):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            digest.update(str(path.relative_to(base) if path.is_relative_to(base) else path.name).encode())
            digest.update(path.read_bytes())
        _release = digest.hexdigest()
    return _release


def is_anonymous(request):
    """No session and no flash message waiting: the page cannot depend on who asks."""
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and CookieStorage.cookie_name not in cookies


def _messages_used(request):
    storage = getattr(request, "_messages", None)
    return storage is not None and (storage.used or bool(storage._queued_messages))


def _storable(request, response):
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not _messages_used(request)
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def _public_cache_control(response):
    shared_max_age = settings.PAGE_CACHE_SHARED_MAX_AGE
    if shared_max_age:
        patch_cache_control(response, public=True, max_age=0, s_maxage=shared_max_age)
    else:
        patch_cache_control(response, public=True, no_cache=True)
    patch_vary_headers(response, ("Accept-Encoding",))


def _private(response):
    # Validators belong to the page kept for everyone; a private page is fresh each time.
    for header in ("ETag", "Last-Modified"):
        if response.has_header(header):
            del response[header]
    if not response.has_header("Cache-Control"):
        patch_cache_control(response, private=True, no_cache=True)
    return response


def _not_modified(etag, last_modified=None):
    response = HttpResponseNotModified()
    response.headers["ETag"] = etag
    if last_modified:
        response.headers["Last-Modified"] = http_date(last_modified)
    _public_cache_control(response)
    return response


def _etag_matches(header, etag):
    if header.strip() == "*":
        return True
    return any(tag.removeprefix("W/") == etag.removeprefix("W/") for tag in parse_etags(header))


def _page_key(request, encoding):
    """The page's entry: one per address and encoding, holding the tokens it was rendered under."""
    identity = "\n".join([release(), request.scheme, request.get_host(), request.get_full_path()])
    digest = hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()
    return f"{KEY_PREFIX}:{digest}:{encoding or 'identity'}"


def _etag(request, tokens):
    identity = "\n".join(
        [release(), *tokens.values(), request.scheme, request.get_host(), request.get_full_path()]
    )
    return f'W/"{hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()}"'


def _lookup(request, scopes):
    """Read the page's entry and the current tokens in one cache round trip.

    Returns (entry or None, {scope: token or None}); None, None when the cache failed. An entry
    is a hit only if every token it was rendered under is still the current one."""
    key = _page_key(request, compression.negotiate(request))
    token_keys = {scope: freshness.cache_key(scope) for scope in scopes}
    try:
        found = caches[CACHE_ALIAS].get_many([*token_keys.values(), key])
    except Exception as exc:  # the cache backends' errors have no common base class
        _cache_failed(exc)
        return None, None
    tokens = {scope: found.get(token_key) for scope, token_key in token_keys.items()}
    entry = found.get(key)
    if entry is not None and any(tokens.get(scope) != value for scope, value in entry[0].items()):
        entry = None  # rendered before something it shows was published
    return entry, tokens


def _hit(request, entry):
    _tokens, status, headers, body, encoding, rendered, etag = entry
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        if _etag_matches(if_none_match, etag):
            return _not_modified(etag, rendered)
    else:
        since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
        if since is not None and rendered <= since:
            return _not_modified(etag, rendered)
    response = HttpResponse(body, status=status)
    for name, value in headers:
        response.headers[name] = value
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.headers["Content-Length"] = str(len(body))
    response.headers["ETag"] = etag
    response.headers["Last-Modified"] = http_date(rendered)
    _public_cache_control(response)
    return response


def _store(request, response, tokens, etag):
    """Give a freshly rendered page its headers and body in the client's encoding, and keep it."""
    rendered = int(time.time())
    encoding = compression.negotiate(request)
    if encoding and not compression.compressible(request, response):
        encoding = ""
    headers = [(name, value) for name, value in response.items() if name.lower() not in DROPPED_HEADERS]
    body = compression.compress(response.content, encoding) if encoding else response.content
    if len(body) >= len(response.content):
        encoding, body = "", response.content
    if settings.PAGE_CACHE and freshness.cache_available():
        entry = (tokens, response.status_code, headers, body, encoding, rendered, etag)
        try:
            caches[CACHE_ALIAS].set(
                _page_key(request, compression.negotiate(request)), entry, settings.PAGE_CACHE_TIMEOUT
            )
        except Exception as exc:  # the cache backends' errors have no common base class
            _cache_failed(exc)
    if encoding:
        compression.apply(response, encoding, body=body)
    response.headers["ETag"] = etag
    response.headers["Last-Modified"] = http_date(rendered)
    _public_cache_control(response)
    return response


_scopes_in_use = {freshness.PUBLISHED}


def public_page(view=None, *, scopes=(freshness.PUBLISHED,)):
    """Cache a public read view's pages for anonymous readers (see the module's docstring)."""

    def decorator(view):
        _scopes_in_use.update(scopes)
        view = _rendered(view)

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in ("GET", "HEAD"):
                return view(request, *args, **kwargs)
            if not is_anonymous(request):
                return _private(view(request, *args, **kwargs))
            # No session cookie: the reader is anonymous, and asking the session would only
            # make the response vary on Cookie.
            request.user = AnonymousUser()
            if not freshness.cache_available():  # the cache failed a moment ago
                response = view(request, *args, **kwargs)
                if _storable(request, response):
                    _public_cache_control(response)
                    return response
                return _private(response) if response.status_code == 200 else response
            return _cached(view, request, args, kwargs, scopes)

        return wrapper

    return decorator(view) if view is not None else decorator


def _rendered(view):
    """The view with a TemplateResponse (Django's sitemap index, …) rendered, so its body can be kept."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if callable(getattr(response, "render", None)) and not getattr(response, "is_rendered", True):
            response.render()
        return response

    return wrapper


def _cached(view, request, args, kwargs, scopes):
    looked_up = getattr(request, "_page_cache_tokens", None)  # by PageCacheMiddleware: a miss
    if looked_up is not None and all(scope in looked_up for scope in scopes):
        entry, found = None, looked_up
    elif settings.PAGE_CACHE:
        entry, found = _lookup(request, scopes)
        if entry is not None:
            return _hit(request, entry)
    else:
        entry, found = None, {}
    # A scope without a token yet gets one (a cache that lost it, or a new one).
    tokens = {scope: (found or {}).get(scope) or freshness.token(scope) for scope in scopes}
    etag = _etag(request, tokens)
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match and _etag_matches(if_none_match, etag):
        return _not_modified(etag)
    response = view(request, *args, **kwargs)
    if not _storable(request, response):
        return _private(response) if response.status_code == 200 else response
    return _store(request, response, tokens, etag)


class PageCacheMiddleware:
    """Serves kept pages to anonymous readers before the session, CSRF, authentication and
    messages middleware run (they have nothing to do for them): place it just after
    WhiteNoise. Whatever it does not find goes on to the view, whose @public_page renders and
    keeps it; without this middleware the decorator alone serves the same pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.method in ("GET", "HEAD")
            and settings.PAGE_CACHE
            and freshness.cache_available()
            and is_anonymous(request)
        ):
            entry, tokens = _lookup(request, _scopes_in_use)
            if entry is not None:
                response = _hit(request, entry)
                request.page_cache_hit = True  # for the request metrics (config/metrics.py)
                # The one header the middleware after this one would have added.
                response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
                return response
            request._page_cache_tokens = tokens
        return self.get_response(request)
