"""Client addresses behind a proxy, and the sign-in lockout that uses them."""

import re
from datetime import timedelta
from io import StringIO

from axes.models import AccessAttempt
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from submissions.models import Submission
from submissions.tests.base import PASSWORD, SubmissionsTestCase, form_data

IMPROVE = "/incidents/camera-flags-minority/improve/"
PROXY = "10.0.0.2"  # the proxy in front, as the site sees it


def via_proxy(client_address, proxy=PROXY):
    """A browser at `client_address` reaching the site through the proxy."""
    return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=client_address)


class SignInMixin:
    def sign_in(self, client, password, username="edith"):
        """True when the sign-in succeeded; 429 when locked out, 200 for a wrong password."""
        response = client.post("/accounts/login/", {"username": username, "password": password})
        return response.status_code


@override_settings(TRUSTED_PROXY_NETWORKS=["10.0.0.0/8"], AXES_FAILURE_LIMIT=5)
class BehindAProxyTests(SignInMixin, SubmissionsTestCase):
    def improve_data(self):
        return {**form_data(self.client.get(IMPROVE).context["form"]), "insight": "x"}

    def test_one_clients_wrong_passwords_do_not_lock_out_another(self):
        attacker = via_proxy("198.51.100.7")
        statuses = [self.sign_in(attacker, "wrong") for _ in range(5)]
        self.assertEqual(statuses, [200, 200, 200, 200, 429])  # the fifth failure locks the pair
        self.assertEqual(self.sign_in(attacker, PASSWORD), 429)
        self.assertEqual(self.sign_in(via_proxy("203.0.113.20"), PASSWORD), 302)  # the editor is not

    @override_settings(SUBMISSION_RATE_LIMIT=2)
    def test_the_rate_limit_is_per_forwarded_client(self):
        data = self.improve_data()
        busy = via_proxy("198.51.100.7")
        self.assertEqual([busy.post(IMPROVE, data).status_code for _ in range(3)], [302, 302, 429])
        self.assertEqual(via_proxy("203.0.113.20").post(IMPROVE, data).status_code, 302)
        self.assertEqual(Submission.objects.count(), 3)

    @override_settings(SUBMISSION_RATE_LIMIT=2)
    def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(self):
        data = self.improve_data()
        statuses = [
            Client(REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
            .post(IMPROVE, data)
            .status_code
            for n in range(4)
        ]
        self.assertEqual(statuses, [302, 302, 429, 429])  # a new header per request changes nothing

    def test_a_lockout_cannot_be_dodged_with_a_new_header_from_an_untrusted_peer(self):
        for n in range(6):
            Client(REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").post(
                "/accounts/login/", {"username": "edith", "password": "wrong"}
            )
        client = Client(REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="198.51.100.99")
        self.assertEqual(self.sign_in(client, PASSWORD), 429)

    def test_the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy(self):
        # A client that sends its own header: the proxy appends the address it saw.
        client = via_proxy("6.6.6.6, 198.51.100.7, 10.0.0.9")
        for _ in range(5):
            self.sign_in(client, "wrong")
        self.assertEqual(set(AccessAttempt.objects.values_list("ip_address", flat=True)), {"198.51.100.7"})


@override_settings(TRUSTED_PROXIES=1, TRUSTED_PROXY_NETWORKS=[])
class CountedProxiesTests(SignInMixin, SubmissionsTestCase):
    def test_with_a_count_the_address_that_many_hops_back_is_the_client(self):
        for _ in range(2):
            self.sign_in(
                Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7"), "wrong"
            )
        self.assertEqual(set(AccessAttempt.objects.values_list("ip_address", flat=True)), {"198.51.100.7"})


class UntrustedForwardingWarningTests(SubmissionsTestCase):
    @override_settings(DEBUG=False)
    def test_a_forwarded_header_from_an_untrusted_peer_is_logged_once(self):
        import config.clientip

        config.clientip._warned = False
        with self.assertLogs("config.clientip", "WARNING") as logs:
            self.client.get("/", HTTP_X_FORWARDED_FOR="198.51.100.7")
            self.client.get("/", HTTP_X_FORWARDED_FOR="198.51.100.8")
        self.assertEqual(len(logs.records), 1)
        self.assertIn("TRUSTED_PROXIES", logs.output[0])


@override_settings(AXES_FAILURE_LIMIT=5, AXES_USERNAME_FAILURE_LIMIT=20)
class UsernameLockoutTests(SignInMixin, SubmissionsTestCase):
    def guess_from_many_addresses(self, guesses=40, addresses=10):
        for n in range(guesses):
            Client(REMOTE_ADDR=f"198.51.100.{n % addresses}").post(
                "/accounts/login/", {"username": "edith", "password": f"guess-{n}"}
            )

    def test_guessing_spread_over_many_addresses_locks_the_username(self):
        self.guess_from_many_addresses()
        self.assertEqual(self.sign_in(Client(REMOTE_ADDR="203.0.113.20"), PASSWORD), 429)
        # Another editor is not affected.
        self.assertEqual(self.sign_in(Client(REMOTE_ADDR="203.0.113.20"), PASSWORD, username="ezra"), 302)

    def test_the_editor_can_still_sign_in_from_where_they_did_before(self):
        usual = Client(REMOTE_ADDR="203.0.113.20")
        self.assertEqual(self.sign_in(usual, PASSWORD), 302)
        usual.logout()
        self.guess_from_many_addresses()
        self.assertEqual(self.sign_in(usual, PASSWORD), 302)

    def test_signing_in_clears_the_failures_of_that_address_only(self):
        attacker = Client(REMOTE_ADDR="198.51.100.7")
        self.assertEqual([self.sign_in(attacker, "wrong") for _ in range(5)], [200, 200, 200, 200, 429])
        usual = Client(REMOTE_ADDR="203.0.113.20")
        self.assertEqual(self.sign_in(usual, "mistyped"), 200)
        self.assertEqual(self.sign_in(usual, PASSWORD), 302)
        # The attacker's address stays locked and its failures still count towards the username.
        self.assertEqual(self.sign_in(attacker, PASSWORD), 429)
        self.assertEqual(
            set(AccessAttempt.objects.filter(username="edith").values_list("ip_address", flat=True)),
            {"198.51.100.7"},
        )

    def test_the_editors_sign_in_gives_guessing_elsewhere_no_fresh_guesses(self):
        self.guess_from_many_addresses(guesses=19)  # one short of the username's limit
        usual = Client(REMOTE_ADDR="203.0.113.20")
        self.assertEqual(self.sign_in(usual, PASSWORD), 302)
        self.guess_from_many_addresses(guesses=1)
        self.assertEqual(self.sign_in(Client(REMOTE_ADDR="192.0.2.99"), PASSWORD), 429)
        self.assertEqual(self.sign_in(Client(REMOTE_ADDR="203.0.113.20"), PASSWORD), 302)  # usual place

    def test_the_lock_cools_off(self):
        self.guess_from_many_addresses()
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
        self.assertEqual(self.sign_in(Client(REMOTE_ADDR="203.0.113.20"), PASSWORD), 302)

    def test_an_administrator_unlocks_by_command(self):
        self.guess_from_many_addresses()
        call_command("axes_reset_username", "edith", stdout=StringIO())
        self.assertEqual(self.sign_in(Client(REMOTE_ADDR="203.0.113.20"), PASSWORD), 302)

    def test_the_editor_unlocks_by_choosing_a_new_password_by_email(self):
        self.guess_from_many_addresses()
        client = Client(REMOTE_ADDR="203.0.113.20")
        self.assertEqual(self.sign_in(client, PASSWORD), 429)
        self.assertContains(
            client.post("/accounts/login/", {"username": "edith", "password": PASSWORD}),
            "choose a new password by email",
            status_code=429,
        )
        with self.captureOnCommitCallbacks(execute=True):
            response = client.post("/accounts/password-reset/", {"email": "edith@example.org"})
        self.assertRedirects(response, "/accounts/password-reset/sent/")
        [email] = mail.outbox
        self.assertEqual(email.to, ["edith@example.org"])
        link = re.search(r"https?://\S+(/accounts/reset/\S+/)", email.body).group(1)
        form_url = client.get(link)["Location"]  # Django swaps the token for a session key
        new_password = "a-brand-new-password-42"
        response = client.post(form_url, {"new_password1": new_password, "new_password2": new_password})
        self.assertRedirects(response, "/accounts/reset/done/")
        self.assertEqual(self.sign_in(client, new_password), 302)

    def test_a_reset_for_an_unknown_address_says_the_same_and_sends_nothing(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/accounts/password-reset/", {"email": "nobody@example.org"})
        self.assertRedirects(response, "/accounts/password-reset/sent/")
        self.assertEqual(mail.outbox, [])
