"""Settings for MangaAssist Console.

Everything comes from the environment through ``mangaconsole.env.env``. The defaults need no server:
SQLite in WAL mode, Celery over kombu's filesystem transport, an in-memory channel layer and a
local-memory cache. ``DATABASE_URL`` switches to PostgreSQL (psycopg 3); ``REDIS_URL`` switches the
Celery broker and result backend, the cache and the channel layer to Redis. The same code runs on both.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from mangaconsole.env import env

BASE_DIR = Path(__file__).resolve().parent.parent
# Writable state for the embedded defaults (SQLite file, filesystem broker, task results).
VAR_DIR = Path(env("MANGACONSOLE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)
# The demo catalog, FAQ and policy documents (JSON and Markdown), loaded by seed_demo.
DATA_DIR = BASE_DIR / "chat" / "data"
# Knowledge base: where ingest reads, and how it chunks (US-5.1).
KB_SOURCE_DIR = Path(env("KB_SOURCE_DIR", str(DATA_DIR)))
KB_CHUNK_WORDS = env("KB_CHUNK_WORDS", 120, cast=int)
KB_CHUNK_OVERLAP_WORDS = env("KB_CHUNK_OVERLAP_WORDS", 30, cast=int)
# Chat: per-session token budget (US-6.1) and the longest message accepted.
CHAT_SESSION_TOKEN_BUDGET = env("CHAT_SESSION_TOKEN_BUDGET", 5000, cast=int)
CHAT_MAX_MESSAGE_CHARS = env("CHAT_MAX_MESSAGE_CHARS", 2000, cast=int)
# A conversation idle this long is not resumed: the next visit starts a new one (and a new budget).
CHAT_SESSION_IDLE_MINUTES = env("CHAT_SESSION_IDLE_MINUTES", 30, cast=int)
# Off the hot path by default (a writer thread bulk-inserts); inline only where a test needs it.
CHAT_TRACE_WRITES_INLINE = env("CHAT_TRACE_WRITES_INLINE", False, cast=bool)
# Trained model artifacts (the registry records their path and checksum).
ARTIFACT_DIR = Path(env("MANGACONSOLE_ARTIFACT_DIR", str(VAR_DIR / "artifacts")))
# training sets' sentence vectors by content hash (chat.embeddings.embed_training_texts); shared by
# every var dir of a checkout, so the test suite's two databases embed the training data once
EMBEDDING_CACHE_DIR = Path(env("MANGACONSOLE_EMBEDDING_CACHE_DIR", str(BASE_DIR / "var" / "embedding-cache")))
# cross-validation folds when train_guardrails (and seed_demo) train the guardrail models; 0 skips it
GUARDRAIL_TRAINING_FOLDS = env("GUARDRAIL_TRAINING_FOLDS", 5, cast=int)

# --- Production mode (S10, S26) ------------------------------------------------------------------
# One switch, set by docker-compose.yml: MANGACONSOLE_PRODUCTION=1. It refuses the built-in secret key
# and a wildcard host list at start-up, and turns on secure cookies, HSTS and the HTTPS redirect. Every
# setting below exists in both modes and can be set on its own; production mode only changes defaults,
# so a laptop (`make run`) and the stack run the same code.
PRODUCTION = env("MANGACONSOLE_PRODUCTION", False, cast=bool)
DEBUG = env("DJANGO_DEBUG", False, cast=bool)
_LAPTOP_SECRET_KEY = "django-insecure-mangaconsole-local-only-change-me"
SECRET_KEY = env("DJANGO_SECRET_KEY", _LAPTOP_SECRET_KEY)
ALLOWED_HOSTS = env("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"], cast=list)
CSRF_TRUSTED_ORIGINS = env("DJANGO_CSRF_TRUSTED_ORIGINS", [], cast=list)
if PRODUCTION:
    from django.core.exceptions import ImproperlyConfigured

    if SECRET_KEY == _LAPTOP_SECRET_KEY or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "MANGACONSOLE_PRODUCTION is on but DJANGO_SECRET_KEY is the built-in laptop key (it is public): set "
            "DJANGO_SECRET_KEY to a random value of 50 or more characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("MANGACONSOLE_PRODUCTION is on: DJANGO_SECRET_KEY needs 50 or more characters")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "MANGACONSOLE_PRODUCTION is on but DJANGO_ALLOWED_HOSTS is empty or '*': list the host names the "
            "console answers to, comma-separated"
        )
    if DEBUG:
        raise ImproperlyConfigured("MANGACONSOLE_PRODUCTION is on: DJANGO_DEBUG must be off")
# Behind a TLS-terminating proxy, the header it sets, e.g. "HTTP_X_FORWARDED_PROTO,https" (or
# "HTTP_CLOUDFRONT_FORWARDED_PROTO,https" behind CloudFront). Unset: Django trusts no proxy header.
_proxy_header = env("DJANGO_SECURE_PROXY_SSL_HEADER", [], cast=list)
if _proxy_header and len(_proxy_header) != 2:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured('DJANGO_SECURE_PROXY_SSL_HEADER is "HEADER,value", e.g. "HTTP_X_FORWARDED_PROTO,https"')
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) if _proxy_header else None
SECURE_SSL_REDIRECT = env("DJANGO_SECURE_SSL_REDIRECT", PRODUCTION, cast=bool)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container's own health probe speaks plain HTTP
SESSION_COOKIE_SECURE = env("DJANGO_SESSION_COOKIE_SECURE", PRODUCTION, cast=bool)
CSRF_COOKIE_SECURE = env("DJANGO_CSRF_COOKIE_SECURE", PRODUCTION, cast=bool)
SECURE_HSTS_SECONDS = env("DJANGO_SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, cast=int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION, cast=bool)
SECURE_HSTS_PRELOAD = env("DJANGO_SECURE_HSTS_PRELOAD", PRODUCTION, cast=bool)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_celery_beat",
    "django_htmx",
    "channels",
    "axes",
    "csp",
    "drf_spectacular",
    "mangaconsole",
    "audit",
    "registry",
    "prompts_app",
    "experiments",
    "evaluation",
    "guardrails",
    "finops",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # last, as django-axes asks: it turns a locked-out login into the lockout page
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): scripts only from this site's static files, no inline script
# or eval anywhere (Plotly figures are JSON read by static/mangaconsole/charts.js). Styles allow
# inline attributes: Plotly sets them on the SVG it draws.
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "mangaconsole.urls"

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
                "mangaconsole.context_processors.console",
            ],
        },
    },
]

WSGI_APPLICATION = "mangaconsole.wsgi.application"
ASGI_APPLICATION = "mangaconsole.asgi.application"

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except ValueError as exc:  # unknown scheme and the like
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env("SQLITE_PATH", str(VAR_DIR / "db.sqlite3"))),
            "OPTIONS": {
                # WAL lets the web process read while the worker writes; IMMEDIATE makes every
                # atomic block take the write lock up front, so writers queue instead of deadlocking.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # A file, not :memory:, so threads, live-server and Celery-worker tests share it.
            "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery ---------------------------------------------------------
REDIS_URL = env("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # kombu's filesystem transport: a broker that is a folder, for one machine with no server.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # the exchange table for broadcasts; kombu's default is ./control in the working directory
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    (VAR_DIR / "results").mkdir(parents=True, exist_ok=True)
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"

CELERY_TASK_ALWAYS_EAGER = env("CELERY_TASK_ALWAYS_EAGER", False, cast=bool)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The beat schedule lives in code; django-celery-beat copies it into its tables at start so the
# admin shows it. Each entry says its cadence and why, and expires so a slow worker does not pile up runs.
CELERY_BEAT_SCHEDULE = {
    # Every 30 s: proves a worker is consuming; /healthz reports the age of the last one.
    "worker-heartbeat": {
        "task": "mangaconsole.tasks.worker_heartbeat",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    # Every 4 hours: re-index the catalog (US-5.1); unchanged products are skipped by checksum.
    "kb-ingest-catalog": {
        "task": "chat.tasks.kb_ingest_task",
        "schedule": timedelta(hours=4),
        "kwargs": {"sources": ["catalog"], "trigger": "beat"},
        "options": {"expires": 3600},
    },
    # Every minute: finish any rollback whose follow-up (evaluation, alert) a killed worker left half done.
    "rollbacks-resume": {
        "task": "registry.tasks.rollbacks_resume_task",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Every 30 s: the active canary's arm against its baseline; a breached rule rolls it back (US-3.4).
    "canary-check": {
        "task": "registry.tasks.canary_check_task",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    # Every 30 s: running experiments are analysed; significance or guardrail harm stops them (US-2.3, US-8.5).
    # Mondays 02:00 UTC: last week's human-evaluation batch, 200 answers stratified by intent (US-3.6).
    "annotation-weekly-sample": {
        "task": "evaluation.tasks.annotation_weekly_task",
        "schedule": crontab(minute=0, hour=2, day_of_week=1),
        "options": {"expires": 3600},
    },
    "experiments-check": {
        "task": "experiments.tasks.experiments_check_task",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    # Every minute: production's hard thresholds roll back, soft ones page on-call (US-3.5).
    "production-guard": {
        "task": "registry.tasks.production_guard_task",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Every 5 minutes: a deployment stage whose worker was killed is failed with that reason (then retried).
    "deployments-unstick": {
        "task": "registry.tasks.deployments_unstick_task",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 280},
    },
    # Hourly: FAQ and policy documents must be re-indexed within an hour of a change (US-5.1).
    "kb-ingest-faq-policy": {
        "task": "chat.tasks.kb_ingest_task",
        "schedule": timedelta(hours=1),
        "kwargs": {"sources": ["faq", "policy"], "trigger": "beat"},
        "options": {"expires": 1800},
    },
}
# Auto-rollback needs this many turns on the tested arm and a one-sided test at CANARY_ALPHA (registry.monitoring).
CANARY_MIN_SAMPLES = env("CANARY_MIN_SAMPLES", 200, cast=int)
CANARY_ALPHA = env("CANARY_ALPHA", 0.05, cast=float)
# An experiment decides nothing before each arm has this many sessions (keeps the relative-lift
# confidence sequence within alpha under continuous peeking; see tests/experiments/test_stats.py).
EXPERIMENT_MIN_UNITS_PER_ARM = env("EXPERIMENT_MIN_UNITS_PER_ARM", 500, cast=int)
# Weekly human evaluation (seed 000 US-3.6): responses per batch, the share scored twice for
# agreement, and how long an annotator's hold on an item lasts without activity.
ANNOTATION_SAMPLE_SIZE = env("ANNOTATION_SAMPLE_SIZE", 200, cast=int)
ANNOTATION_OVERLAP_SHARE = env("ANNOTATION_OVERLAP_SHARE", 0.2, cast=float)
ANNOTATION_LOCK_MINUTES = env("ANNOTATION_LOCK_MINUTES", 15, cast=int)
ANNOTATION_METRICS_INLINE = env("ANNOTATION_METRICS_INLINE", False, cast=bool)
GUARD_WINDOW_MINUTES = env("GUARD_WINDOW_MINUTES", 60, cast=int)
HEALTH_HEARTBEAT_MAX_AGE_S = env("HEALTH_HEARTBEAT_MAX_AGE_S", 120, cast=int)

# --- Alerts (rollbacks, auto-rollbacks) -------------------------------------------------------------
# On a laptop, mail is written to files under var/mail so the demo shows what on-call received.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "mangaassist-console@localhost")
ALERT_EMAILS = [e.strip() for e in env("ALERT_EMAILS", "oncall@mangaassist.example").split(",") if e.strip()]
ALERT_WEBHOOK_URL = env("ALERT_WEBHOOK_URL", "")

# --- Auth, roles, API ------------------------------------------------------------------------------
# Argon2 (memory-hard, Django's recommended hasher) first: a sign-in costs ~0.1 s instead of
# PBKDF2's ~0.4 s on two cores; PBKDF2 hashes from earlier are still checked and upgraded on sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username before the password is even checked
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Brute force (S11): AXES_FAILURE_LIMIT wrong passwords for one username, or from one address, lock
# it for AXES_COOLOFF_MINUTES; a right password afterwards signs in and clears the count. By username,
# a password guessed from many addresses is stopped; by address, one host spraying many usernames.
# An administrator unlocks at once with `manage.py axes_reset_username <name>`.
AXES_FAILURE_LIMIT = env("AXES_FAILURE_LIMIT", 10, cast=int)
AXES_COOLOFF_TIME = timedelta(minutes=env("AXES_COOLOFF_MINUTES", 15, cast=float))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "mangaconsole.views.lockout_response"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    # Token first, so an anonymous API call gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mangaconsole.access.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "mangaconsole.access.HasRequiredPermission",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    # Throttles (S11): per user once signed in, per address before; token guesses are counted by
    # mangaconsole.access.ThrottledTokenAuthentication before the token is even looked up.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", "60/min"),
        "user": env("API_THROTTLE_USER", "1200/min"),
        "token_attempt": env("API_THROTTLE_TOKEN_ATTEMPTS", "300/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MangaAssist Console API",
    "DESCRIPTION": "Audit export and verification, offline evaluation runs, storefront events. "
    "Authenticate with a session or `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- I18N, static ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# plotly.js is served locally (the console works with no internet): the cartesian partial bundle in
# mangaconsole/static/vendor/ (1.5 MB), not the plotly package's full 4.8 MB one.
STATICFILES_DIRS = [BASE_DIR / "mangaconsole" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # hashed names, gzip and brotli copies, a year's caching: mangaconsole/lib/static.py
    "staticfiles": {"BACKEND": "mangaconsole.lib.static.ConsoleStaticStorage"},
}
# Serve from the finders when nothing was collected (tests, a laptop); `make run` collects.
WHITENOISE_USE_FINDERS = env("WHITENOISE_USE_FINDERS", True, cast=bool)

# --- Project ------------------------------------------------------------------------------------------
AUDIT_EXPORT_HTML_MAX_ROWS = env("AUDIT_EXPORT_HTML_MAX_ROWS", 2000, cast=int)
# Secrets named by reference in component configs (mangaconsole.lib.secret_refs): the region of AWS
# Secrets Manager, and how long a resolved secret is kept in a process before it is read again.
AWS_REGION = env("AWS_REGION", "us-east-1")
SECRET_CACHE_SECONDS = env("SECRET_CACHE_SECONDS", 300, cast=int)
# Golden dataset imports (the admin's upload): larger files are refused with the reason, nothing saved.
GOLDEN_IMPORT_MAX_BYTES = env("GOLDEN_IMPORT_MAX_BYTES", 5 * 1024 * 1024, cast=int)
GOLDEN_IMPORT_MAX_ROWS = env("GOLDEN_IMPORT_MAX_ROWS", 5000, cast=int)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # presidio logs every recognizer it loads and every analysis at INFO
    "loggers": {
        "presidio-analyzer": {"level": "WARNING"},
        "presidio-anonymizer": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # django-axes logs every sign-in at INFO; lockouts are audited
    },
}
