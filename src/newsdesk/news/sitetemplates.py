"""The crawler's per-host site templates: loaded on first use, learnt in memory, saved in batches.

Extraction runs in worker processes; they get a host's template as a small
:class:`~newsdesk.pipeline.sitetemplate.CompiledTemplate` with each page and send the page's
fingerprint back, which is learnt here, in the crawler's process, in the order pages are stored.
Memory is bounded by the keys loaded (``max_keys`` across hosts; ~200 bytes a key in Python):
the least recently used templates go, saved first when changed; each template is itself
bounded (see pipeline.sitetemplate).
"""

from __future__ import annotations

from collections import OrderedDict

from django.db import transaction
from django.utils import timezone

from newsdesk.news.models import SiteTemplateState
from newsdesk.pipeline.sitetemplate import CompiledTemplate, PageBlocks, SiteTemplate

__all__ = ["TemplateStore"]

# A compiled view is rebuilt when its template has learnt this many pages since: compiling
# walks the whole template (~1-2 ms at its bound), learning a page barely moves the verdicts.
RECOMPILE_EVERY = 5


class TemplateStore:
    def __init__(self, max_keys: int = 300_000) -> None:
        self.max_keys = max_keys
        self._loaded: OrderedDict[str, SiteTemplate] = OrderedDict()
        self._compiled: dict[str, CompiledTemplate] = {}
        self._dirty: set[str] = set()
        self._keys = 0  # keys in the loaded templates, kept up to date rather than summed

    def _get(self, host: str) -> SiteTemplate:
        template = self._loaded.get(host)
        if template is not None:
            self._loaded.move_to_end(host)
            return template
        data = SiteTemplateState.objects.filter(host=host).values_list("data", flat=True).first()
        template = SiteTemplate.from_bytes(bytes(data)) if data else SiteTemplate()
        self._loaded[host] = template
        self._keys += len(template)
        self._trim()
        return template

    def _trim(self) -> None:
        """Unload the least recently used templates beyond ``max_keys`` (saving changed ones)."""
        while self._keys > self.max_keys and len(self._loaded) > 1:
            old, evicted = self._loaded.popitem(last=False)
            self._keys -= len(evicted)
            if old in self._dirty:
                self._save([old], {old: evicted})
            self._compiled.pop(old, None)

    def view(self, host: str) -> CompiledTemplate | None:
        """What to strip from the host's next page; None while nothing can be stripped yet."""
        if not host:
            return None
        template = self._get(host)
        compiled = self._compiled.get(host)
        if compiled is None or template.pages - compiled.pages >= RECOMPILE_EVERY or (
            compiled.pages < template.pages <= 2 * RECOMPILE_EVERY
        ):
            compiled = template.compiled()
            self._compiled[host] = compiled
        return compiled

    def learn(self, host: str, blocks: PageBlocks | None) -> None:
        if not host or blocks is None:
            return
        template = self._get(host)
        before = len(template)
        if template.learn(blocks):
            self._keys += len(template) - before
            self._dirty.add(host)
            self._trim()

    def save(self) -> int:
        """Persist every changed template; returns how many."""
        hosts = sorted(self._dirty)
        self._save(hosts, self._loaded)
        return len(hosts)

    def _save(self, hosts: list[str], templates: dict[str, SiteTemplate]) -> None:
        now = timezone.now()
        rows = [
            SiteTemplateState(host=h, pages=templates[h].pages, data=templates[h].to_bytes(),
                              updated=now)
            for h in hosts
            if h in templates
        ]
        if rows:
            with transaction.atomic():
                SiteTemplateState.objects.bulk_create(
                    rows, update_conflicts=True, unique_fields=["host"],
                    update_fields=["pages", "data", "updated"], batch_size=200,
                )
        self._dirty.difference_update(hosts)
