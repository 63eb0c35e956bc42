from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.sitemaps import views as sitemap_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from api.sitemaps import SITEMAPS, robots_txt
from api.sitemaps import section as sitemap_section
from config.metrics import metrics_view
from repository.caching import public_page
from submissions.views import accounts as submissions_accounts

# Error pages that need neither the database nor the request body (config/views.py).
handler400 = "config.views.bad_request"
handler500 = "config.views.server_error"

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page says; resolved per request, after collectstatic.
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    # Prometheus metrics for the operator's scraper, behind METRICS_TOKEN (config/metrics.py).
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", submissions_accounts.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", submissions_accounts.password_reset, name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        submissions_accounts.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
    # Readers' machines: the open API, feeds, the sitemap and robots.txt (api/).
    path("api/", include("api.urls")),
    path("feeds/", include("api.feed_urls")),
    path(
        "sitemap.xml",
        public_page(sitemap_views.index),
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap_section"},
        name="sitemap",
    ),
    path("sitemap-<slug:section>.xml", public_page(sitemap_section), name="sitemap_section"),
    path("robots.txt", public_page(robots_txt, scopes=()), name="robots_txt"),
    path("", include("submissions.urls")),
    path("", include("repository.urls")),
]
