"""Request-level safety: bad input is a 4xx before any view (or the CSRF check) reads it."""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParserError

from .clientip import warn_if_forwarded_from_untrusted_peer
from .views import bad_request, payload_too_large

log = logging.getLogger(__name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_nul(querydict):
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in querydict.lists())


class RequestGuardMiddleware:
    """Refuse what no page of the site can use, with a 400 or a 413 and never a 500:

    - a NUL character in the path, the query string or a form field (PostgreSQL cannot
      store one, and no person types one);
    - a form body that is not UTF-8 (Django refuses it, and its own 400 page would read
      the body again and fail);
    - a body larger than REQUEST_MAX_BYTES (413, before it is read), and any file upload:
      no form here has a file field (see RefuseFileUploads).

    It also logs, once per process, X-Forwarded-For from a peer that is not a trusted proxy
    (config/clientip.py): behind an unconfigured proxy every client looks like the proxy.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        warn_if_forwarded_from_untrusted_peer(request)
        return self.refusal(request) or self.get_response(request)

    def refusal(self, request):
        if "\x00" in request.path or "\x00" in request.path_info or _has_nul(request.GET):
            return bad_request(request, reason="The address contains a character that is not allowed.")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.REQUEST_MAX_BYTES:
            return payload_too_large(request)
        if request.method == "POST" and request.content_type in FORM_TYPES:
            try:
                post = request.POST
            except (BadRequest, SuspiciousOperation, MultiPartParserError) as exc:
                log.info("Refused a form body: %s", exc)
                return bad_request(request, reason=str(exc) if isinstance(exc, RefusedUpload) else "")
            if _has_nul(post):
                return bad_request(request, reason="The form contains a character that is not allowed.")
        return None


class RefusedUpload(BadRequest):
    pass


class RefuseFileUploads(FileUploadHandler):
    """The only upload handler: a file part in a form is refused (the site takes no files)."""

    def new_file(self, *args, **kwargs):
        raise RefusedUpload("This site does not accept file uploads.")

    def receive_data_chunk(self, raw_data, start):  # pragma: no cover - new_file refuses first
        return None

    def file_complete(self, file_size):  # pragma: no cover
        return None
