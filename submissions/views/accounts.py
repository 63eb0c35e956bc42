"""Editors' accounts: sign-in, password reset (which also ends a sign-in lockout) and an
editor's own settings."""

from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import EditorPasswordResetForm, EditorSettingsForm
from ..models import EditorProfile
from ..ratelimit import rate_limited
from .common import editor_required, private_no_store


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response


password_reset = private_no_store(
    rate_limited("password-reset")(auth_views.PasswordResetView.as_view(form_class=EditorPasswordResetForm))
)
password_reset_confirm = private_no_store(PasswordResetConfirm.as_view())
login = private_no_store(auth_views.LoginView.as_view(redirect_authenticated_user=True))


@require_http_methods(["GET", "POST"])
@editor_required
def editor_settings(request):
    """Shown from the saved profile or the defaults; nothing is written until it is saved."""
    profile = EditorProfile.objects.filter(user=request.user).first() or EditorProfile(user=request.user)
    form = EditorSettingsForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.editor_settings_save(editor=request.user, notify=form.cleaned_data["notify"])
        messages.success(request, "Saved.")
        return redirect("submissions:editor_settings")
    return render(request, "submissions/editor_settings.html", {"form": form})
