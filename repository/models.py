"""The published record: incidents, their taxonomy, entities, references and revisions.

Only published incidents live here; what is not yet published lives in `submissions`.
The relational rows (terms, entities, references of an incident) are the browsable form
of the incident's current document; `services.incident_publish` keeps them in step.
"""

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from .addresses import address_key
from .periods import parse_period, period_human


class Vocabulary(models.Model):
    """One axis of the taxonomy: Country, Sector, Technology, a harm group, …"""

    slug = models.SlugField(max_length=60, unique=True)
    label = models.CharField(max_length=100)
    group = models.CharField(
        max_length=100, blank=True, help_text="Shown above related vocabularies, e.g. 'External harms'."
    )
    order = models.PositiveSmallIntegerField(default=0)
    description = models.TextField(blank=True)
    parent_separator = models.CharField(
        max_length=10,
        blank=True,
        help_text="The vocabulary's known hierarchy: with ' - ', 'Govt - police' sits under 'Govt'. "
        "Blank: a flat vocabulary, where ' - ' is part of a name.",
    )

    class Meta:
        ordering = ["order", "label"]
        verbose_name_plural = "vocabularies"

    def __str__(self):
        return f"{self.group}: {self.label}" if self.group else self.label

    def get_absolute_url(self):
        return reverse("repository:vocabulary", args=[self.slug])


class Term(models.Model):
    vocabulary = models.ForeignKey(Vocabulary, on_delete=models.PROTECT, related_name="terms")
    name = models.CharField(max_length=500)
    slug = models.SlugField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_terms",
        help_text="A merged term's page redirects here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vocabulary__order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["vocabulary", "slug"], name="repository_term_unique_slug_per_vocabulary"
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="repository_term_not_its_own_parent"),
            models.CheckConstraint(
                condition=~Q(merged_into=F("id")), name="repository_term_not_merged_into_itself"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("repository:term", args=[self.vocabulary.slug, self.slug])


class TermAlias(models.Model):
    """A spelling that means a term: its own name, and every variant folded into it.

    All spellings of one folded key belong to one term of the vocabulary; `uses` counts how
    often imports met the spelling, and the term is named after its most used one.
    """

    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="aliases")
    # Copied from the term so that a spelling is unique within its vocabulary.
    vocabulary = models.ForeignKey(Vocabulary, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=500)
    key = models.CharField(max_length=500, help_text="The folded spelling used to match.")
    uses = models.PositiveIntegerField(default=0, help_text="How often imports met this spelling.")

    class Meta:
        verbose_name_plural = "term aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["vocabulary", "name"], name="repository_termalias_unique_spelling_per_vocabulary"
            ),
        ]
        indexes = [
            # Resolving a name to its term: every spelling of a folded key.
            models.Index(fields=["vocabulary", "key"], name="repository_termalias_key"),
        ]

    def __str__(self):
        return self.name


class Entity(models.Model):
    """An organisation or a named system, with its own page."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", "Organisation"
        SYSTEM = "system", "System"

    name = models.CharField(max_length=500)
    slug = models.SlugField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ORGANISATION)
    description = models.TextField(blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_entities",
        help_text="A merged entity's page redirects here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "entities"
        constraints = [
            models.CheckConstraint(
                condition=~Q(merged_into=F("id")), name="repository_entity_not_merged_into_itself"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("repository:entity", args=[self.slug])


class EntityAlias(models.Model):
    """A spelling that means an entity ("Open AI" for OpenAI). Every entity has one for its name.

    A folded key may name several entities (two systems called "Safe City" by different
    developers); which one a document means is decided by its other entities.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=500)
    key = models.CharField(max_length=500)
    uses = models.PositiveIntegerField(default=0, help_text="How often imports met this spelling.")

    class Meta:
        verbose_name_plural = "entity aliases"
        constraints = [
            models.UniqueConstraint(fields=["entity", "name"], name="repository_entityalias_unique_spelling"),
        ]
        indexes = [
            # Resolving a name to its entities.
            models.Index(fields=["key"], name="repository_entityalias_key"),
        ]

    def __str__(self):
        return self.name


class IncidentQuerySet(models.QuerySet):
    def unmerged(self):
        """The incidents that stand on their own: every list, count and export shows only these.

        A merged incident keeps its row (number, slug, history) as a redirect to its survivor.
        """
        return self.filter(merged_into__isnull=True)


class TermIdsField(ArrayField):
    """Term ids as a PostgreSQL bigint[]; elsewhere an unused text column, since only the
    PostgreSQL filters read it (`Incident.under_term_ids`)."""

    def __init__(self, **kwargs):
        kwargs["base_field"] = models.BigIntegerField()
        super().__init__(**kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["base_field"]
        return name, path, args, kwargs

    def db_type(self, connection):
        return super().db_type(connection) if connection.vendor == "postgresql" else "text"

    def get_placeholder(self, value, compiler, connection):
        return (
            super().get_placeholder(value, compiler, connection)
            if connection.vendor == "postgresql"
            else "%s"
        )


class Incident(models.Model):
    class Type(models.TextChoices):
        INCIDENT = "incident", "Incident"
        ISSUE = "issue", "Issue"
        SYSTEM = "system", "System"
        DATA = "data", "Data"

    class Precision(models.TextChoices):
        YEAR = "year", "Year"
        MONTH = "month", "Month"
        DAY = "day", "Day"

    number = models.PositiveIntegerField(unique=True, help_text="Permanent; never reused.")
    slug = models.SlugField(max_length=255, unique=True)
    headline = models.CharField(max_length=300)
    type = models.CharField(max_length=20, choices=Type.choices, blank=True)
    # The period in ISO text ("2021-02", "2019/2024", "2023/.."), and what it covers,
    # derived from it on save for filtering and sorting.
    occurred = models.CharField(max_length=40, blank=True)
    occurred_start = models.DateField(null=True, blank=True, editable=False)
    occurred_end = models.DateField(
        null=True, blank=True, editable=False, help_text="Empty while an open range goes on."
    )
    occurred_precision = models.CharField(
        max_length=10, choices=Precision.choices, blank=True, editable=False
    )
    released = models.CharField(max_length=100, blank=True)
    summary = models.TextField(blank=True)
    narrative = models.TextField(blank=True, help_text="Markdown; shown through a sanitizer.")
    # The narrative as the page shows it (repository/narrative.py), rendered once by publishing.
    narrative_html = models.TextField(blank=True, editable=False)
    source_url = models.URLField(
        max_length=500, blank=True, help_text="Where this entry came from (e.g. its AIAAIC page)."
    )
    # The source address as `addresses.normalize_url` compares it, kept by publishing.
    source_key = models.CharField(max_length=500, blank=True, editable=False)
    current_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_incidents",
        help_text="A merged incident keeps its number and slug; its page redirects here.",
    )
    # PostgreSQL only (GIN-indexed by a migration); SQLite keeps an FTS5 table (repository.search).
    search_vector = SearchVectorField(null=True, editable=False)
    # PostgreSQL only: the ids of every term the incident is under (its `IncidentUnderTerm`
    # rows, kept with them by `repository.ancestry`), GIN-indexed, so that the browse page's
    # chosen terms and its search words combine as one bitmap of the two indexes.
    under_term_ids = TermIdsField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_start", "-number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(occurred_end__isnull=True)
                | Q(occurred_start__isnull=True)
                | Q(occurred_end__gte=F("occurred_start")),
                name="repository_incident_occurred_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(occurred="") | Q(occurred_start__isnull=False),
                name="repository_incident_occurred_has_start",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=F("id")), name="repository_incident_not_merged_into_itself"
            ),
        ]
        indexes = [
            # Browse sorted by occurred (the default order).
            models.Index(fields=["-occurred_start", "-number"], name="repository_incident_occurred"),
            # Browse sorted by newest first.
            models.Index(fields=["-created_at"], name="repository_incident_created"),
            # The Atom feed of updated incidents, latest first.
            models.Index(fields=["-updated_at", "-number"], name="repository_incident_updated"),
            # The importers' and the duplicate check's "the same source link".
            models.Index(fields=["source_key"], name="repository_incident_source"),
        ]

    def __str__(self):
        return self.headline

    def save(self, *args, **kwargs):
        self.set_occurred(self.occurred)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "occurred" in update_fields:
            kwargs["update_fields"] = {
                *update_fields,
                "occurred_start",
                "occurred_end",
                "occurred_precision",
            }
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("repository:incident", args=[self.slug])

    def set_occurred(self, text):
        period = parse_period(text)
        if period is None:
            self.occurred, self.occurred_start, self.occurred_end = "", None, None
            self.occurred_precision = ""
        else:
            self.occurred = period.iso()
            self.occurred_start = period.first_day
            self.occurred_end = period.last_day
            self.occurred_precision = period.precision

    @property
    def occurred_display(self):
        return period_human(self.occurred)

    @property
    def aiaaic_id(self):
        """The incident's first AIAAIC id, or None."""
        return next((item.value for item in self.external_ids.all() if item.scheme == "aiaaic"), None)


class ExternalId(models.Model):
    """An incident's id in another database: AIAAIC0563, an AI Incident Database number, …

    The rows mirror the current document's `external_ids`. A value may name two incidents
    (AIAAIC reused ids); `/id/<scheme>/<value>` lists them then.
    """

    # Served by the unique index (incident, scheme, value), which leads with it.
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="external_ids", db_index=False
    )
    scheme = models.CharField(max_length=20)
    value = models.CharField(max_length=40)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "scheme", "value"], name="repository_externalid_once_per_incident"
            ),
        ]
        indexes = [
            # /id/<scheme>/<value> and the importers' identity lookups.
            models.Index(fields=["scheme", "value"], name="repository_externalid_lookup"),
        ]

    def __str__(self):
        return f"{self.scheme}:{self.value}"


class IncidentTerm(models.Model):
    # Both served by the two indexes below, which lead with either column.
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="incident_terms", db_index=False
    )
    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="incident_terms", db_index=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "term"], name="repository_incidentterm_once_per_incident"
            ),
        ]
        indexes = [
            # Term pages and facet counts: the incidents carrying a term.
            models.Index(fields=["term", "incident"], name="repository_incidentterm_term"),
        ]

    def __str__(self):
        return f"{self.incident_id}: {self.term_id}"


class IncidentUnderTerm(models.Model):
    """An incident is under a term: it carries the term, or a term below it ("Govt - police"
    puts it under "Govt" too). Derived from `IncidentTerm` and the terms' parents, for the
    browse filters, facet counts and term pages; publishing and taxonomy curation keep it
    in step (`ancestry`). Pages and documents show the directly linked terms only."""

    # Both served by the two indexes below, which lead with either column.
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+", db_index=False)
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "term"], name="repository_incidentunderterm_once_per_incident"
            ),
        ]
        indexes = [
            # A term's incidents: browse filters, the term page and facet counts.
            models.Index(fields=["term", "incident"], name="repository_underterm_term"),
        ]

    def __str__(self):
        return f"{self.incident_id} under {self.term_id}"


class IncidentEntity(models.Model):
    class Role(models.TextChoices):
        DEPLOYER = "deployer", "Deployer"
        DEVELOPER = "developer", "Developer"
        SYSTEM = "system", "System"
        HARMED = "harmed", "Harmed parties"

    # Both served by the indexes below, which lead with either column.
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="incident_entities", db_index=False
    )
    entity = models.ForeignKey(
        Entity, on_delete=models.PROTECT, related_name="incident_entities", db_index=False
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "incident entities"
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "entity", "role"],
                name="repository_incidententity_once_per_role",
            ),
        ]
        indexes = [
            # Entity pages and deployer/developer facet counts.
            models.Index(fields=["entity", "role", "incident"], name="repository_incidententity_ent"),
            # Related incidents: an entity's newest incidents, whatever its role in them, read in
            # order (the index above would sort all of a popular entity's incidents first).
            models.Index(fields=["entity", "incident"], name="repository_entity_newest"),
        ]

    def __str__(self):
        return f"{self.incident_id}: {self.role} {self.entity_id}"


class Reference(models.Model):
    class Category(models.TextChoices):
        # In the order an incident page shows them.
        SYSTEM = "system", "System"
        LEGAL = "legal", "Legal, regulatory"
        RESEARCH = "research", "Research, advocacy"
        INVESTIGATIONS = "investigations", "Investigations, assessments, audits"
        NEWS = "news", "News, commentary, analysis"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="references")
    category = models.CharField(max_length=20, choices=Category.choices)
    url = models.URLField(max_length=2000)
    # The address as `addresses.normalize_url` compares it (cut to 500 characters), kept by
    # publishing: the duplicate check's "cites the same source".
    url_key = models.CharField(max_length=500, blank=True, editable=False)
    title = models.CharField(max_length=500, blank=True)
    publisher = models.CharField(max_length=200, blank=True)
    published = models.CharField(
        max_length=10, blank=True, help_text="ISO date, month or year: 2021-02-09, 2021-02, 2021."
    )
    position = models.PositiveSmallIntegerField(default=0)
    # Link health, kept by a background task.
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    final_url = models.URLField(max_length=2000, blank=True, editable=False)
    check_error = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "url"], name="repository_reference_once_per_incident"
            ),
        ]
        indexes = [
            # The duplicate check's "cites the same source": references by normalised address.
            models.Index(fields=["url_key"], name="repository_reference_url_key"),
        ]

    def __str__(self):
        return self.title or self.url

    def save(self, *args, **kwargs):
        self.url_key = address_key(self.url)
        super().save(*args, **kwargs)

    @property
    def published_display(self):
        return period_human(self.published)

    @property
    def is_broken(self):
        """Checked, and the last check got an error status or no answer."""
        return self.checked_at is not None and (self.status_code is None or self.status_code >= 400)


class Revision(models.Model):
    """An append-only snapshot of an incident's document: who, when, what changed, credit."""

    # Served by the unique index (incident, number), which leads with it.
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="revisions", db_index=False)
    number = models.PositiveIntegerField()
    document = models.JSONField()
    summary = models.CharField(max_length=300, blank=True, help_text="What changed.")
    credit = models.CharField(
        max_length=200, blank=True, help_text="Public credit, only if the contributor asked."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The import that published it (None for an editor's change); `import_batch_undo` reads it.
    import_batch = models.ForeignKey(
        "ImportBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="revisions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="repository_revision_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="repository_revision_number_positive"),
        ]
        indexes = [
            # The API's change feed: every revision in the order it was published.
            models.Index(fields=["created_at", "id"], name="repository_revision_published"),
        ]

    def __str__(self):
        return f"{self.incident_id} r{self.number}"


class ImportBatch(models.Model):
    """One run of an importer: the revisions it published carry its id, so that it can be
    listed and undone. A run commits a chunk at a time; `finished_at` stays empty for a run
    that stopped half-way (running it again finishes it)."""

    source = models.CharField(max_length=20, help_text="The importer: aiaaic, aiid, dataset, page.")
    file_name = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="repository_importbatch_finished_after_start",
            ),
        ]

    def __str__(self):
        return f"import {self.pk} ({self.source}{', ' + self.file_name if self.file_name else ''})"


class SourceRecord(models.Model):
    """A statement: what one source said of one incident as of one date (an export row, a
    snapshot item), as a document of the source's own values (not the site's). The source's
    view of an incident is the fold of its statements, oldest first (undated ones before any
    dated one, then by date, then by the file's hash): per field, the newest statement that
    says something of it. An import compares the view before and after its statement, so an
    export changes only what the source changed, whatever order the exports arrive in, and
    never what an editor changed."""

    # Served by the unique indexes (incident, source, …), which lead with it.
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="source_records", db_index=False
    )
    source = models.CharField(max_length=20, help_text="The importer: aiid, …")
    as_of = models.DateField(null=True, blank=True, help_text="The export's date; blank when undated.")
    file_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the file the statement came from."
    )
    document = models.JSONField()
    clears = models.JSONField(
        default=list,
        blank=True,
        help_text="The fields the statement's blank cells clear (imported with --blank-clears).",
    )
    import_batch = models.ForeignKey(
        "ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="statements"
    )
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "source", "as_of", "file_hash"],
                condition=models.Q(as_of__isnull=False),
                name="repository_sourcerecord_one_dated_statement",
            ),
            models.UniqueConstraint(
                fields=["incident", "source", "file_hash"],
                condition=models.Q(as_of__isnull=True),
                name="repository_sourcerecord_one_undated_statement",
            ),
        ]

    def __str__(self):
        return f"{self.source}: {self.incident_id} as of {self.as_of or 'undated'}"

    @property
    def order(self):
        """Where the statement stands among the source's (see `statement_order`)."""
        return statement_order(self.as_of, self.file_hash, self.pk)


def statement_order(as_of, file_hash, pk=None):
    """The order of a source's statements, oldest first: undated ones before any dated one, and
    among themselves in the order they were imported (`pk`; None: the one importing now, the
    newest); dated ones by date, then by the file's hash, whatever the order of import."""
    if as_of is None:
        return (False, datetime.date.min, "", pk if pk is not None else float("inf"))
    return (True, as_of, file_hash, 0)


class SourceMetadata(models.Model):
    """What a source's page says about itself (title, publisher, date), fetched once per URL.

    Filled by a background task when a contributor adds a URL, so that the editor finds the
    reference pre-filled on the review page.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FETCHED = "fetched", "Fetched"
        FAILED = "failed", "Failed"

    url = models.URLField(max_length=2000, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    title = models.CharField(max_length=500, blank=True)
    publisher = models.CharField(max_length=200, blank=True)
    published = models.CharField(
        max_length=10, blank=True, help_text="ISO date, month or year: 2021-02-09, 2021-02, 2021."
    )
    final_url = models.URLField(max_length=2000, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "source metadata"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "fetched", "failed"]),
                name="repository_sourcemetadata_known_status",
            ),
        ]

    def __str__(self):
        return self.title or self.url


class DatasetSnapshot(models.Model):
    """One file of the published dataset, written by the nightly task or `export_dataset`."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV (the AIAAIC sheet's 2024 layout)"
        JSON = "json", "JSON (incident documents)"

    format = models.CharField(max_length=10, choices=Format.choices)
    file_name = models.CharField(max_length=200, unique=True, help_text="A name in EXPORT_DIR, no path.")
    created_at = models.DateTimeField()
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64)
    incident_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-created_at", "format"]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=["csv", "json"]), name="repository_datasetsnapshot_known_format"
            ),
            models.CheckConstraint(
                condition=~Q(file_name__contains="/")
                & ~Q(file_name__contains="\\")
                & ~Q(file_name__startswith="."),
                name="repository_datasetsnapshot_plain_file_name",
            ),
        ]

    def __str__(self):
        return self.file_name

    def get_absolute_url(self):
        return reverse("repository:export_download", args=[self.pk])


class CurationEvent(models.Model):
    """The audit log of taxonomy curation: one row per rename, merge, move or split of a term
    or entity (and per undo), with the state before and after and the revisions it published.
    Written by `services.curation` only; an event is undone from its row."""

    class Action(models.TextChoices):
        TERM_RENAME = "term_rename", "Renamed a term"
        TERM_MERGE = "term_merge", "Merged a term"
        TERM_MOVE = "term_move", "Moved a term"
        ENTITY_RENAME = "entity_rename", "Renamed an entity"
        ENTITY_MERGE = "entity_merge", "Merged an entity"
        ENTITY_SPLIT = "entity_split", "Split an entity"
        UNDO = "undo", "Undid a change"

    class Target(models.TextChoices):
        TERM = "term", "Term"
        ENTITY = "entity", "Entity"

    action = models.CharField(max_length=20, choices=Action.choices)
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    target_type = models.CharField(max_length=10, choices=Target.choices)
    target_id = models.PositiveIntegerField()
    description = models.CharField(max_length=300, help_text="What was done, in words.")
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    note = models.CharField(max_length=300, blank=True)
    revisions = models.ManyToManyField(Revision, blank=True, related_name="curation_events")
    undoes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="undone_by"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    action__in=[
                        "term_rename",
                        "term_merge",
                        "term_move",
                        "entity_rename",
                        "entity_merge",
                        "entity_split",
                        "undo",
                    ]
                ),
                name="repository_curationevent_known_action",
            ),
            models.CheckConstraint(
                condition=Q(action="undo", undoes__isnull=False)
                | (~Q(action="undo") & Q(undoes__isnull=True)),
                name="repository_curationevent_undo_names_its_event",
            ),
        ]
        indexes = [
            # The curation log, newest first (/moderation/taxonomy/log/).
            models.Index(fields=["-created_at", "-id"], name="repository_curation_log"),
            # A term's or entity's own history on its editor page.
            models.Index(fields=["target_type", "target_id"], name="repository_curation_target"),
        ]

    def __str__(self):
        return f"{self.get_action_display()}: {self.description}"


class SearchSynonym(models.Model):
    """Two spellings that a search treats as one ("Uighur" and "Uyghur", "UK" and "United
    Kingdom"), beside the aliases of terms and entities: configuration that editors keep
    (/moderation/search/synonyms/), not part of the published record. Each side is matched
    folded, as a word or a run of up to three words (`repository.search`)."""

    spelling = models.CharField(max_length=100)
    other = models.CharField(max_length=100)
    # The folded spellings (`documents.fold`), the lesser first.
    key = models.CharField(max_length=100, editable=False)
    other_key = models.CharField(max_length=100, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key", "other_key"]
        constraints = [
            models.UniqueConstraint(fields=["spelling", "other"], name="repository_searchsynonym_one_pair"),
            # Stored in one order, so that a pair is stored once; "deepfake" and "deep fake"
            # fold alike and are told apart by their spellings.
            models.CheckConstraint(
                condition=Q(key__lt=F("other_key")) | Q(key=F("other_key"), spelling__lt=F("other")),
                name="repository_searchsynonym_ordered_distinct",
            ),
        ]
        indexes = [
            # A search's words looked up on either side of the pairs.
            models.Index(fields=["key"], name="repository_searchsynonym_key"),
            models.Index(fields=["other_key"], name="repository_searchsynonym_other"),
        ]

    def __str__(self):
        return f"{self.spelling} = {self.other}"

    def save(self, *args, **kwargs):
        from .documents import fold

        first, second = sorted([(fold(self.spelling), self.spelling), (fold(self.other), self.other)])
        self.key, self.spelling = first
        self.other_key, self.other = second
        super().save(*args, **kwargs)


class SearchWord(models.Model):
    """A word that the published incidents' headlines, summaries and narratives hold, as
    written (lower case, not stemmed), with how many incidents held it when it was counted:
    what "Did you mean …?" draws from. Kept by the search index (`search.words_refresh`):
    publishing adds the new words of what it publishes; a full refresh counts again."""

    word = models.CharField(max_length=40)
    incidents = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the index of "is this word known?" for the words of a search.
            models.UniqueConstraint(fields=["word"], name="repository_searchword_unique_word"),
        ]

    def __str__(self):
        return self.word
