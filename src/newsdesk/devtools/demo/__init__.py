"""`newsdesk demo`'s fictional news web (see site.py); served by the replay server."""

from newsdesk.devtools.demo.site import Article, DemoWeb, Outlet, build

__all__ = ["Article", "DemoWeb", "Outlet", "build"]
