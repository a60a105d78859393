"""Settings for the lead-scoring workbench, all read from the environment.

The embedded default (no variables set) is a SQLite file and an in-process-free filesystem
broker, so `make demo` needs no server. Production sets DATABASE_URL and REDIS_URL.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from leadscoring.env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("LEADSCORING_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", False)
# The demo key is only ever used with DEBUG on (`make demo`). With DEBUG off and no key the
# setting stays empty: the web server refuses to start (leadscoring/checks.py, called by wsgi.py),
# and Django refuses any other use of it (a session, a CSRF token, a signed value), while the
# command-line tools that sign nothing (migrate, imports, rescore, exports) still run.
SECRET_KEY = envstr("SECRET_KEY") or ("django-insecure-demo-key-change-me-in-production-0123456789" if DEBUG else "")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "csp",
    "axes",
    "leadscoring",
    "leads",
    "matrix",
    "scoring",
    "reports",
    "imports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Sees the user and request.htmx: the site's error pages even with DEBUG on.
    "leadscoring.middleware.FriendlyErrorsMiddleware",
    # Last (as axes asks): turns a refused login into the "try again later" page.
    "axes.middleware.AxesMiddleware",
]
# With DEBUG on (the demo), 404 and 500 still show the site's pages, not Django's debug pages
# (which list every URL pattern, or the settings): set FRIENDLY_ERROR_PAGES=0 to debug.
FRIENDLY_ERROR_PAGES = envbool("FRIENDLY_ERROR_PAGES", True)

ROOT_URLCONF = "leadscoring.urls"
WSGI_APPLICATION = "leadscoring.wsgi.application"

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
                "scoring.context_processors.notifications",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web process and the Celery worker share one file: WAL lets readers run beside the
    # writer, IMMEDIATE takes the write lock up front so transactions wait instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Login throttling (leadscoring/login_limits.py on django-axes): the axes backend comes first
# so a locked-out login is refused before its password is checked, on the admin login as well.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "leadscoring.login_limits.LoginLimitHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_LIMIT_PER_IP = envint("LOGIN_FAILURE_LIMIT_PER_IP", 50)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
# A lock ends a fixed time after it was set (the page says when); attempts during it don't extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "leadscoring.login_limits.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "leadscoring.login_limits.client_ip"
# Reverse proxies in front of the web server that append to X-Forwarded-For (0: none, use REMOTE_ADDR).
LOGIN_TRUSTED_PROXIES = envint("LOGIN_TRUSTED_PROXIES", 0)
# Failures are kept for the lock window only; successful logins are not logged.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# One date format and one date-time format on every page (leadscoring/formats/en/formats.py).
FORMAT_MODULE_PATH = ["leadscoring.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))

# --- Security (production values when DEBUG is off) ------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    # No Redis on the embedded default: a real worker still runs, fed through a folder.
    CELERY_BROKER_URL = "filesystem://"
    # Beside the database it serves, so a throwaway database never shares a queue with the demo.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        _db_file = Path(str(DATABASES["default"]["NAME"]))
        _broker_dir = _db_file.parent / f"{_db_file.stem}-broker"
    else:
        _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Kombu's default is ./control, a folder in whatever directory the process started in.
        "control_folder": str(_broker_dir / "control"),
        # How often an idle worker looks in the folder (kombu's default is every second). A job's
        # chunks are tasks of their own (at least ten, scoring/jobs.py): at 1 s a wait before each,
        # the demo's 5,000-lead publish takes 10 s, at 0.1 s about 2 s (docs/performance.md).
        "polling_interval": 0.1,
    }
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits stay below Redis' visibility timeout (1 h) so a task is never redelivered
# while its first copy is still running.
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 1500)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 1800)
if REDIS_URL:
    # One quick reconnect attempt when publishing: a request never waits long on a dead broker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
CELERY_TASK_DEFAULT_QUEUE = "default"
# Named queues (README, "Architecture"): big rescores never delay real-time scoring.
CELERY_TASK_ROUTES = {
    "scoring.rescore_job_start": {"queue": "rescore"},
    "scoring.rescore_chunk": {"queue": "rescore"},
    "scoring.vacuum_scores": {"queue": "rescore"},
    "scoring.score_pending": {"queue": "ingest"},
    "scoring.send_alerts": {"queue": "alerts"},
    "imports.import_upload": {"queue": "ingest"},
    "scoring.webhook_deliver": {"queue": "alerts"},
    "scoring.webhooks_resend_stale": {"queue": "alerts"},
    "imports.uploads_resend_stale": {"queue": "ingest"},
    # An impact preview scores every lead with a draft: as heavy as a publish's rescore.
    "scoring.impact_preview": {"queue": "rescore"},
}
CELERY_BEAT_SCHEDULE = {
    "webhooks-resend-stale": {"task": "scoring.webhooks_resend_stale", "schedule": 300.0},
    "uploads-resend-stale": {"task": "imports.uploads_resend_stale", "schedule": 300.0},
    # Uploads never imported are deleted after IMPORT_UNUSED_HOURS (default queue).
    "uploads-purge-unimported": {"task": "imports.uploads_purge_unimported", "schedule": 3600.0},
    "rescore-jobs-sweep": {
        "task": "scoring.rescore_jobs_sweep",
        "schedule": float(envint("RESCORE_SWEEP_SECONDS", 60)),
    },
    "nightly-decay": {
        "task": "scoring.nightly_decay",
        "schedule": crontab(hour=envint("NIGHTLY_DECAY_HOUR", 2), minute=0),
    },
}
# A publish must not hang on a broker that is down: fail fast, the sweep resends the job.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- REST framework ---------------------------------------------------------------------------
# docs/api.md explains each choice. Token first: an unauthenticated call gets 401 with
# `WWW-Authenticate: Token`; the browser (docs page, browsable API) uses its session.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "DEFAULT_PARSER_CLASSES": ["leadscoring.api_limits.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "leadscoring.api_limits.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["leadscoring.api_limits.UserThrottle", "leadscoring.api_limits.ScopedThrottle"],
    # Per user, i.e. per token (DRF's authtoken gives a user one token). Counters live in the
    # default cache: give several web processes a shared cache (CACHES) to share the limits.
    "DEFAULT_THROTTLE_RATES": {
        "user": envstr("API_THROTTLE_USER", "1200/min"),
        "events": envstr("API_THROTTLE_EVENTS", "300/min"),
        "writes": envstr("API_THROTTLE_WRITES", "300/min"),
    },
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lead-scoring workbench API",
    # Shown on /api/docs/: a repository path there would be a dead end (the docs are not served).
    "DESCRIPTION": (
        "Leads, events, scores and scoring models. Browse every endpoint at /api/v1/ (logged in); "
        "integrations send `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and Redoc from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Operations grouped by resource (leads, events, models, jobs) rather than all under "v1".
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}
# Largest request body Django (and the API's JSON parser) reads; file uploads are not counted.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
API_MAX_BATCH = envint("API_MAX_BATCH", 1000)
# How long an Idempotency-Key is remembered.
IDEMPOTENCY_TTL_SECONDS = envint("IDEMPOTENCY_TTL_SECONDS", 24 * 3600)

# --- CSV import page ----------------------------------------------------------------------------
# Uploads are written here and streamed from here by the worker (same machine, or a shared volume).
IMPORT_UPLOAD_DIR = Path(envstr("IMPORT_UPLOAD_DIR", str(VAR_DIR / "uploads")))
IMPORT_MAX_BYTES = envint("IMPORT_MAX_BYTES", 200 * 1024 * 1024)
IMPORT_BATCH_ROWS = envint("IMPORT_BATCH_ROWS", 2000)
# A running import whose worker has not reported a batch for this long is taken over.
IMPORT_STALE_SECONDS = envint("IMPORT_STALE_SECONDS", 300)
# An upload left at the mapping step (never imported) is deleted, file and row, after this long.
IMPORT_UNUSED_HOURS = envint("IMPORT_UNUSED_HOURS", 24)

# --- Webhooks out -------------------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = envint("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = envint("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_BACKOFF_SECONDS = envint("WEBHOOK_BACKOFF_SECONDS", 30)
WEBHOOK_BACKOFF_MAX_SECONDS = envint("WEBHOOK_BACKOFF_MAX_SECONDS", 6 * 3600)

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "leadscoring@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # Axes narrates every login at INFO; its warnings (failures, locks) are the useful part.
    "loggers": {"axes": {"level": "WARNING"}},
}

# Rescore chunk size: leads per Celery task and per INSERT ... SELECT. Every chunk reads about
# every page of the events table (a lead's events are scattered), so on Postgres a chunk of 20k
# leads cost ~2x per lead what 100k did (docs/performance.md, "Chunk size").
RESCORE_CHUNK_SIZE = envint("RESCORE_CHUNK_SIZE", 100000)
RESCORE_STALE_SECONDS = envint("RESCORE_STALE_SECONDS", 120)
