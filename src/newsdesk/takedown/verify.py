"""Ownership proofs for takedown requests: the verification file and the confirmation email.

Both reach out only through the crawler's guarded Fetcher (SSRF guard, body cap, timeouts), so a
takedown request cannot be used to make newsdesk probe internal addresses. Links in emails are
built from NEWSDESK_BASE_URL, never from the Host header of the request that triggered them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from email.utils import parseaddr

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from newsdesk.pipeline.fetch import Fetcher, FetchError
from newsdesk.pipeline.urls import registrable_domain

log = logging.getLogger(__name__)

FILE_PATH = "/.well-known/newsdesk-takedown.txt"
SECURITY_TXT_PATH = "/.well-known/security.txt"
STANDARD_MAILBOXES = ("webmaster", "abuse", "admin", "postmaster")
MAX_PROOF_BYTES = 64 * 1024  # a token file or security.txt is tiny; refuse anything bigger

# domain -> origin(s) such as "http://127.0.0.1:8123". Tests point a domain at a loopback
# server with it; None means the real origins of the domain (see origins()).
OriginFor = Callable[[str], str | Sequence[str]]
ORIGIN_FOR: OriginFor | None = None


class VerificationFailed(Exception):
    """The proof was not found; str() says why, for the requester."""


def origins(domain: str, origin_for: OriginFor | None = None) -> list[str]:
    origin_for = origin_for or ORIGIN_FOR
    if origin_for is not None:
        got = origin_for(domain)
        return [got] if isinstance(got, str) else list(got)
    # https first; http and www. as fallbacks for sites that only answer there.
    return [f"https://{domain}", f"http://{domain}", f"https://www.{domain}",
            f"http://www.{domain}"]


def public_file_url(domain: str) -> str:
    return f"https://{domain}{FILE_PATH}"


def _fetcher() -> Fetcher:
    from newsdesk.runner.crawl import fetch_config

    config = dataclasses.replace(
        fetch_config(settings.CONFIG), max_body=MAX_PROOF_BYTES, host_delay=0.0,
        total_timeout=min(settings.CONFIG.total_timeout, 20.0), max_retries=0,
        # The owner asked us to read this file; robots.txt rules for crawling do not apply.
        respect_robots=False)
    return Fetcher(config)


async def _fetch_first(domain: str, path: str, origin_for: OriginFor | None
                       ) -> tuple[str | None, list[str]]:
    """Body of the first origin that serves `path` (2xx, staying on `domain`), plus the errors
    of the origins tried before."""
    errors: list[str] = []
    async with _fetcher() as fetcher:
        for origin in origins(domain, origin_for):
            url = origin + path
            try:
                res = await fetcher.fetch(url, check_robots=False)
            except FetchError as exc:
                errors.append(str(exc))
                continue
            # A redirect to another site must not count: whoever controls that site is not
            # necessarily the owner of this one.
            if registrable_domain(res.final_url) != registrable_domain(url):
                errors.append(f"{url} redirected to another site: {res.final_url}")
                continue
            return res.text(), errors
    return None, errors


def file_lines(domain: str, origin_for: OriginFor | None = None) -> list[str]:
    """The non-empty, stripped lines of the domain's verification file, or VerificationFailed
    saying why it could not be read."""
    body, errors = async_to_sync(_fetch_first)(domain, FILE_PATH, origin_for)
    if body is None:
        raise VerificationFailed(
            f"could not read {public_file_url(domain)}: " + "; ".join(errors[-2:] or ["no answer"]))
    return [line.strip() for line in body.splitlines() if line.strip()][:1000]


def security_txt_contacts(domain: str, origin_for: OriginFor | None = None) -> list[str]:
    """mailto: contacts of the domain's security.txt that are addresses on that domain."""
    body, _ = async_to_sync(_fetch_first)(domain, SECURITY_TXT_PATH, origin_for)
    found: list[str] = []
    for line in (body or "").splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key.strip().lower() != "contact" or not value.lower().startswith("mailto:"):
            continue
        address = value[len("mailto:"):].split("?")[0].strip()
        if address_on_domain(address, domain) and address not in found:
            found.append(address)
    return found


def address_on_domain(address: str, domain: str) -> bool:
    _, parsed = parseaddr(address)
    if parsed != address or address.count("@") != 1:
        return False
    local, host = address.split("@")
    return bool(local) and registrable_domain(host) == domain


def standard_addresses(domain: str) -> list[str]:
    return [f"{box}@{domain}" for box in STANDARD_MAILBOXES]


def send_confirmation(address: str, *, domain: str, public_id: str, link: str,
                      urls: Sequence[str]) -> None:
    what = "\n".join(f"  {u}" for u in urls[:20]) or f"  everything from {domain}"
    if len(urls) > 20:
        what += f"\n  … and {len(urls) - 20} more"
    body = (
        f"Someone asked newsdesk to remove content of {domain}:\n\n{what}\n\n"
        f"If you speak for {domain} and want this removed, open this link and confirm "
        f"(valid for {settings.CONFIG.takedown_token_hours} hours, once):\n\n  {link}\n\n"
        "If you did not ask for this, ignore this message: nothing is removed without the "
        f"confirmation.\n\nRequest {public_id}\n")
    _send(f"Confirm removal of content of {domain} from newsdesk", body, [address])


def send_admin_reminder(subject: str, body: str) -> int:
    recipients = settings.CONFIG.admin_email_list
    if not recipients:
        return 0
    _send(subject, body, recipients)
    return len(recipients)


def _send(subject: str, body: str, to: list[str]) -> None:
    # One connection per message: the backend is chosen by settings (file/smtp/console), and
    # fail_silently=False so a refused message reaches the caller as an error.
    with get_connection(fail_silently=False) as connection:
        EmailMessage(subject, body, settings.CONFIG.email_from, to,
                     connection=connection).send()
