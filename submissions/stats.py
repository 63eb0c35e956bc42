"""Figures on how the queue is doing: for editors at /moderation/stats/, and without editors'
names for everyone at /transparency/. A constant number of queries, whatever the volume."""

from dataclasses import dataclass
from datetime import timedelta
from statistics import median

from django.db.models import Count, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from .models import Submission

WEEKS = 12
# (label, younger than this many days); the last band is everything older.
AGE_BANDS = [("Under a day", 1), ("1 to 7 days", 7), ("7 to 30 days", 30), ("Over 30 days", None)]
DECIDED = [Submission.State.APPROVED, Submission.State.REJECTED]


@dataclass
class Week:
    start: object
    approved: int = 0
    rejected: int = 0
    changes_asked: int = 0
    median_hours: float | None = None

    @property
    def decided(self):
        return self.approved + self.rejected


def _hours(durations):
    return round(median(durations).total_seconds() / 3600, 1) if durations else None


def queue_figures(*, now=None, with_editors=False):
    """The backlog by age, then decisions of the last WEEKS weeks: by reason, by editor (only
    `with_editors`), per week, and the median time from submission to decision."""
    now = now or timezone.now()
    since = now - timedelta(weeks=WEEKS)
    pending = Submission.objects.filter(state=Submission.State.PENDING)
    bands, younger = {}, None
    for index, (_, days) in enumerate(AGE_BANDS):
        band = Q()
        if days is not None:
            band &= Q(created_at__gt=now - timedelta(days=days))
        if younger is not None:
            band &= Q(created_at__lte=now - timedelta(days=younger))
        bands[f"band{index}"] = Count("id", filter=band)
        younger = days
    # 1. The backlog, by age band, in one aggregate.
    backlog_counts = pending.aggregate(**bands)
    backlog = [(label, backlog_counts[f"band{index}"]) for index, (label, _) in enumerate(AGE_BANDS)]
    decided = Submission.objects.filter(state__in=DECIDED, decided_at__gte=since)
    # 2. Decisions by outcome and reason.
    labels = dict(Submission.Reason.choices)
    by_reason = [
        (
            "Approved"
            if state == Submission.State.APPROVED
            else f"{'Pair dismissed' if reason in Submission.PAIR_REASONS else 'Rejected'}: "
            f"{labels.get(reason, reason)}",
            n,
        )
        for state, reason, n in decided.values_list("state", "reason")
        .annotate(n=Count("id"))
        .order_by("-n", "state", "reason")
    ]
    # 3. Decisions per week, with requests for changes.
    weeks = {}
    for week, approved, rejected in (
        decided.annotate(week=TruncWeek("decided_at"))
        .values_list("week")
        .annotate(
            approved=Count("id", filter=Q(state=Submission.State.APPROVED)),
            rejected=Count("id", filter=Q(state=Submission.State.REJECTED)),
        )
        .order_by("week")
    ):
        weeks[week.date()] = Week(week.date(), approved, rejected)
    # 4. Times from submission to decision, for the medians (one row per decision, two dates).
    durations, by_week = [], {}
    for created, decided_at in decided.values_list("created_at", "decided_at"):
        durations.append(decided_at - created)
        local = timezone.localtime(decided_at)  # weeks as TruncWeek counts them, in TIME_ZONE
        monday = (local - timedelta(days=local.weekday())).date()
        by_week.setdefault(monday, []).append(decided_at - created)
    # 5. Requests for changes per week.
    for week, n in (
        Submission.objects.filter(changes_asked_at__gte=since)
        .annotate(week=TruncWeek("changes_asked_at"))
        .values_list("week")
        .annotate(n=Count("id"))
        .order_by("week")
    ):
        weeks.setdefault(week.date(), Week(week.date())).changes_asked = n
    for monday, week in weeks.items():
        week.median_hours = _hours(by_week.get(monday, []))
    figures = {
        "since": since,
        "weeks_count": WEEKS,
        "pending": sum(n for _, n in backlog),
        "backlog": backlog,
        "by_reason": by_reason,
        "decided": len(durations),
        "median_hours": _hours(durations),
        "weeks": sorted(weeks.values(), key=lambda week: week.start, reverse=True),
    }
    if with_editors:
        # 6. Decisions by editor.
        figures["by_editor"] = list(
            decided.values_list("decided_by__username")
            .annotate(
                approved=Count("id", filter=Q(state=Submission.State.APPROVED)),
                rejected=Count("id", filter=Q(state=Submission.State.REJECTED)),
            )
            .order_by("decided_by__username")
        )
    return figures
