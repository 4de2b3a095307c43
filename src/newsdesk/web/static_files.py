"""Static files without extra dependencies: the site's own assets and the admin's.

Served by the app itself (the deployment is one process behind, at most, a reverse proxy), from a
fixed list of package directories. `django.views.static.serve` refuses path traversal and answers
If-Modified-Since; versioned URLs (`?v=<hash>`, see the `asset` tag) are cached for a year.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import django.contrib.admin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.static import serve

ROOTS = {
    "web/": Path(__file__).resolve().parent / "static",
    "admin/": Path(django.contrib.admin.__file__).resolve().parent / "static",
}


def buffered(response: HttpResponseBase) -> HttpResponseBase:
    """A small file's streaming response read into memory.

    Under ASGI (uvicorn) Django must drain a FileResponse's synchronous iterator in a thread and
    warns each time; our static files are small, so serve them as plain bytes.
    """
    if not getattr(response, "streaming", False):
        return response
    out = HttpResponse(b"".join(response.streaming_content), status=response.status_code)
    for name, value in response.items():
        out[name] = value
    response.close()
    return out


def static(request: HttpRequest, path: str) -> HttpResponseBase:
    for prefix, root in ROOTS.items():
        if path.startswith(prefix):
            response = buffered(serve(request, path, document_root=str(root)))
            break
    else:
        raise Http404("no such file")
    if "v" in request.GET:
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "public, max-age=3600"
    return response


@lru_cache(maxsize=64)
def version(path: str) -> str:
    """A short content hash for cache busting (computed once per process)."""
    for prefix, root in ROOTS.items():
        if path.startswith(prefix):
            try:
                return hashlib.sha256((root / path).read_bytes()).hexdigest()[:10]
            except OSError:
                return "0"
    return "0"
