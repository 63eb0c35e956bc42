"""Everything not yet published: contributors' proposals and the editors' audit trail."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.urls import reverse
from django.utils import timezone

from repository.models import Incident, Revision


def new_token():
    return secrets.token_urlsafe(32)


def claim_cutoff(now=None):
    """Claims taken before this moment have expired: they no longer block anyone."""
    return (now or timezone.now()) - timedelta(minutes=settings.CLAIM_EXPIRES_MINUTES)


def claim_free_for(editor, now=None):
    """Submissions this editor may act on as far as claims go: unclaimed, theirs, or expired."""
    return Q(claimed_by__isnull=True) | Q(claimed_by=editor) | Q(claimed_at__lt=claim_cutoff(now))


class Submission(models.Model):
    class Kind(models.TextChoices):
        IMPROVEMENT = "improvement", "Improvement to an incident"
        NEW_INCIDENT = "new", "New incident"
        MERGE = "merge", "Merge of two incidents"

    class State(models.TextChoices):
        PENDING = "pending", "Pending review"
        NEEDS_CHANGES = "needs_changes", "Changes asked"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired (changes asked, none came)"

    class Effect(models.TextChoices):
        """What a proposal does, as the queue filters on it."""

        SOURCES = "sources", "Adds or removes sources"
        FIELDS = "fields", "Changes fields"
        INSIGHT = "insight", "Shares an insight only"
        NEW = "new", "New incident"
        MERGE = "merge", "Merge pair"

    class Reason(models.TextChoices):
        DUPLICATE = "duplicate", "Duplicate of an existing incident"
        OUT_OF_SCOPE = "out_of_scope", "Out of scope"
        INSUFFICIENT_SOURCES = "insufficient_sources", "Insufficient sources"
        SPAM = "spam", "Spam"
        ALREADY_CITED = "already_cited", "Already cited"
        DOES_NOT_SUPPORT = "does_not_support", "Does not support the claim"
        UNRELIABLE_SOURCE = "unreliable_source", "Not a reliable source"
        OTHER = "other", "Other"
        # A machine-proposed merge pair's own dismissals (and only theirs).
        NOT_DUPLICATE = "not_duplicate", "Not the same event"
        RELATED = "related", "Related but distinct"
        KEEP_APART = "keep_apart", "Same event, keep apart"

    PAIR_REASONS = (Reason.NOT_DUPLICATE, Reason.RELATED, Reason.KEEP_APART)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    # The incident improved, or, for a new incident, the one it was published as or merged into.
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    # A merge proposal's second incident (`incident` is the first); the editor chooses which
    # of the two survives. `reasons` say why the pair may be one incident.
    other_incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="merge_proposals"
    )
    reasons = models.JSONField(
        default=list, blank=True, help_text="Why the two incidents of a merge proposal may be one."
    )
    score = models.FloatField(
        null=True,
        blank=True,
        help_text="How strongly the evidence says a merge pair is one incident (0 to 1).",
    )
    base_revision = models.ForeignKey(
        Revision,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The published revision the proposal started from.",
    )
    proposed = models.JSONField(help_text="The proposed incident document.")
    names = models.JSONField(
        default=list,
        blank=True,
        help_text="Names the proposal gave that were read as the taxonomy spells them: "
        '[{"path", "given", "name", "how"}] ("Dahua" as Zhejiang Dahua Technology, an alias).',
    )
    # Worked out when the proposal is stored or changed (submissions.grouping), for the queue.
    effect = models.CharField(max_length=200, blank=True, help_text="What it does: 'adds 1 source'.")
    effect_kind = models.CharField(max_length=20, choices=Effect.choices, blank=True)
    source_keys = models.JSONField(
        default=list, blank=True, help_text="The normalised addresses of the sources it adds."
    )
    sources_flagged = models.JSONField(
        default=list,
        blank=True,
        help_text="Sources it sent that the incident already cited or another proposal already had.",
    )
    group_key = models.CharField(
        max_length=40, blank=True, help_text="Shared by pending proposals that look alike."
    )
    insight = models.TextField(blank=True)
    # Private: never shown on a public page. Email is scrubbed after the retention period.
    name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    credit = models.BooleanField(default=False, help_text="Credit the name publicly.")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=30, choices=Reason.choices, blank=True)
    decision_note = models.TextField(blank=True, help_text="Shown to the contributor.")
    # A rejection as a duplicate may say of which incident; the status page links to it.
    duplicate_of = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revision = models.ForeignKey(
        Revision,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="submissions",
        help_text="The revision an approval published.",
    )
    email_scrubbed_at = models.DateTimeField(null=True, blank=True)
    changes_asked_at = models.DateTimeField(
        null=True, blank=True, help_text="When an editor last sent it back for changes."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("moderate", "Can review and decide submissions")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="improvement") | Q(incident__isnull=False, base_revision__isnull=False),
                name="submissions_submission_improvement_has_base",
            ),
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True, claimed_at__isnull=True)
                | Q(claimed_by__isnull=False, claimed_at__isnull=False),
                name="submissions_submission_claim_has_editor_and_time",
            ),
            models.CheckConstraint(
                condition=Q(state="pending") | Q(claimed_by__isnull=True),
                name="submissions_submission_only_pending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(state="needs_changes") | Q(changes_asked_at__isnull=False, decision_note__gt=""),
                name="submissions_submission_needs_changes_has_note_and_time",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["approved", "rejected"]) | Q(decided_at__isnull=False),
                name="submissions_submission_decision_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="approved") | Q(revision__isnull=False, incident__isnull=False),
                name="submissions_submission_approval_has_revision",
            ),
            models.CheckConstraint(
                condition=Q(state="rejected", reason__gt="") | (~Q(state="rejected") & Q(reason="")),
                name="submissions_submission_reason_iff_rejected",
            ),
            models.CheckConstraint(
                condition=Q(duplicate_of__isnull=True) | Q(state="rejected", reason="duplicate"),
                name="submissions_submission_duplicate_of_only_when_rejected_as_duplicate",
            ),
            models.CheckConstraint(
                condition=~Q(kind="merge")
                | (
                    Q(incident__isnull=False, other_incident__isnull=False) & ~Q(incident=F("other_incident"))
                ),
                name="submissions_submission_merge_has_two_incidents",
            ),
            models.CheckConstraint(
                condition=Q(kind="merge") | Q(other_incident__isnull=True),
                name="submissions_submission_other_incident_only_to_merge",
            ),
            # A pair is proposed once, ever, in either order: a dismissed pair stays dismissed.
            models.UniqueConstraint(
                Least("incident", "other_incident"),
                Greatest("incident", "other_incident"),
                condition=Q(kind="merge"),
                name="submissions_submission_merge_pair_once",
            ),
        ]
        indexes = [
            # The queue: pending first-come-first-served, optionally by kind.
            models.Index(fields=["state", "created_at"], name="submissions_queue"),
            # "How many proposals wait on this incident" on incident pages.
            models.Index(fields=["incident", "state"], name="submissions_by_incident"),
            # The queue's look-alikes of a page of rows: pending proposals by group key.
            models.Index(
                fields=["group_key"],
                name="submissions_pending_groups",
                condition=Q(state="pending") & ~Q(group_key=""),
            ),
            # The queue's pending merge pairs, strongest first (no score last): SubmissionFilter.
            models.Index(
                Coalesce("score", Value(-1.0)).desc(),
                "created_at",
                name="submissions_pairs_by_score",
                condition=Q(kind="merge", state="pending"),
            ),
            # The expiry task: proposals sent back for changes, oldest request first.
            models.Index(
                fields=["changes_asked_at"],
                name="submissions_needs_changes",
                condition=Q(state="needs_changes"),
            ),
        ]

    def __str__(self):
        if self.kind == self.Kind.MERGE:
            return f"#{self.pk} {self.get_kind_display()}: {self.incident_id} and {self.other_incident_id}"
        headline = (self.proposed or {}).get("headline", "")
        return f"#{self.pk} {self.get_kind_display()}: {headline}"

    def get_absolute_url(self):
        return reverse("submissions:review", args=[self.pk])

    def get_status_url(self):
        return reverse("submissions:status", args=[self.token])

    @property
    def claim_expires_at(self):
        if self.claimed_at is None:
            return None
        return self.claimed_at + timedelta(minutes=settings.CLAIM_EXPIRES_MINUTES)

    @property
    def claim_holder(self):
        """Who holds a live claim on it (None when unclaimed or the claim expired)."""
        if self.claimed_by_id is None or self.claim_expires_at < timezone.now():
            return None
        return self.claimed_by

    @property
    def claim_expired(self):
        return self.claimed_by_id is not None and self.claim_holder is None

    @property
    def public_name(self):
        return self.name if self.credit else ""

    @property
    def is_pending(self):
        return self.state == self.State.PENDING

    @property
    def is_merge(self):
        return self.kind == self.Kind.MERGE

    @property
    def reject_reasons(self):
        """The reasons that fit this kind of proposal, as (value, label): a report is a
        duplicate, out of scope, insufficiently sourced or spam; a source is already cited,
        does not support the claim, is not reliable or is spam; a merge pair has its own."""
        reason = self.Reason
        if self.kind == self.Kind.NEW_INCIDENT:
            values = [reason.DUPLICATE, reason.OUT_OF_SCOPE, reason.INSUFFICIENT_SOURCES, reason.SPAM]
        elif self.kind == self.Kind.MERGE:  # a machine-proposed pair's own dismissals
            return [(value, value.label) for value in self.PAIR_REASONS]
        elif self.effect_kind == self.Effect.SOURCES:
            values = [reason.ALREADY_CITED, reason.DOES_NOT_SUPPORT, reason.UNRELIABLE_SOURCE, reason.SPAM]
        else:
            values = [reason.INSUFFICIENT_SOURCES, reason.DOES_NOT_SUPPORT, reason.OUT_OF_SCOPE, reason.SPAM]
        return [(value, value.label) for value in [*values, reason.OTHER]]


class SubmissionVersion(models.Model):
    """An earlier version of a proposal, kept when the contributor revises it after an editor
    asked for changes (the submission holds the newest)."""

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    proposed = models.JSONField()
    insight = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, help_text="When a revision replaced it.")

    class Meta:
        ordering = ["submission", "number"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "number"], name="submissions_version_number_once"),
        ]

    def __str__(self):
        return f"#{self.submission_id} version {self.number}"


class ModerationEvent(models.Model):
    """The audit log: every submission, claim, edit, decision and note. Never deleted."""

    class Action(models.TextChoices):
        SUBMIT = "submit", "Submitted"
        CLAIM = "claim", "Claimed"
        RELEASE = "release", "Released"
        EDIT = "edit", "Edited the proposal"
        APPROVE = "approve", "Approved"
        MERGE = "merge", "Merged into an incident"
        UNMERGE = "unmerge", "Merge undone"
        REJECT = "reject", "Rejected"
        WITHDRAW = "withdraw", "Withdrawn"
        ASK_CHANGES = "ask_changes", "Asked for changes"
        RESUBMIT = "resubmit", "Revised and sent again"
        EXPIRE = "expire", "Expired"
        NOTE = "note", "Note"

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the contributor.",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    from_state = models.CharField(max_length=20, choices=Submission.State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=Submission.State.choices, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="e.g. the proposal before an edit.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_action_display()} #{self.submission_id}"


class EditorProfile(models.Model):
    """How an editor wants to hear of new submissions."""

    class Notify(models.TextChoices):
        EACH = "each", "An email for every submission"
        DIGEST = "digest", "A daily digest of the queue"
        NONE = "none", "No emails"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="editor_profile"
    )
    notify = models.CharField(max_length=10, choices=Notify.choices, default=Notify.EACH)

    def __str__(self):
        return f"{self.user}: {self.get_notify_display()}"


class Notification(models.Model):
    """The outbox: an email written in the same transaction as the change that causes it,
    sent after commit by a task, marked sent once. A periodic task re-queues what the
    broker never took."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "New submission (to an editor)"
        DIGEST = "digest", "Daily digest (to an editor)"
        DECISION = "decision", "Decision (to the contributor)"
        CHANGES = "changes", "Changes asked (to the contributor)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=100, unique=True, help_text="One notification per event and person.")
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.EmailField(
        blank=True, help_text="Emptied with the contributor's email after retention."
    )
    subject = models.CharField(max_length=200)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to the broker.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The re-queue task: unsent notifications, oldest first.
            models.Index(
                fields=["created_at"],
                name="submissions_notification_due",
                condition=Q(sent_at__isnull=True, cancelled_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(cancelled_at__isnull=True),
                name="submissions_notification_sent_or_cancelled",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.recipient or '(scrubbed)'}"
