"""URL identity: canonical form, tracking parameters, same-site test, canonical-link choice."""

from __future__ import annotations

import pytest

from newsdesk.pipeline.urls import (
    canonicalize,
    choose_canonical,
    content_hash,
    host_of,
    registrable_domain,
    same_site,
)

ARTICLE = "https://www.example.com/world/2024/03/05/sanctions-hit-moscow"


@pytest.mark.parametrize(
    "param",
    [
        "utm_source=twitter",
        "utm_medium=social",
        "UTM_Campaign=spring",
        "utm_content=x",
        "fbclid=IwAR0abc",
        "gclid=Cj0KCQ",
        "mc_cid=12ab",
        "mc_eid=34cd",
        "ocid=msedgntp",
        "cmpid=rss",
        "CMP=share_btn_tw",
        "_ga=2.1234",
        "igshid=MzRlODBiNWFlZA",
        "ref=twitter",
        "ref=rss",
        "ref_src=twsrc%5Etfw",
        "at_medium=RSS",
        "ns_campaign=bbc",
        "smid=tw-share",
    ],
)
def test_tracking_parameters_are_dropped(param: str) -> None:
    assert canonicalize(f"{ARTICLE}?{param}") == ARTICLE
    assert canonicalize(f"{ARTICLE}?id=7&{param}") == f"{ARTICLE}?id=7"


def test_real_parameters_are_kept_and_sorted() -> None:
    # courlan's tracker regex would drop all of these ("gallery"/"game" match \bga)
    url = f"{ARTICLE}?page=2&gallery=5&game=3&source=rss&ref=123&utm_source=x&print"
    assert canonicalize(url) == f"{ARTICLE}?gallery=5&game=3&page=2&print&ref=123&source=rss"


def test_scheme_host_port_fragment_normalised_path_case_kept() -> None:
    assert (
        canonicalize("HTTPS://WWW.Example.COM:443/World/Story.HTML#comments")
        == "https://www.example.com/World/Story.HTML"
    )
    assert canonicalize("http://example.com:80") == "http://example.com/"
    assert canonicalize("http://example.com:8080/a") == "http://example.com:8080/a"
    assert canonicalize("https://example.com/a/./b/../c/") == "https://example.com/a/c/"
    assert canonicalize("https://example.com/caf%c3%a9%7e") == "https://example.com/caf%C3%A9~"
    assert canonicalize("https://münchen.de/x") == "https://xn--mnchen-3ya.de/x"
    assert canonicalize("  https://example.com/a?  ") == "https://example.com/a"


def test_non_http_input_is_returned_stripped() -> None:
    assert canonicalize(" mailto:desk@example.com ") == "mailto:desk@example.com"
    assert canonicalize("not a url") == "not a url"


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://Example.COM:443/a+b/./x/../Caps%7e%2f?z=1&utm_source=x&a=%20b+c&print#frag",
        "http://münchen.de:8080/x?ref=123&ref_src=tw",
        "https://[2001:DB8::1]:443/p?q=a%26b%3Dc&x=%2B",
        "https://example.com/search?q=caf%C3%A9&q=tea&lang=",
        "https://example.com",
        ARTICLE,
    ],
)
def test_canonicalize_is_idempotent(url: str) -> None:
    once = canonicalize(url)
    assert canonicalize(once) == once


def test_same_site() -> None:
    assert same_site("https://news.bbc.co.uk/a", "https://www.bbc.co.uk/b")
    assert same_site("https://bbc.co.uk/a", "http://www.bbc.co.uk/b")
    assert not same_site("https://bbc.co.uk/", "https://co.uk/")
    assert not same_site("https://co.uk/", "https://co.uk/")  # a public suffix is no site
    assert not same_site("https://a.blogspot.com/", "https://b.blogspot.com/")
    assert not same_site("https://example.com/", "https://example.org/")
    assert same_site("http://localhost:8000/a", "http://localhost/b")
    assert not same_site("not a url", "not a url")


def test_registrable_domain_and_host() -> None:
    assert registrable_domain("https://news.bbc.co.uk/x") == "bbc.co.uk"
    assert registrable_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("co.uk") is None
    assert host_of("https://User@WWW.Example.com:8080/x") == "www.example.com"
    assert host_of("/relative/path") == ""


def test_choose_canonical_resolves_relative_declarations() -> None:
    page = f"{ARTICLE}?utm_source=rss"
    assert choose_canonical(page, "/world/sanctions?b=2&a=1#top") == (
        "https://www.example.com/world/sanctions?a=1&b=2"
    )
    assert choose_canonical(page, "//news.example.com/x") == "https://news.example.com/x"
    assert (
        choose_canonical(page, "https://m.example.com/world/x") == "https://m.example.com/world/x"
    )


@pytest.mark.parametrize(
    "declared",
    [
        None,
        "",
        "https://aggregator.example.org/world/2024/03/05/sanctions-hit-moscow",  # other site
        "https://example.co.uk/world/x",
        "javascript:alert(1)",
        "mailto:desk@example.com",
        "ftp://www.example.com/world/x",
        "/",  # CMS default pointing every article at the homepage
        "https://www.example.com/",
    ],
)
def test_choose_canonical_refuses_other_sites_and_junk(declared: str | None) -> None:
    assert choose_canonical(f"{ARTICLE}?fbclid=1#c", declared) == ARTICLE


def test_content_hash_ignores_whitespace_and_case() -> None:
    a = content_hash("Sanctions hit Moscow.\n\nThe economy  shrank.")
    assert a == content_hash("  sanctions HIT moscow. The economy\tshrank.\n")
    assert a != content_hash("Sanctions hit Kyiv. The economy shrank.")
    assert len(a) == 64 and int(a, 16) >= 0
