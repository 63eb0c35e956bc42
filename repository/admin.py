from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from .models import (
    CurationEvent,
    DatasetSnapshot,
    Entity,
    EntityAlias,
    ExternalId,
    Incident,
    IncidentEntity,
    IncidentTerm,
    Reference,
    Revision,
    SearchSynonym,
    SourceMetadata,
    SourceRecord,
    Term,
    TermAlias,
    Vocabulary,
)


class ReadOnlyMixin:
    """Rows that the site's own services write and nobody edits or deletes by hand: the
    published record changes only through a service that writes a revision or an audit row
    (editors use /moderation/ and /moderation/taxonomy/)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class ReadOnlyTabularInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0


def _editor_link(url_name, pk, text):
    try:
        url = reverse(url_name, args=[pk])
    except NoReverseMatch:  # the editors' pages are not installed
        return "—"
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(Vocabulary)
class VocabularyAdmin(admin.ModelAdmin):
    list_display = ["label", "slug", "group", "order"]
    list_editable = ["order"]
    search_fields = ["label", "slug"]


class TermAliasInline(ReadOnlyTabularInline):
    model = TermAlias
    fields = ["name", "key", "uses"]


@admin.register(Term)
class TermAdmin(ReadOnlyAdmin):
    """Renamed, merged and moved on the editors' taxonomy pages, never here."""

    list_display = ["name", "vocabulary", "parent", "merged_into", "editor_page"]
    list_filter = ["vocabulary"]
    list_select_related = ["vocabulary", "parent", "merged_into"]
    search_fields = ["name", "slug", "aliases__name"]
    raw_id_fields = ["parent", "merged_into"]
    inlines = [TermAliasInline]
    readonly_fields = ["editor_page"]

    @admin.display(description="Curate")
    def editor_page(self, term):
        return _editor_link("submissions:taxonomy_term", term.pk, "Rename, merge or move")


@admin.register(TermAlias)
class TermAliasAdmin(ReadOnlyAdmin):
    list_display = ["name", "term", "vocabulary"]
    list_filter = ["vocabulary"]
    list_select_related = ["term", "vocabulary"]
    search_fields = ["name", "key"]
    raw_id_fields = ["term"]


class EntityAliasInline(ReadOnlyTabularInline):
    model = EntityAlias
    fields = ["name", "key", "uses"]


@admin.register(Entity)
class EntityAdmin(ReadOnlyAdmin):
    """Renamed, merged and split on the editors' taxonomy pages, never here."""

    list_display = ["name", "kind", "slug", "merged_into", "editor_page"]
    list_filter = ["kind"]
    list_select_related = ["merged_into"]
    search_fields = ["name", "slug", "aliases__name"]
    raw_id_fields = ["merged_into"]
    inlines = [EntityAliasInline]
    readonly_fields = ["editor_page"]

    @admin.display(description="Curate")
    def editor_page(self, entity):
        return _editor_link("submissions:taxonomy_entity", entity.pk, "Rename, merge or split")


@admin.register(EntityAlias)
class EntityAliasAdmin(ReadOnlyAdmin):
    list_display = ["name", "entity"]
    list_select_related = ["entity"]
    search_fields = ["name", "key"]
    raw_id_fields = ["entity"]


class IncidentTermInline(ReadOnlyTabularInline):
    model = IncidentTerm


class IncidentEntityInline(ReadOnlyTabularInline):
    model = IncidentEntity


class ReferenceInline(ReadOnlyTabularInline):
    model = Reference
    fields = ["category", "url", "title", "status_code", "checked_at"]
    readonly_fields = fields


class ExternalIdInline(ReadOnlyTabularInline):
    model = ExternalId


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Published incidents, read-only: every change is a revision, made through the
    moderation queue (proposals, edits, revert) so that the page, its JSON, its history and
    the snapshots agree."""

    list_display = ["number", "headline", "type", "occurred", "updated_at"]
    list_filter = ["type", "occurred_precision"]
    search_fields = ["headline", "slug", "external_ids__value"]
    readonly_fields = ["occurred_start", "occurred_end", "occurred_precision", "created_at", "updated_at"]
    raw_id_fields = ["current_revision", "merged_into"]
    inlines = [ExternalIdInline, IncidentTermInline, IncidentEntityInline, ReferenceInline]


@admin.register(IncidentTerm)
class IncidentTermAdmin(ReadOnlyAdmin):
    list_display = ["incident", "term", "position"]
    list_select_related = ["incident", "term"]
    raw_id_fields = ["incident", "term"]


@admin.register(IncidentEntity)
class IncidentEntityAdmin(ReadOnlyAdmin):
    list_display = ["incident", "entity", "role", "position"]
    list_filter = ["role"]
    list_select_related = ["incident", "entity"]
    raw_id_fields = ["incident", "entity"]


@admin.register(Reference)
class ReferenceAdmin(ReadOnlyAdmin):
    list_display = ["url", "incident", "category", "status_code", "checked_at"]
    list_filter = ["category", "status_code"]
    list_select_related = ["incident"]
    search_fields = ["url", "title", "publisher"]
    raw_id_fields = ["incident"]
    readonly_fields = ["checked_at", "status_code", "final_url", "check_error"]


@admin.register(Revision)
class RevisionAdmin(ReadOnlyAdmin):
    """Revisions are append-only: they can be read here, never changed or deleted."""

    list_display = ["incident", "number", "summary", "author", "created_at"]
    list_select_related = ["incident", "author"]
    search_fields = ["incident__headline", "summary"]
    raw_id_fields = ["incident", "author"]


@admin.register(SourceRecord)
class SourceRecordAdmin(ReadOnlyAdmin):
    """What each importer last read of an incident; written by the importers only."""

    list_display = ["incident", "source", "imported_at"]
    list_filter = ["source"]
    list_select_related = ["incident"]
    search_fields = ["incident__headline"]
    raw_id_fields = ["incident"]


@admin.register(SourceMetadata)
class SourceMetadataAdmin(admin.ModelAdmin):
    """Filled by the metadata task; read here, fetched again by deleting the row."""

    list_display = ["url", "status", "title", "publisher", "published", "fetched_at"]
    list_filter = ["status"]
    search_fields = ["url", "title", "publisher"]
    readonly_fields = [field.name for field in SourceMetadata._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(ReadOnlyAdmin):
    """Written by the nightly task or `export_dataset`; pruned by them too."""

    list_display = ["file_name", "format", "created_at", "size", "incident_count", "sha256"]
    list_filter = ["format"]


@admin.register(ExternalId)
class ExternalIdAdmin(ReadOnlyAdmin):
    list_display = ["scheme", "value", "incident"]
    list_filter = ["scheme"]
    list_select_related = ["incident"]
    search_fields = ["value"]


@admin.register(CurationEvent)
class CurationEventAdmin(ReadOnlyAdmin):
    """The taxonomy curation log; undone from the editors' log page (/moderation/taxonomy/log/)."""

    list_display = ["created_at", "action", "description", "editor"]
    list_filter = ["action", "target_type"]
    list_select_related = ["editor"]
    search_fields = ["description", "note"]
    raw_id_fields = ["editor", "undoes", "revisions"]


@admin.register(SearchSynonym)
class SearchSynonymAdmin(ReadOnlyAdmin):
    """Kept by editors on /moderation/search/synonyms/ (`services.search_synonym_add`), which
    renews the cached result pages; listed here."""

    list_display = ["spelling", "other", "created_by", "created_at", "editor_page"]
    search_fields = ["spelling", "other"]
    readonly_fields = ["editor_page"]

    @admin.display(description="Edit")
    def editor_page(self, synonym):
        return format_html('<a href="{}">Search synonyms</a>', reverse("repository:synonyms"))
