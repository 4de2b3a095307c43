"""news.sitetemplates: the crawler's per-host templates persist and stay bounded."""

from __future__ import annotations

import pytest

from newsdesk.news.models import SiteTemplateState
from newsdesk.news.sitetemplates import TemplateStore
from newsdesk.pipeline.extract import extract
from newsdesk.pipeline.sitetemplate import SiteTemplate, page_blocks
from tests.pipeline.test_sitetemplate import BOILERPLATE, site_page

pytestmark = pytest.mark.django_db


def _leaks(text: str) -> list[str]:
    return [b for b in BOILERPLATE if b in text]


def test_templates_are_learnt_saved_and_reloaded() -> None:
    store = TemplateStore()
    for i in range(8):
        view = store.view("bugle.example")
        store.learn("bugle.example", extract(site_page(i), site=view).blocks)
    assert not _leaks(extract(site_page(50), site=store.view("bugle.example")).text)
    assert store.save() == 1 and store.save() == 0  # nothing changed since
    row = SiteTemplateState.objects.get(host="bugle.example")
    assert row.pages == 8 and len(bytes(row.data)) < 200_000

    again = TemplateStore()  # a restarted crawler
    assert not _leaks(extract(site_page(51), site=again.view("bugle.example")).text)
    # an unknown host: an empty template, nothing stripped
    assert _leaks(extract(site_page(52), site=again.view("other.example")).text)
    assert again.view("") is None


def test_memory_bound_saves_evicted_templates() -> None:
    one = SiteTemplate()
    for i in range(4):
        one.learn(page_blocks(site_page(i)))
    store = TemplateStore(max_keys=2 * len(one) + 10)  # room for two such templates
    for host in ("a.example", "b.example", "c.example"):
        for i in range(4):
            store.learn(host, page_blocks(site_page(i)))
    # a.example was evicted from memory and saved on the way out
    assert SiteTemplateState.objects.get(host="a.example").pages == 4
    store.save()
    assert sorted(SiteTemplateState.objects.values_list("host", "pages")) == [
        ("a.example", 4), ("b.example", 4), ("c.example", 4)]
    store.learn("a.example", page_blocks(site_page(9)))  # reloaded, learning goes on
    store.save()
    assert SiteTemplateState.objects.get(host="a.example").pages == 5
