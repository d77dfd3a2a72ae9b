"""The demo as it would run in production: ``manage.py check --deploy`` is clean.

Everything secret or site-specific comes from the environment, and the process refuses to
start without it:

    DJANGO_SECRET_KEY       at least 50 random characters
    DJANGO_ALLOWED_HOSTS    comma-separated host names, e.g. leads.example.com
    DATABASE_URL            postgres://user:password@host:5432/name (required)
    REDIS_URL               redis://host:6379/0 (optional: Redis broker and shared cache)
    DJANGO_CSRF_TRUSTED_ORIGINS  optional, e.g. https://leads.example.com
    DJANGO_DEFAULT_FROM_EMAIL    optional sender, e.g. "Sales <leads@example.com>"

Logins (/accounts/login/ and /admin/login/) are locked out by django-axes after 5 failures
per user name and address, for an hour; ``manage.py axes_reset`` lifts a lockout.

It assumes HTTPS is terminated by a proxy that sets ``X-Forwarded-Proto``.
"""

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from demo_project.mail import mail_backend
from demo_project.settings import *  # noqa: F403
from demo_project.settings import DEFAULT_FROM_EMAIL, INSTALLED_APPS, MIDDLEWARE, Q_CLUSTER


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return value


DEBUG = False
SECRET_KEY = _required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = [host.strip() for host in _required("DJANGO_ALLOWED_HOSTS").split(",") if host]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

DATABASES = {
    "default": dj_database_url.parse(
        _required("DATABASE_URL"), conn_max_age=60, conn_health_checks=True
    )
}

Q_CLUSTER = {**Q_CLUSTER, "timeout": 50, "retry": 120, "max_attempts": 3, "catch_up": False}
if REDIS_URL := os.environ.get("REDIS_URL"):
    Q_CLUSTER.pop("orm", None)
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    Q_CLUSTER.pop("redis", None)
    Q_CLUSTER["orm"] = "default"
    # Rate limits and lockouts count in the cache: shared by the workers of one host
    # (system check leadfollow.E022 refuses a per-process cache).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ.get("DJANGO_CACHE_DIR", "/tmp/leadfollow-cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes, the "demo" extra): both login pages authenticate through
# django.contrib.auth, which axes watches. Failures are stored in the database.
INSTALLED_APPS = [*INSTALLED_APPS, "axes"]
MIDDLEWARE = [*MIDDLEWARE, "axes.middleware.AxesMiddleware"]  # last, as axes asks
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "").strip() or DEFAULT_FROM_EMAIL
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# HTTPS everywhere, behind a TLS-terminating proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

globals().update(
    mail_backend(
        os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
    )
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
