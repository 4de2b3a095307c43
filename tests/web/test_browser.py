"""The site in a real browser: Debian Chromium driven by Playwright against `newsdesk serve`.

Checks what only a browser sees: no console errors and no CSP violations (no inline script or
style slipped in), and the primary-source links are there. Screenshots go to
artifacts/screenshots/ for a human look.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, Cli, cli_env

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian Chromium not installed at /usr/bin/chromium "
                              "(apt-get install chromium chromium-driver)"),
    pytest.mark.timeout(90),
]

# Writes the shared test corpus into a data dir through Django, as the crawler would.
SEED = """
import sys
sys.path.insert(0, {repo!r})
from newsdesk import bootstrap
bootstrap.setup({data!r})
from tests.web.conftest import make_corpus
c = make_corpus()
print(c.table.get_absolute_url(), c.plain.get_absolute_url(), c.table.url, sep="\\n")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("browser") / "data"
    env = cli_env()
    seeded = subprocess.run([sys.executable, "-c", SEED.format(repo=str(REPO), data=str(data))],
                            env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    table_path, plain_path, table_url = seeded.stdout.split()
    port = _free_port()
    server = Cli(data, env).popen("serve", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {server.stderr.read()[-2000:]}")
            time.sleep(0.1)
        yield {"base": base, "table": table_path, "plain": plain_path, "table_url": table_url}
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield b
        finally:
            b.close()


PAGES = [
    ("front", "/"),
    ("article", "{table}"),
    ("article-plain", "{plain}"),
    ("archive-month", "/archive/2026/2/"),
    ("search", "/search?q=harbour+bridge"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_in_chromium(site: dict[str, str], browser: object, scheme: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    widths = {"desktop": (1280, 900)} if scheme == "dark" else {"desktop": (1280, 900),
                                                                "phone": (390, 844)}
    for device, (w, h) in widths.items():
        ctx = browser.new_context(viewport={"width": w, "height": h},  # type: ignore[attr-defined]
                                  color_scheme=scheme)
        page = ctx.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        for name, path in PAGES:
            url = site["base"] + path.format(**site)
            response = page.goto(url, wait_until="load")
            assert response is not None and response.status == 200, url
            assert "default-src 'self'" in response.headers["content-security-policy"]
            # Every listed item and every article shows its primary source link.
            links = page.locator("[data-primary-source]")
            assert links.count() > 0, url
            if name.startswith("article"):
                original = page.locator("a.read-original")
                assert original.is_visible()
                if name == "article":
                    assert original.get_attribute("href") == site["table_url"]
                    assert page.locator(".prose table").is_visible()
            else:
                items = page.locator("article.item").count()
                assert links.count() == items, url
            # The stylesheet applied (a CSP block or a 404 would leave the default look).
            assert page.eval_on_selector("body", "b => getComputedStyle(b).margin") == "0px"
            # Phones: the first screen, which is what a reader judges the page by.
            page.screenshot(path=str(SHOTS / f"{name}-{device}-{scheme}.png"),
                            full_page=device != "phone")
        ctx.close()
    assert not problems, "\n".join(problems)


def test_keyboard_skip_link(site: dict[str, str], browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(site["base"] + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "#content"
    page.close()


def test_api_docs_render_under_csp(site: dict[str, str], browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(site["base"] + "/api/docs", wait_until="networkidle")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15000)
    assert page.locator(".opblock").count() >= 5  # every operation listed
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "api-docs.png"))
    page.close()
    assert not problems, "\n".join(problems)


def test_takedown_form_submits_in_chromium(site: dict[str, str], browser: object) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(site["base"] + "/takedown")
    page.fill("textarea[name=urls]", site["table_url"])
    page.fill("input[name=name]", "Ana Lima")
    page.fill("input[name=email]", "ana@example.org")
    page.fill("textarea[name=reason]", "We do not allow copies.")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "takedown-form.png"), full_page=True)
    page.click("main form[method=post] button[type=submit]")
    page.wait_for_load_state("load")
    # The answer is the request's status (its token is shown only this once), with a link to
    # its own status page and the verification instructions.
    assert page.locator("a[href^='/takedown/']").count() >= 1
    assert page.locator("text=newsdesk-takedown.txt").count() >= 1
    page.screenshot(path=str(SHOTS / "takedown-status.png"), full_page=True)
    page.close()
    assert not problems, "\n".join(problems)
