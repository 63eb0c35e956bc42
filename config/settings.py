"""Settings for the AI Incident Repository.

Every setting that differs between a laptop and production is read from an environment
variable with a working local default. A value that cannot be read is a loud
ImproperlyConfigured at start-up, never a silent fallback. The secrets (SECRET_KEY, the URLs
that carry passwords, EMAIL_HOST_PASSWORD) may come from a file instead: NAME_FILE=/path.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default).strip()


def env_secret(name, default=""):
    """A secret from NAME, or from the file NAME_FILE names (a container's or systemd's secret
    file, so the value is in no environment listing and no image). Setting both is an error."""
    path = os.environ.get(f"{name}_FILE", "").strip()
    if not path:
        return env_str(name, default)
    if os.environ.get(name, "").strip():
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE could not be read: {exc}") from None


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name, default, minimum=0):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_float(name, default, minimum=0.0, maximum=None):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}.")
    return value


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


# Off unless set: a deployment that forgets it never shows Django's debug pages. `make run`
# (and the tests, through pytest-env in pyproject.toml) turn it on for themselves.
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "local-development-only-not-secret"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

SITE_NAME = env_str("SITE_NAME", "AI Incident Repository")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL must start with http:// or https://, not {SITE_URL!r}.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "corsheaders",
    "axes",
    "csp",
    "repository",
    "submissions",
    "api",
]

MIDDLEWARE = [
    # The request's id (X-Request-ID, from nginx only) in its log lines and its response.
    "config.observability.RequestIdMiddleware",
    # Requests counted and timed for /metrics (config/metrics.py).
    "config.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # CORS for the read API only (CORS_URLS_REGEX); before CommonMiddleware, as it asks.
    "corsheaders.middleware.CorsMiddleware",
    # Bad input (NUL characters, non-UTF-8 forms, oversized bodies, files) is a 400 or 413 here.
    "config.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Kept public pages for anonymous readers, before the session is looked at (repository/caching.py).
    "repository.caching.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Just inside the CSRF middleware, to see whether a page used its token (config/compression.py).
    "config.compression.CompressionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it locks out repeated failed sign-ins.
    "axes.middleware.AxesMiddleware",
]

# Request bodies: at most REQUEST_MAX_BYTES (a larger one is a 413 before it is read); no
# form takes a file, so a file part is refused (config.middleware.RefuseFileUploads).
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 2 * 1024 * 1024, minimum=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
FILE_UPLOAD_HANDLERS = ["config.middleware.RefuseFileUploads"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "repository.context_processors.site",
                "submissions.context_processors.moderation",
            ],
        },
    },
]

# Database: SQLite for the quick start, PostgreSQL (psycopg 3, pooled) in production.
DATABASE_URL = env_secret("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    _database = dj_database_url.parse(DATABASE_URL)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL could not be read: {exc}") from None
if _database["ENGINE"] not in {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
}:
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL or SQLite.")
if _database["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when PostgreSQL is unreachable or stops answering: a request waits at most
    # DATABASE_POOL_TIMEOUT for a pooled connection (DATABASE_CONNECT_TIMEOUT without the
    # pool), then gets a 503 page (config.views.server_error). A connection whose peer is gone
    # is noticed by TCP keepalives and tcp_user_timeout within a few seconds, not minutes.
    _database["OPTIONS"] = {
        "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 2, minimum=2),  # libpq's minimum
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": 5000,  # milliseconds
    }
    # Django's backend with a pool that reconnects within half a second of PostgreSQL's return
    # and checks connections without a round trip (config/postgresql/base.py).
    _database["ENGINE"] = "config.postgresql"
    if env_bool("DATABASE_POOL", True):
        # psycopg's pool keeps connections per process; CONN_MAX_AGE must stay 0 with it.
        _database["OPTIONS"]["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN", 1),
            "max_size": env_int("DATABASE_POOL_MAX", 10, minimum=1),
            "timeout": env_float("DATABASE_POOL_TIMEOUT", 1.0, minimum=0.1),
        }
        _database["CONN_MAX_AGE"] = 0
    else:
        _database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    _database["CONN_HEALTH_CHECKS"] = True
else:
    _database["OPTIONS"] = {"timeout": 20}
DATABASES = {"default": _database}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "submissions:queue"
LOGOUT_REDIRECT_URL = "repository:home"

# Sign-in lockout (django-axes), two limits over one cool-off (submissions/lockout.py):
# AXES_FAILURE_LIMIT wrong passwords for a username from one address lock that pair, and
# AXES_USERNAME_FAILURE_LIMIT for the username from any addresses lock it everywhere except
# from addresses it has signed in from before. Locks end AXES_COOLOFF_MINUTES after the last
# failure; a password reset by email, or `manage.py axes_reset_username NAME`, ends them now.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_USERNAME_FAILURE_LIMIT = env_int("AXES_USERNAME_FAILURE_LIMIT", 30, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "submissions.lockout.SignInLockoutHandler"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "config.clientip.client_ip"  # the address the rate limit uses too

# The client's address behind proxies (config/clientip.py): how many proxies append to
# X-Forwarded-For, and/or the networks they are in (X-Forwarded-For from any other peer is
# ignored). With neither, REMOTE_ADDR is the client.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
TRUSTED_PROXY_NETWORKS = env_list("TRUSTED_PROXY_NETWORKS", [])
for _network in TRUSTED_PROXY_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXY_NETWORKS must be addresses or networks (10.0.0.0/8), not {_network!r}."
        ) from None
# Contributions per client address: at most SUBMISSION_RATE_LIMIT form posts per period.
SUBMISSION_RATE_LIMIT = env_int("SUBMISSION_RATE_LIMIT", 20, minimum=1)
SUBMISSION_RATE_PERIOD = env_int("SUBMISSION_RATE_PERIOD", 3600, minimum=1)

# The cache holds rate-limit counters and fetch pacing: Redis when configured (shared by
# every web and worker process), else this process's memory. Every Redis call gives up
# after CACHE_SOCKET_TIMEOUT seconds; the rate limit then counts in the "local" cache of
# this process for CACHE_BACKOFF_SECONDS (submissions/ratelimit.py).
CACHE_URL = env_secret("CACHE_URL") or env_secret("REDIS_URL")
CACHE_SOCKET_TIMEOUT = env_float("CACHE_SOCKET_TIMEOUT", 0.25, minimum=0.01, maximum=0.5)
CACHE_BACKOFF_SECONDS = env_int("CACHE_BACKOFF_SECONDS", 10, minimum=1)
CACHES = {
    "default": (
        {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_SOCKET_TIMEOUT,
                "socket_timeout": CACHE_SOCKET_TIMEOUT,
            },
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
}
# Public pages rendered for anonymous readers are kept in the default cache until something
# they show is published (repository/caching.py); PAGE_CACHE_TIMEOUT (seconds) only bounds
# how stale a page can be after the cache was unreachable when a change was published. A
# shared cache in front revalidates every time unless PAGE_CACHE_SHARED_MAX_AGE (seconds) lets
# it serve a page that long without asking (then it must not serve requests with a session
# cookie from its store).
PAGE_CACHE = env_bool("PAGE_CACHE", True)
PAGE_CACHE_TIMEOUT = env_int("PAGE_CACHE_TIMEOUT", 6 * 3600, minimum=60)
PAGE_CACHE_SHARED_MAX_AGE = env_int("PAGE_CACHE_SHARED_MAX_AGE", 0)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email: printed to the console locally; SMTP or files in production.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "sent-emails"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "AI Incident Repository <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Behind a TLS-terminating proxy in production (it sets X-Forwarded-Proto).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapers inside the network
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Only editors have sessions; they end after SESSION_COOKIE_AGE seconds (default 8 hours).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)

# Content-Security-Policy (django-csp): the site's own scripts, styles and images only, no
# inline script or style (the pages work without JavaScript), no framing, forms post here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
    }
}

INCIDENTS_PER_PAGE = env_int("INCIDENTS_PER_PAGE", 25, minimum=1)

# The open read API (api/): public, read-only, no session (so no CSRF), JSON only, one error
# shape (api/errors.py), a limit of API_RATE_LIMIT requests per API_RATE_PERIOD seconds per
# client address (api/throttling.py, the address of config/clientip.py).
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 600, minimum=1)
API_RATE_PERIOD = env_int("API_RATE_PERIOD", 60, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.AddressRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNICODE_JSON": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": (
        "The open read API of the repository: incidents (filtered as on /incidents/), their "
        "revisions, the taxonomy, entities, and a change feed for mirrors. Public, no key; "
        "read-only; cursor-paginated; ETag and Last-Modified for conditional requests; CORS "
        "open; rate-limited per address (429 with Retry-After)."
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": False,
    "POSTPROCESSING_HOOKS": ["api.openapi.add_components_and_facets"],
    # The description lists the vocabularies, read from the database, which `check --deploy`
    # need not reach; api/tests generate and validate it instead.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "EXTERNAL_DOCS": {"description": "The incident document's JSON Schema", "url": f"{SITE_URL}/export/"},
}
# CORS (django-cors-headers): any origin may read the API; nothing else on the site.
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]
CORS_ALLOW_HEADERS = ["accept", "accept-language", "if-none-match", "if-modified-since"]
CORS_EXPOSE_HEADERS = ["ETag", "Last-Modified", "Retry-After"]
CORS_PREFLIGHT_MAX_AGE = 86400
# sitemap.xml: at most this many addresses in each page of a section.
SITEMAP_LIMIT = env_int("SITEMAP_LIMIT", 5000, minimum=1)
if SITEMAP_LIMIT > 50000:
    raise ImproperlyConfigured(
        f"SITEMAP_LIMIT must be at most 50000 (the sitemap protocol's limit), not {SITEMAP_LIMIT}."
    )

# Logs on standard error, each line with the request's (or task's) id (config/observability.py);
# LOG_FORMAT=json writes one JSON object per line for a log collector.
LOG_FORMAT = env_str("LOG_FORMAT", "text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.observability.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "config.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
# Celery's worker logs through the configuration above rather than its own, so its lines carry
# the task's id (the id of the request that queued it, when there was one) and LOG_FORMAT.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Unhandled errors to a Sentry-compatible service when SENTRY_DSN is set (sentry-sdk).
SENTRY_DSN = env_secret("SENTRY_DSN")
if SENTRY_DSN:
    from config.observability import sentry_init

    sentry_init(SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", "production"), release=None)

# /metrics (Prometheus) answers only requests bearing this token; unset, it is a 404.
METRICS_TOKEN = env_secret("METRICS_TOKEN")

# Background work (Celery). With no broker configured, tasks run eagerly in-process.
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL") or env_secret("REDIS_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Exactly one beat sends the periodic tasks, wherever beats run: it holds a lock in the broker's
# Redis, renewed every tick, for BEAT_LOCK_TTL seconds; another beat stands by (config/beat.py).
CELERY_BEAT_SCHEDULER = "config.beat:SingleBeatScheduler"
BEAT_LOCK_TTL = env_int("BEAT_LOCK_TTL", 60, minimum=3)

# Publishing a task waits at most about a second for the broker; a broker that is down
# must not hold up a web request (what must not be lost is in the database first).
TASK_PUBLISH_OPTIONS = {"retry": False}
TASK_PUBLISH_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 0.5,
    "socket_timeout": 0.5,
    "max_retries": 0,
    "connect_retries_timeout": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Notifications (submissions/notifications.py): re-queue what is still unsent after this
# many seconds; scrub contributors' emails this many days after the decision.
NOTIFICATION_REQUEUE_AFTER = env_int("NOTIFICATION_REQUEUE_AFTER", 300, minimum=1)
SUBMISSION_EMAIL_RETENTION_DAYS = env_int("SUBMISSION_EMAIL_RETENTION_DAYS", 90, minimum=1)
DIGEST_HOUR = env_int("DIGEST_HOUR", 7)
# The queue: a claim stops blocking other editors this many minutes after it was taken.
CLAIM_EXPIRES_MINUTES = env_int("CLAIM_EXPIRES_MINUTES", 60, minimum=1)
# A proposal sent back for changes expires if its contributor has not revised it by then.
NEEDS_CHANGES_EXPIRE_DAYS = env_int("NEEDS_CHANGES_EXPIRE_DAYS", 30, minimum=1)
if DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"DIGEST_HOUR must be between 0 and 23, not {DIGEST_HOUR}.")

# Fetching, link health and dataset snapshots

# The fetcher (repository/fetching.py) checks reference links and reads source metadata.
FETCH_USER_AGENT = env_str("FETCH_USER_AGENT")  # empty: one naming SITE_NAME and SITE_URL
FETCH_CONNECT_TIMEOUT = env_int("FETCH_CONNECT_TIMEOUT", 5, minimum=1)  # seconds
FETCH_READ_TIMEOUT = env_int("FETCH_READ_TIMEOUT", 10, minimum=1)  # seconds, per read
FETCH_TOTAL_TIMEOUT = env_int("FETCH_TOTAL_TIMEOUT", 30, minimum=1)  # seconds, a whole fetch
FETCH_MAX_REDIRECTS = env_int("FETCH_MAX_REDIRECTS", 5)
FETCH_MAX_BYTES = env_int("FETCH_MAX_BYTES", 1024 * 1024, minimum=1024)  # body read at most
FETCH_HOST_INTERVAL = env_int("FETCH_HOST_INTERVAL", 2)  # seconds between requests to one host
FETCH_HOST_MAX_WAIT = env_int("FETCH_HOST_MAX_WAIT", 20)  # then the task retries later
FETCH_CA_CERTS = env_str("FETCH_CA_CERTS")  # a CA bundle file; empty: the system's
# Test-only: hosts the fetcher may reach although they are not public. Deliberately not
# read from the environment; tests set it to reach their own server on 127.0.0.1.
FETCH_ALLOWED_PRIVATE_HOSTS = []

LINK_CHECK_INTERVAL_DAYS = env_int("LINK_CHECK_INTERVAL_DAYS", 30, minimum=1)  # re-check after
LINK_CHECK_BATCH_SIZE = env_int("LINK_CHECK_BATCH_SIZE", 100, minimum=1)  # queued per beat run
LINK_CHECK_EVERY_MINUTES = env_int("LINK_CHECK_EVERY_MINUTES", 30, minimum=1)

EXPORT_DIR = Path(env_str("EXPORT_DIR", str(BASE_DIR / "exports")))
# Where `manage.py backup` writes its backups unless told (docs/operating.md, Backups).
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(BASE_DIR / "backups")))
EXPORT_KEEP = env_int("EXPORT_KEEP", 7, minimum=1)  # snapshots kept per format
EXPORT_HOUR = env_int("EXPORT_HOUR", 3)  # the nightly snapshot, in TIME_ZONE
if EXPORT_HOUR > 23:
    raise ImproperlyConfigured(f"EXPORT_HOUR must be between 0 and 23, not {EXPORT_HOUR}.")

CELERY_BEAT_SCHEDULE = {
    "reference-link-checks": {
        "task": "repository.tasks.references_check_due",
        "schedule": LINK_CHECK_EVERY_MINUTES * 60.0,
    },
    "dataset-snapshot": {
        "task": "repository.tasks.dataset_snapshot_create",
        "schedule": crontab(hour=EXPORT_HOUR, minute=17),
    },
    "source-metadata-requeue": {
        "task": "repository.tasks.source_metadata_requeue",
        "schedule": 600.0,
    },
    "notifications-requeue": {
        "task": "submissions.tasks.requeue_notifications",
        "schedule": 60.0,
    },
    "editor-digests": {
        "task": "submissions.tasks.send_digests",
        "schedule": crontab(hour=DIGEST_HOUR, minute=0),
    },
    "needs-changes-expiry": {
        "task": "submissions.tasks.expire_needs_changes",
        "schedule": crontab(minute=23),
    },
    "personal-data-scrub": {
        "task": "submissions.tasks.scrub_personal_data",
        "schedule": crontab(hour=4, minute=41),
    },
}
