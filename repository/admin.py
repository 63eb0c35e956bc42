from django.contrib import admin

from .models import (
    DatasetSnapshot,
    Entity,
    EntityAlias,
    Incident,
    IncidentEntity,
    IncidentTerm,
    Reference,
    Revision,
    SourceMetadata,
    SourceRecord,
    Term,
    TermAlias,
    Vocabulary,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that the site's own services write and nobody edits or deletes by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Vocabulary)
class VocabularyAdmin(admin.ModelAdmin):
    list_display = ["label", "slug", "group", "order"]
    list_editable = ["order"]
    search_fields = ["label", "slug"]


class TermAliasInline(admin.TabularInline):
    model = TermAlias
    extra = 0
    fields = ["name", "key"]


@admin.register(Term)
class TermAdmin(admin.ModelAdmin):
    list_display = ["name", "vocabulary", "parent", "merged_into"]
    list_filter = ["vocabulary"]
    list_select_related = ["vocabulary", "parent", "merged_into"]
    search_fields = ["name", "slug", "aliases__name"]
    raw_id_fields = ["parent", "merged_into"]
    inlines = [TermAliasInline]


@admin.register(TermAlias)
class TermAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "term", "vocabulary"]
    list_filter = ["vocabulary"]
    list_select_related = ["term", "vocabulary"]
    search_fields = ["name", "key"]
    raw_id_fields = ["term"]


class EntityAliasInline(admin.TabularInline):
    model = EntityAlias
    extra = 0


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "slug", "merged_into"]
    list_filter = ["kind"]
    list_select_related = ["merged_into"]
    search_fields = ["name", "slug", "aliases__name"]
    raw_id_fields = ["merged_into"]
    inlines = [EntityAliasInline]


@admin.register(EntityAlias)
class EntityAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "entity"]
    list_select_related = ["entity"]
    search_fields = ["name", "key"]
    raw_id_fields = ["entity"]


class IncidentTermInline(admin.TabularInline):
    model = IncidentTerm
    extra = 0
    raw_id_fields = ["term"]


class IncidentEntityInline(admin.TabularInline):
    model = IncidentEntity
    extra = 0
    raw_id_fields = ["entity"]


class ReferenceInline(admin.StackedInline):
    model = Reference
    extra = 0
    readonly_fields = ["checked_at", "status_code", "final_url", "check_error"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Published incidents. Changes made here skip the revision history; editors should
    prefer the moderation queue, which records a revision for every change."""

    list_display = ["number", "headline", "type", "occurred", "updated_at"]
    list_filter = ["type", "occurred_precision"]
    search_fields = ["headline", "slug", "external_ids__value"]
    readonly_fields = ["occurred_start", "occurred_end", "occurred_precision", "created_at", "updated_at"]
    raw_id_fields = ["current_revision", "merged_into"]
    inlines = [IncidentTermInline, IncidentEntityInline, ReferenceInline]


@admin.register(IncidentTerm)
class IncidentTermAdmin(admin.ModelAdmin):
    list_display = ["incident", "term", "position"]
    list_select_related = ["incident", "term"]
    raw_id_fields = ["incident", "term"]


@admin.register(IncidentEntity)
class IncidentEntityAdmin(admin.ModelAdmin):
    list_display = ["incident", "entity", "role", "position"]
    list_filter = ["role"]
    list_select_related = ["incident", "entity"]
    raw_id_fields = ["incident", "entity"]


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
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
