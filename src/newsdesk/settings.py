"""Django settings, derived from newsdesk.conf (the documented settings table)."""

from __future__ import annotations

import secrets

import dj_database_url

from newsdesk import conf

CONFIG = conf.load()
DATA_DIR = CONFIG.data_dir


def _secret_key() -> str:
    if CONFIG.secret_key:
        return CONFIG.secret_key
    # Kept in the data dir so sessions survive restarts; the CLI creates the dir before setup.
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    if DATA_DIR.is_dir():
        path.write_text(key)
        path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = CONFIG.debug
ALLOWED_HOSTS = [h.strip() for h in CONFIG.allowed_hosts.split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "newsdesk.news",
    "newsdesk.web",
    "newsdesk.takedown",
]

MIDDLEWARE = [
    # Outermost: its security headers land on every response, 304s and errors included.
    "newsdesk.web.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # ETag from the body and 304 on If-None-Match, above anything that changes the body.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "newsdesk.urls"
ASGI_APPLICATION = "newsdesk.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if CONFIG.database_url:
    DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "newsdesk.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while the crawler writes; IMMEDIATE transactions
                # take the write lock up front instead of failing with "database is locked".
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }

# Email (takedown confirmations, SLA reminders). The file backend is the default so nothing leaves
# the machine until an operator configures SMTP; messages land in <data dir>/outbox.
EMAIL_BACKEND = {
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}[CONFIG.email_backend]
EMAIL_FILE_PATH = DATA_DIR / "outbox"
EMAIL_HOST = CONFIG.smtp_host
EMAIL_PORT = CONFIG.smtp_port
EMAIL_HOST_USER = CONFIG.smtp_user
EMAIL_HOST_PASSWORD = CONFIG.smtp_password
EMAIL_USE_TLS = CONFIG.smtp_tls
EMAIL_TIMEOUT = 15

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
# Served by newsdesk.web.static_files (the site's and the admin's package directories): one
# process, no collectstatic step, no extra dependency.
STATIC_URL = "/static/"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}
