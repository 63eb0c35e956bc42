from .models import Submission


def moderation(request):
    """For editors, the number of submissions waiting (shown in the header)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("submissions.moderate"):
        return {}
    return {"moderation_pending": Submission.objects.filter(state=Submission.State.PENDING).count()}
