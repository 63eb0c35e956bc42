from django.contrib import admin

from repository.admin import ReadOnlyAdmin

from .models import ModerationEvent, Submission


class ModerationEventInline(admin.TabularInline):
    model = ModerationEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "actor", "action", "from_state", "to_state", "note"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    """Read-only here: decisions are made in the moderation queue, which records them."""

    list_display = ["id", "kind", "state", "incident", "other_incident", "claimed_by", "created_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["incident", "other_incident", "claimed_by"]
    search_fields = ["id", "incident__headline", "name"]
    readonly_fields = [field.name for field in Submission._meta.fields]
    inlines = [ModerationEventInline]


@admin.register(ModerationEvent)
class ModerationEventAdmin(ReadOnlyAdmin):
    list_display = ["submission", "action", "actor", "from_state", "to_state", "created_at"]
    list_filter = ["action"]
    list_select_related = ["submission", "actor"]
