"""The client's address, one notion of it for the rate limit and the sign-in lockout."""

from django.conf import settings


def client_ip(request):
    """The client's address; behind TRUSTED_PROXIES proxies, the one they saw."""
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
