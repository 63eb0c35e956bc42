"""Editors' sign-in lockout: django-axes' database handler with a second, wider limit.

Axes counts failures per lockout parameter of AXES_LOCKOUT_PARAMETERS, here
[["username", "ip_address"], "username"], and compares the larger count with one limit.
This handler keeps both counts apart:
- the pair (username, address) is locked after AXES_FAILURE_LIMIT failures;
- the username is locked from every address after AXES_USERNAME_FAILURE_LIMIT failures
  from any addresses, except from an address it has signed in from before (axes' access
  log), so that guessing spread over many addresses stops while an attacker still cannot
  lock the editor out of their usual place.
Both end AXES_COOLOFF_TIME after the last failure, or when the password is reset by email,
or with `manage.py axes_reset_username NAME`. A successful sign-in clears only the failures
of its own address: clearing the username's everywhere (axes' default) would give an attacker
guessing elsewhere fresh guesses each time the editor signs in.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessLog
from django.conf import settings
from django.db.models import Sum


class SignInLockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None):
        pair, username = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if username >= settings.AXES_USERNAME_FAILURE_LIMIT and not self.signed_in_from_here(
            request, credentials
        ):
            return max(pair, settings.AXES_FAILURE_LIMIT)  # locked, as the pair would be
        return pair

    def signed_in_from_here(self, request, credentials):
        username = get_client_username(request, credentials)
        return (
            bool(username)
            and AccessLog.objects.filter(username=username, ip_address=request.axes_ip_address).exists()
        )

    def reset_user_attempts(self, request, credentials=None):
        """On a successful sign-in (AXES_RESET_ON_SUCCESS): this username's failures from this
        address only, not the username's from every address."""
        pair, _username = self.get_user_attempts(request, credentials)
        count, _ = pair.delete()
        return count
