"""Django settings for TokensGate.

Everything comes from the environment through the typed helpers in ``env``; the
defaults are the embedded mode (SQLite, in-process state, no API key), so a fresh
checkout starts with nothing configured. ``.env.example`` lists every variable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from tokensgate_site.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

ENVIRONMENT = env_str("ENVIRONMENT", "development")
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if ENVIRONMENT == "production":
        raise ImproperlyConfigured("SECRET_KEY must be set when ENVIRONMENT=production")
    # A development key keeps the one-command start working; it signs only local
    # admin sessions and is refused in production above.
    SECRET_KEY = "tokensgate-development-only-not-secret"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# daphne's app exists to make ``runserver`` serve with daphne; loading it in a
# server process imports Twisted, about 25 MB per worker for nothing.
RUNSERVER = sys.argv[1:2] == ["runserver"]

INSTALLED_APPS = [
    *(["daphne"] if RUNSERVER else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "channels",
    "gateway",
    "monitoring",
]

MIDDLEWARE = [
    "gateway.middleware.RequestContextMiddleware",
    "gateway.middleware.ApiExemptSecurityMiddleware",
    "gateway.middleware.ApiExemptSessionMiddleware",
    "gateway.middleware.ApiExemptCommonMiddleware",
    "gateway.middleware.ApiExemptCsrfViewMiddleware",
    "gateway.middleware.ApiExemptAuthenticationMiddleware",
    "gateway.middleware.ApiExemptMessageMiddleware",
    "gateway.middleware.ApiExemptXFrameOptionsMiddleware",
]

ROOT_URLCONF = "tokensgate_site.urls"
ASGI_APPLICATION = "tokensgate_site.asgi.application"
WSGI_APPLICATION = "tokensgate_site.wsgi.application"

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
            ],
        },
    },
]

DATABASE_URL = env_optional("DATABASE_URL")
SQLITE_PATH = env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_optional("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.1,
                "SOCKET_TIMEOUT": 0.1,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    # The API surfaces authenticate gateway keys themselves and render their own
    # error shapes; DRF's session and CSRF machinery must not interfere.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
}

# Gateway options, read by ``gateway.conf.config()``.
TOKENSGATE = {
    "CLAUDE_API_KEY": env_optional("CLAUDE_API_KEY"),
    "ANTHROPIC_BASE_URL": env_url("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    "ANTHROPIC_VERSION": env_str("ANTHROPIC_VERSION", "2023-06-01"),
    "UPSTREAM_CONNECT_TIMEOUT": env_float("UPSTREAM_CONNECT_TIMEOUT", 5.0, minimum=0.1),
    "UPSTREAM_READ_TIMEOUT": env_float("UPSTREAM_READ_TIMEOUT", 120.0, minimum=0.1),
    "STREAM_IDLE_TIMEOUT": env_float("STREAM_IDLE_TIMEOUT", 60.0, minimum=0.1),
    "REQUEST_DEADLINE_SECONDS": env_float("REQUEST_DEADLINE_SECONDS", 300.0, minimum=1),
    "CHEAP_MODEL": env_str("CHEAP_MODEL", "claude-haiku-4-5-20251001"),
    "EXPENSIVE_MODEL": env_str("EXPENSIVE_MODEL", "claude-sonnet-4-5-20250929"),
    "ROUTER_THRESHOLD_TOKENS": env_int("ROUTER_THRESHOLD_TOKENS", 500, minimum=0),
    "RATE_LIMIT_REQUESTS_PER_MIN": env_int("RATE_LIMIT_REQUESTS_PER_MIN", 100, minimum=0),
    "RATE_LIMIT_TOKENS_PER_MIN": env_int("RATE_LIMIT_TOKENS_PER_MIN", 100000, minimum=0),
    "CIRCUIT_BREAKER_ENABLED": env_bool("CIRCUIT_BREAKER_ENABLED", True),
    "CB_FAILURE_THRESHOLD": env_int("CB_FAILURE_THRESHOLD", 5, minimum=1),
    "CB_WINDOW_SECONDS": env_float("CB_WINDOW_SECONDS", 30.0, minimum=0.1),
    "CB_COOLDOWN_SECONDS": env_float("CB_COOLDOWN_SECONDS", 60.0, minimum=0.1),
    "MAX_RETRIES": env_int("MAX_RETRIES", 2, minimum=0),
    "OLLAMA_BASE_URL": env_url("OLLAMA_BASE_URL", "http://localhost:11434"),
    "OLLAMA_MODEL": env_str("OLLAMA_MODEL", "llama3.2:1b"),
    "OLLAMA_FALLBACK_ENABLED": env_bool("OLLAMA_FALLBACK_ENABLED", True),
    "OLLAMA_CONTEXT_TOKENS": env_int("OLLAMA_CONTEXT_TOKENS", 8192, minimum=256),
    "CACHE_ENABLED": env_bool("CACHE_ENABLED", True),
    "CACHE_TTL_SECONDS": env_int("CACHE_TTL_SECONDS", 86400, minimum=1),
    "CACHE_MAX_ENTRY_BYTES": env_int("CACHE_MAX_ENTRY_BYTES", 1048576, minimum=1024),
    "CACHE_MEMORY_MAX_BYTES": env_int("CACHE_MEMORY_MAX_BYTES", 67108864, minimum=1024),
    "CACHE_LOCK_SECONDS": env_float("CACHE_LOCK_SECONDS", 30.0, minimum=0.1),
    "OPTIMIZE_TRIM_BUDGET_TOKENS": env_int(
        "OPTIMIZE_TRIM_BUDGET_TOKENS", 32000, minimum=1000
    ),
    "MAX_REQUEST_BYTES": env_int("MAX_REQUEST_BYTES", 33554432, minimum=1024),
    "MAX_MESSAGES": env_int("MAX_MESSAGES", 2000, minimum=1),
    "MAX_TOOLS": env_int("MAX_TOOLS", 256, minimum=1),
    "MAX_OUTPUT_TOKENS": env_int("MAX_OUTPUT_TOKENS", 128000, minimum=1),
    "CLIENT_CACHE_SECONDS": env_float("CLIENT_CACHE_SECONDS", 5.0, minimum=0),
    "REDIS_URL": REDIS_URL,
    "REDIS_TIMEOUT_SECONDS": env_float("REDIS_TIMEOUT_SECONDS", 0.1, minimum=0.01),
    "REDIS_COOLDOWN_SECONDS": env_float("REDIS_COOLDOWN_SECONDS", 2.0, minimum=0.1),
    "EXPECTED_REPLICAS": env_int("EXPECTED_REPLICAS", 1, minimum=1),
    "METRICS_TOKEN": env_optional("METRICS_TOKEN"),
    "RECORD_FLUSH_SECONDS": env_float("RECORD_FLUSH_SECONDS", 1.0, minimum=0.01),
}

# API bodies are read whole, and long agent sessions with images pass Django's
# default 2.5 MB cap, which would fail valid requests; the gateway's own limit
# applies instead.
DATA_UPLOAD_MAX_MEMORY_SIZE = TOKENSGATE["MAX_REQUEST_BYTES"]

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be a logging level name, got {LOG_LEVEL!r}")
LOG_FORMAT = env_str("LOG_FORMAT", "json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "gateway.logs.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "gateway.logs.JsonFormatter"},
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # A Host header outside ALLOWED_HOSTS is a client's (often a scanner's)
        # doing and gets a 400; logged at ERROR with a traceback each time it
        # would bury the gateway's own errors.
        "django.security.DisallowedHost": {"level": "CRITICAL"},
        "daphne": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "anthropic": {"level": "WARNING"},
    },
}

# Admin's checks look for its middleware classes by type; they are installed,
# wrapped by ``gateway.middleware.api_exempt`` so the API paths skip them.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
