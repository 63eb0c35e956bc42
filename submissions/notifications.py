"""Email notifications through an outbox.

A notification is first a row, written in the same transaction as the change that causes
it. After the commit a task sends it and marks it sent; sending again finds it sent and
does nothing. If the broker is down the request still succeeds at once, and a periodic
task re-queues what is still unsent a few minutes later.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.celery import enqueue_many

from .models import EditorProfile, Notification, Submission

log = logging.getLogger(__name__)

REQUEUE_BATCH = 200


def _render(template, context):
    context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return f"[{settings.SITE_NAME}] {subject}"[:200], text, html


def _editors(notify):
    """Active editors with an email who asked for this kind of notification."""
    permission = Permission.objects.filter(codename="moderate", content_type__app_label="submissions")
    editors = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .filter(Q(groups__permissions__in=permission) | Q(user_permissions__in=permission))
    )
    if notify == EditorProfile.Notify.EACH:
        editors = editors.filter(Q(editor_profile__isnull=True) | Q(editor_profile__notify=notify))
    else:
        editors = editors.filter(editor_profile__notify=notify)
    return editors.distinct().order_by("pk")


def _queue_on_commit(notifications):
    ids = [notification.pk for notification in notifications]
    if ids:
        transaction.on_commit(lambda: notifications_enqueue(notification_ids=ids))


def notifications_for_submission(*, submission):
    """Tell the editors who want every submission (inside the submission's transaction)."""
    review_url = settings.SITE_URL + reverse("submissions:review", args=[submission.pk])
    created = []
    for editor in _editors(EditorProfile.Notify.EACH):
        subject, text, html = _render(
            "submission_received", {"submission": submission, "editor": editor, "review_url": review_url}
        )
        created.append(
            Notification.objects.create(
                kind=Notification.Kind.RECEIVED,
                key=f"received:{submission.pk}:{editor.pk}",
                submission=submission,
                user=editor,
                recipient=editor.email,
                subject=subject,
                body_text=text,
                body_html=html,
            )
        )
    _queue_on_commit(created)
    return created


def decision_outcome(submission):
    """What became of an approved proposal, as the contributor is told: "new" (published as a
    new incident), "joined" (its facts and sources joined an existing incident: a report an
    editor merged, or one the contributor sent as more on an incident they found) or
    "changed" (an improvement published on its incident); "" when it was not approved."""
    from .models import ModerationEvent

    if submission.state != Submission.State.APPROVED:
        return ""
    joined = submission.events.filter(
        Q(action=ModerationEvent.Action.MERGE) | Q(action=ModerationEvent.Action.SUBMIT, data__reported=True)
    ).exists()
    if joined:
        return "joined"
    return "new" if submission.kind == Submission.Kind.NEW_INCIDENT else "changed"


def notification_for_decision(*, submission):
    """Tell a contributor who left an email what the editors decided and, when it was
    published, where: the incident's public page."""
    if not submission.email:
        return None
    status_url = settings.SITE_URL + submission.get_status_url()
    outcome = decision_outcome(submission)
    incident = submission.incident if outcome else None
    subject, text, html = _render(
        "decision",
        {
            "submission": submission,
            "status_url": status_url,
            "outcome": outcome,
            "incident": incident,
            "incident_url": settings.SITE_URL + incident.get_absolute_url() if incident else "",
        },
    )
    notification, created = Notification.objects.get_or_create(
        key=f"decision:{submission.pk}",
        defaults={
            "kind": Notification.Kind.DECISION,
            "submission": submission,
            "recipient": submission.email,
            "subject": subject,
            "body_text": text,
            "body_html": html,
        },
    )
    if created:
        _queue_on_commit([notification])
    return notification


def notification_for_changes(*, submission):
    """Tell a contributor who left an email that an editor asks for changes (one per request)."""
    if not submission.email:
        return None
    status_url = settings.SITE_URL + submission.get_status_url()
    subject, text, html = _render(
        "changes",
        {
            "submission": submission,
            "status_url": status_url,
            "expire_days": settings.NEEDS_CHANGES_EXPIRE_DAYS,
        },
    )
    notification, created = Notification.objects.get_or_create(
        key=f"changes:{submission.pk}:{submission.changes_asked_at.isoformat()}"[:100],
        defaults={
            "kind": Notification.Kind.CHANGES,
            "submission": submission,
            "recipient": submission.email,
            "subject": subject,
            "body_text": text,
            "body_html": html,
        },
    )
    if created:
        _queue_on_commit([notification])
    return notification


def _asked_by(submission_ids):
    """{submission id: the editor who last asked for its changes}, for the given submissions."""
    from .models import ModerationEvent

    asked = {}
    events = (
        ModerationEvent.objects.filter(
            submission_id__in=submission_ids, action=ModerationEvent.Action.ASK_CHANGES
        )
        .exclude(actor=None)
        .select_related("actor")
        .order_by("created_at", "pk")
    )
    for event in events:
        asked[event.submission_id] = event.actor  # the latest wins
    return asked


def notification_for_revision(*, submission, version):
    """Tell the editor who asked for changes that the contributor revised (inside the
    revision's transaction): at once if they hear of every submission; in their next digest
    if they chose one (which lists it); never if they chose no emails."""
    editor = _asked_by([submission.pk]).get(submission.pk)
    if editor is None or not editor.is_active or not editor.email:
        return None
    profile = EditorProfile.objects.filter(user=editor).values_list("notify", flat=True).first()
    if (profile or EditorProfile.Notify.EACH) != EditorProfile.Notify.EACH:
        return None
    review_url = settings.SITE_URL + reverse("submissions:review", args=[submission.pk])
    subject, text, html = _render(
        "revised", {"submission": submission, "editor": editor, "review_url": review_url}
    )
    notification, created = Notification.objects.get_or_create(
        key=f"revised:{submission.pk}:{version}:{editor.pk}",
        defaults={
            "kind": Notification.Kind.RECEIVED,
            "submission": submission,
            "user": editor,
            "recipient": editor.email,
            "subject": subject,
            "body_text": text,
            "body_html": html,
        },
    )
    if created:
        _queue_on_commit([notification])
    return notification


def _revised_for_digest(since):
    """{editor id: [submissions]}: proposals revised since then, pending again, for the editor
    who asked for the changes."""
    from .models import ModerationEvent

    ids = set(
        ModerationEvent.objects.filter(
            action=ModerationEvent.Action.RESUBMIT,
            created_at__gte=since,
            submission__state=Submission.State.PENDING,
        ).values_list("submission_id", flat=True)
    )
    if not ids:
        return {}
    submissions = Submission.objects.select_related("incident").in_bulk(ids)
    revised = {}
    for submission_id, editor in sorted(_asked_by(ids).items()):
        revised.setdefault(editor.pk, []).append(submissions[submission_id])
    return revised


def notifications_enqueue(*, notification_ids):
    """Queue notifications for sending; the re-queue task retries what the broker refused.
    Returns how many were queued."""
    from .tasks import send_notification

    taken = enqueue_many(send_notification, [(pk,) for pk in notification_ids])
    if taken:
        Notification.objects.filter(pk__in=notification_ids[:taken]).update(queued_at=timezone.now())
    return taken


def notification_send(*, notification_id):
    """Send one notification unless it was sent already. Returns True if this call sent it.

    The row stays locked while the message goes out, so a second task for the same
    notification (a re-queue, a retry) waits or skips and finds it sent.
    """
    failure = None
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, sent_at__isnull=True, cancelled_at__isnull=True)
            .exclude(recipient="")
            .first()
        )
        if notification is None:
            return False
        message = EmailMultiAlternatives(
            notification.subject,
            notification.body_text,
            settings.DEFAULT_FROM_EMAIL,
            [notification.recipient],
        )
        if notification.body_html:
            message.attach_alternative(notification.body_html, "text/html")
        notification.attempts += 1
        try:
            message.send()
        except Exception as exc:  # SMTP, socket and backend errors alike
            notification.last_error = f"{type(exc).__name__}: {exc}"[:300]
            notification.save(update_fields=["attempts", "last_error"])
            failure = exc
        else:
            notification.sent_at = timezone.now()
            notification.last_error = ""
            notification.save(update_fields=["attempts", "sent_at", "last_error"])
    if failure is not None:
        raise failure
    return True


def notifications_requeue(*, now=None):
    """Queue again what is still unsent a while after it was written or last queued."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER)
    due = (
        Notification.objects.filter(sent_at__isnull=True, cancelled_at__isnull=True, created_at__lte=cutoff)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lte=cutoff))
        .exclude(recipient="")
        .order_by("created_at")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    return notifications_enqueue(notification_ids=list(due))


def digests_create(*, day=None):
    """One email a day to each editor who chose the digest, when something waits."""
    day = day or timezone.localdate()
    pending = Submission.objects.filter(state=Submission.State.PENDING)
    count = pending.count()
    if not count:
        return []
    oldest = list(pending.select_related("incident").order_by("created_at")[:20])
    revised = _revised_for_digest(timezone.now() - timedelta(days=1))
    created = []
    with transaction.atomic():
        for editor in _editors(EditorProfile.Notify.DIGEST):
            subject, text, html = _render(
                "digest",
                {
                    "editor": editor,
                    "count": count,
                    "submissions": oldest,
                    "revised": revised.get(editor.pk, []),
                    "queue_url": settings.SITE_URL + reverse("submissions:queue"),
                    "site_url": settings.SITE_URL,
                },
            )
            notification, new = Notification.objects.get_or_create(
                key=f"digest:{editor.pk}:{day.isoformat()}",
                defaults={
                    "kind": Notification.Kind.DIGEST,
                    "user": editor,
                    "recipient": editor.email,
                    "subject": subject,
                    "body_text": text,
                    "body_html": html,
                },
            )
            if new:
                created.append(notification)
        _queue_on_commit(created)
    return created


def personal_data_scrub(*, now=None):
    """Empty contributors' emails RETENTION days after the decision; the submission and its
    audit trail stay. Returns how many submissions were scrubbed."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SUBMISSION_EMAIL_RETENTION_DAYS)
    due = Submission.objects.exclude(email="").filter(
        Q(decided_at__lte=cutoff)
        | Q(state__in=[Submission.State.WITHDRAWN, Submission.State.EXPIRED], updated_at__lte=cutoff)
    )
    with transaction.atomic():
        ids = list(due.values_list("pk", flat=True)[:1000])
        to_contributor = [Notification.Kind.DECISION, Notification.Kind.CHANGES]
        Notification.objects.filter(
            submission_id__in=ids, kind__in=to_contributor, sent_at__isnull=True
        ).update(cancelled_at=now)
        Notification.objects.filter(submission_id__in=ids, kind__in=to_contributor).update(
            recipient="", body_text="", body_html=""
        )
        scrubbed = Submission.objects.filter(pk__in=ids).update(email="", email_scrubbed_at=now)
    return scrubbed


def password_reset_send(*, user_id):
    """Email an editor a link to choose a new password (which also ends a sign-in lockout).

    Not an outbox row: the link is made when it is sent, and a lost one is simply asked for
    again from the sign-in page.
    """
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = get_user_model().objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None or not user.has_usable_password():
        return False
    link = settings.SITE_URL + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {"site_name": settings.SITE_NAME, "user": user, "link": link}
    subject = f"[{settings.SITE_NAME}] Choose a new password"
    send_mail(subject, render_to_string("registration/password_reset_email.txt", context), None, [user.email])
    return True
