"""Conditional GET for the API: every 200 carries an ETag (a hash of its body), and the
answers about one incident a Last-Modified (when it last changed). A request whose
If-None-Match names the ETag, or whose If-Modified-Since is not older than Last-Modified,
gets 304 Not Modified without the body."""

import hashlib

from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag


def conditional(request, response, last_modified=None):
    """Add ETag (and Last-Modified) to a rendered 200 answer to GET or HEAD; the 304 instead
    when the client's copy is current."""
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    etag = quote_etag(hashlib.sha256(response.content).hexdigest()[:32])
    response["ETag"] = etag
    timestamp = None
    if last_modified is not None:
        timestamp = int(last_modified.timestamp())
        response["Last-Modified"] = http_date(timestamp)
    return get_conditional_response(request, etag=etag, last_modified=timestamp, response=response)
