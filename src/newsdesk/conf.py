"""newsdesk settings: one documented table, read from the environment.

Every knob newsdesk has lives in SETTINGS below (name, environment variable, default, meaning);
`newsdesk settings` prints it and a test checks the README documents every row. Values are read
once per process through `load()`; nothing else in the code base reads os.environ directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (1/0, true/false), got {value!r}")


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise ValueError(f"expected an integer >= 1, got {value!r}")
    return n


EMAIL_BACKENDS = ("file", "smtp", "console")


def _email_backend(value: str) -> str:
    v = value.strip().lower()
    if v not in EMAIL_BACKENDS:
        raise ValueError(f"expected one of {', '.join(EMAIL_BACKENDS)}, got {value!r}")
    return v


def _non_negative_float(value: str) -> float:
    x = float(value)
    if x < 0:
        raise ValueError(f"expected a number >= 0, got {value!r}")
    return x


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "NEWSDESK_DATA_DIR", "./newsdesk-data", str,
            "Directory for the embedded SQLite database and other state (`--data-dir` wins)."),
    Setting("database_url", "DATABASE_URL", "", str,
            "Database URL; empty means SQLite (WAL) in the data dir. "
            "`postgres://user@host/db` selects PostgreSQL."),
    Setting("user_agent", "NEWSDESK_USER_AGENT", "", str,
            "User-Agent sent with every request; empty builds "
            "`newsdesk/<version> (+<contact URL>)`."),
    Setting("contact_url", "NEWSDESK_CONTACT_URL", "https://github.com/newsdesk/newsdesk", str,
            "Contact URL carried in the default User-Agent so site owners can reach you."),
    Setting("host_concurrency", "NEWSDESK_HOST_CONCURRENCY", 2, _positive_int,
            "Maximum concurrent requests to one host."),
    Setting("host_delay", "NEWSDESK_HOST_DELAY", 1.0, _non_negative_float,
            "Minimum seconds between two requests to one host (0 disables the delay)."),
    Setting("concurrency", "NEWSDESK_CONCURRENCY", 32, _positive_int,
            "Maximum requests in flight across all hosts."),
    Setting("workers", "NEWSDESK_WORKERS", 0, int,
            "Extraction processes; 0 means one per CPU core."),
    Setting("connect_timeout", "NEWSDESK_CONNECT_TIMEOUT", 10.0, _non_negative_float,
            "Seconds to establish a connection."),
    Setting("read_timeout", "NEWSDESK_READ_TIMEOUT", 20.0, _non_negative_float,
            "Seconds to wait for the next bytes of a response."),
    Setting("total_timeout", "NEWSDESK_TOTAL_TIMEOUT", 60.0, _non_negative_float,
            "Wall-clock seconds for one whole fetch, body included (slow servers)."),
    Setting("max_body", "NEWSDESK_MAX_BODY", 10 * 1024 * 1024, _positive_int,
            "Maximum response body in bytes, counted after decompression."),
    Setting("allow_private_networks", "NEWSDESK_ALLOW_PRIVATE_NETWORKS", False, _bool,
            "Allow fetching URLs that resolve to loopback/private/link-local addresses "
            "(tests, intranets). Off by default: SSRF guard."),
    Setting("min_interval", "NEWSDESK_MIN_INTERVAL", 300, _positive_int,
            "Shortest poll interval for a source, in seconds."),
    Setting("max_interval", "NEWSDESK_MAX_INTERVAL", 86400, _positive_int,
            "Longest poll interval for a source, in seconds (also the cap of error backoff)."),
    Setting("unconditional_every", "NEWSDESK_UNCONDITIONAL_EVERY", 86400, _positive_int,
            "Seconds after which a feed is polled without validators, for servers whose "
            "ETag/Last-Modified lie."),
    Setting("page_retries", "NEWSDESK_PAGE_RETRIES", 3, _positive_int,
            "Attempts for one article page before it is given up (its error is kept)."),
    Setting("host", "NEWSDESK_HOST", "127.0.0.1", str, "Address `serve`/`run` listen on."),
    Setting("port", "NEWSDESK_PORT", 8000, int, "Port `serve`/`run` listen on."),
    Setting("secret_key", "NEWSDESK_SECRET_KEY", "", str,
            "Django secret key; empty generates one and keeps it in the data dir."),
    Setting("debug", "NEWSDESK_DEBUG", False, _bool, "Django debug mode (never in production)."),
    Setting("allowed_hosts", "NEWSDESK_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]", str,
            "Comma-separated host names the web server answers to."),
    Setting("base_url", "NEWSDESK_BASE_URL", "", str,
            "Public address of this site for links in emails (takedown confirmations); never "
            "taken from a request's Host header. Empty means "
            "`http://<NEWSDESK_HOST>:<NEWSDESK_PORT>`."),
    Setting("email_backend", "NEWSDESK_EMAIL_BACKEND", "file", _email_backend,
            "How email is sent: `file` (each message written to `<data dir>/outbox`), `smtp` or "
            "`console`."),
    Setting("smtp_host", "NEWSDESK_SMTP_HOST", "localhost", str,
            "SMTP server (with `NEWSDESK_EMAIL_BACKEND=smtp`)."),
    Setting("smtp_port", "NEWSDESK_SMTP_PORT", 25, _positive_int, "SMTP server port."),
    Setting("smtp_user", "NEWSDESK_SMTP_USER", "", str, "SMTP login; empty sends without one."),
    Setting("smtp_password", "NEWSDESK_SMTP_PASSWORD", "", str, "SMTP password."),
    Setting("smtp_tls", "NEWSDESK_SMTP_TLS", False, _bool, "Use STARTTLS with the SMTP server."),
    Setting("email_from", "NEWSDESK_EMAIL_FROM", "newsdesk@localhost", str,
            "Sender address of the emails newsdesk sends."),
    Setting("admin_emails", "NEWSDESK_ADMIN_EMAILS", "", str,
            "Comma-separated addresses reminded of takedown requests still undecided after 12 "
            "hours (the deadline is 24)."),
    Setting("takedown_rate", "NEWSDESK_TAKEDOWN_RATE", 5, _positive_int,
            "Takedown requests accepted per hour from one IP address, and for one requester email "
            "address."),
    Setting("takedown_token_hours", "NEWSDESK_TAKEDOWN_TOKEN_HOURS", 72, _positive_int,
            "Hours a takedown verification token (file or email link) stays valid."),
)


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    user_agent: str
    contact_url: str
    host_concurrency: int
    host_delay: float
    concurrency: int
    workers: int
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_body: int
    allow_private_networks: bool
    min_interval: int
    max_interval: int
    unconditional_every: int
    page_retries: int
    host: str
    port: int
    secret_key: str
    debug: bool
    allowed_hosts: str
    base_url: str
    email_backend: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_tls: bool
    email_from: str
    admin_emails: str
    takedown_rate: int
    takedown_token_hours: int

    @property
    def effective_user_agent(self) -> str:
        from newsdesk import __version__

        return self.user_agent or f"newsdesk/{__version__} (+{self.contact_url})"

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def admin_email_list(self) -> list[str]:
        return [a.strip() for a in self.admin_emails.split(",") if a.strip()]

    @property
    def effective_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)


class SettingError(ValueError):
    pass


def load(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build a Config from `env` (default os.environ); keyword overrides win (CLI flags)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if overrides.get(s.name) is not None:
            values[s.name] = overrides[s.name]
            continue
        raw = env.get(s.env)
        if raw is None or raw == "":
            values[s.name] = s.default
            continue
        try:
            values[s.name] = s.parse(raw)
        except ValueError as exc:
            raise SettingError(f"{s.env}={raw!r}: {exc}") from exc
    values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
    assert {f.name for f in fields(Config)} == set(values), "SETTINGS and Config disagree"
    return Config(**values)


def markdown_table() -> str:
    """The settings table as the README shows it (a test keeps the two identical)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "" if s.default == "" else f"`{s.default}`"
        lines.append(f"| `{s.env}` | {default} | {s.help} |")
    return "\n".join(lines)
