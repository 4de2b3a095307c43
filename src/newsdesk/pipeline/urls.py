"""URL identity helpers: canonical form, site comparison, canonical-link choice, content hash.

Why not simply ``courlan.clean_url``/``normalize_url``: courlan's tracker regex is searched
anywhere in a parameter name, so it drops real parameters such as ``gallery=`` and ``game=``
(``\\bga``), ``source=``, ``reference=`` (``\\bref``) or ``session=``; it also drops valueless
parameters (``?print``), keeps fragments and re-quotes ``+`` in paths. For an *identity* URL,
merging two different articles is worse than keeping a stray tracker, so we use an explicit,
conservative list below and RFC 3986 normalisation only.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urljoin, urlsplit, urlunsplit

from tld import get_tld

__all__ = [
    "canonicalize",
    "choose_canonical",
    "content_hash",
    "host_of",
    "registrable_domain",
    "same_site",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Tracking parameters, compared lower-cased. Sources: utm/GA, ad-click ids, ESP/newsletter
# tools (Mailchimp, HubSpot, Marketo, Vero), Matomo/Piwik, AT Internet and comScore (BBC),
# Adobe/Webtrends, Microsoft/Yahoo/Guardian/NYT share ids.
_TRACKING_EXACT = frozenset(
    {
        "utm",
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "igsh",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "ocid",
        "cmpid",
        "cmp",
        "icid",
        "ncid",
        "_ga",
        "_gl",
        "_ke",
        "ref_src",
        "ref_url",
        "referrer",
        "smid",
        "smtyp",
        "soc_src",
        "soc_trk",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "__twitter_impression",
        "xtor",
        "ito",
        "s_cid",
        "s_kwcid",
        "sr_share",
        "spm",
        "dicbo",
        "oborigurl",
        "trk",
        "trkcampaign",
        "traffic_source",
        "yptr",
    }
)
_TRACKING_PREFIXES = (
    "utm_",
    "hsa_",
    "_hs",
    "__hs",
    "mtm_",
    "pk_",
    "piwik_",
    "matomo_",
    "oly_",
    "vero_",
    "ga_",
    "at_",
    "ns_",
    "wt.",
    "wt_",
    "sc_",
)
# "ref" is a referrer tag (?ref=rss, ?ref=twitter, ?ref=example.com) except when it is a
# plain number, which some CMSs use as a record id.
_ID_LIKE = re.compile(r"\d+")
_UNRESERVED_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# keep sub-delims and ":@/?" readable in query parts; everything else is percent-encoded
_QUERY_SAFE = "!$'()*,/:;@?"
_WS = re.compile(r"\s+")


def _is_tracking(key: str, value: str) -> bool:
    k = key.lower()
    if k in _TRACKING_EXACT or k.startswith(_TRACKING_PREFIXES):
        return True
    return k == "ref" and not _ID_LIKE.fullmatch(value)


def _normalize_escapes(part: str) -> str:
    """Upper-case percent escapes and decode escaped unreserved characters (RFC 3986 6.2.2)."""

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m[1], 16))
        return ch if ch in _UNRESERVED else f"%{m[1].upper()}"

    return _UNRESERVED_ESCAPE.sub(fix, part)


def _remove_dot_segments(path: str) -> str:
    # a dot segment starts the path or follows a slash ("/a.html" has none)
    if "/." not in path and not path.startswith("."):
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif seg == ".":
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out) or "/"


def _normalize_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if host and not host.isascii():
        # on failure keep the Unicode form: still a stable identity
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host


def canonicalize(url: str) -> str:
    """Normalised identity URL (idempotent).

    Lower-cases scheme and host (Unicode hosts become punycode), drops the default port,
    removes dot segments, normalises percent escapes, drops the fragment and tracking
    parameters, sorts the remaining parameters (valueless ones such as ``?print`` are kept).
    Path case and trailing slashes are kept: servers may treat them as different resources.
    Non-http(s) or unparsable input is returned stripped.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = _normalize_host(parts.hostname)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    path = _remove_dot_segments(_normalize_escapes(parts.path)) or "/"
    params = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k and not _is_tracking(k, v)
    ]
    params.sort()
    query = "&".join(
        f"{quote(k, safe=_QUERY_SAFE)}={quote(v, safe=_QUERY_SAFE)}"
        if v
        else quote(k, safe=_QUERY_SAFE)
        for k, v in params
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    """Lower-case host (punycode, no port, no userinfo, ``www.`` kept); "" if there is none."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return ""
    return _normalize_host(host) if host else ""


@lru_cache(maxsize=4096)
def _site_key(host: str) -> str | None:
    """Registrable domain (eTLD+1) of a host; the host itself when it has no public suffix
    (IP, localhost, intranet); None when the host *is* a public suffix (``co.uk``)."""
    if not host:
        return None
    info = get_tld(f"http://{host}", as_object=True, fail_silently=True)
    if info is None:
        return host.removeprefix("www.")
    if info.fld == info.tld:  # type: ignore[union-attr]
        return None
    return info.fld  # type: ignore[union-attr]


def registrable_domain(url_or_host: str) -> str | None:
    """eTLD+1 of a URL or bare host (``news.bbc.co.uk`` -> ``bbc.co.uk``); the host itself
    for IPs/intranet names; None for a public suffix (``co.uk``) or no host."""
    target = url_or_host.strip()
    host = host_of(target) if "//" in target else _normalize_host(target.split("/")[0])
    return _site_key(host)


def same_site(a: str, b: str) -> bool:
    """Whether two URLs share a registrable domain (``news.bbc.co.uk`` ~ ``www.bbc.co.uk``)."""
    ka, kb = _site_key(host_of(a)), _site_key(host_of(b))
    return ka is not None and ka == kb


def _is_site_root(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def choose_canonical(page_url: str, declared: str | None) -> str:
    """Identity URL of a page given its declared ``rel=canonical``/``og:url``.

    The declaration is followed only when it resolves (against ``page_url``) to an absolute
    http(s) URL on the same site. A declaration pointing at the site root from a deeper page
    is ignored: misconfigured CMSs do that on every article, which would merge them all.
    """
    if declared and declared.strip():
        try:
            resolved = urljoin(page_url, declared.strip())
            parts = urlsplit(resolved)
        except ValueError:
            parts = None
        if (
            parts is not None
            and parts.scheme.lower() in _DEFAULT_PORTS
            and parts.hostname
            and same_site(resolved, page_url)
            and not (_is_site_root(resolved) and not _is_site_root(page_url))
        ):
            return canonicalize(resolved)
    return canonicalize(page_url)


def content_hash(text: str) -> str:
    """sha256 hex of the text after NFKC, case folding and whitespace collapsing, so that
    re-renders differing only in spacing, line breaks or case hash equal."""
    normalized = _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()
