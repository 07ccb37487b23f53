"""``index.html`` in a real headless Chromium (Debian's), loaded from the store's URL.

The screenshot is kept in ``test-artifacts/`` (or ``$JASMIN_ACCESS_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.catalog.conftest import CatalogEnv
from tests.catalog.test_public import make_public

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(
    os.environ.get("JASMIN_ACCESS_TEST_ARTIFACTS") or Path(__file__).parents[2] / "test-artifacts"
)


def test_page_lists_filters_and_shows_how_to_open(
    catalog_env: CatalogEnv, s3_endpoint: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Chromium: bash scripts/system-deps.sh"
    make_public(catalog_env)
    url = f"{s3_endpoint}/{catalog_env.bucket}/catalog/index.html"
    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requested.append(r.url))
            response = page.goto(url, wait_until="load")
            assert response is not None and response.ok
            assert "text/html" in response.headers["content-type"]
            articles = page.locator("article")
            assert articles.count() == 3
            assert page.inner_text("#count") == "3 of 3 datasets"

            natl = page.locator("article", has_text="NATL_360day")
            code = natl.locator("code.open").inner_text()
            store = f"{s3_endpoint}/{catalog_env.bucket}/runs/NATL/NATL_360day.zarr"
            assert code == f'import jasmin_access as ja\nds = ja.open_dataset("{store}")'
            assert "360_day" in natl.inner_text() and "degC" in natl.inner_text()
            assert natl.locator("svg rect[fill='#1f77b4']").count() == 1
            pac = page.locator("article", has_text="PAC_1m")
            assert pac.locator("svg rect[fill='#1f77b4']").count() == 2  # across the dateline

            page.fill("#filter", "360_day")
            assert page.locator("article:visible").count() == 1
            assert page.inner_text("#count") == "1 of 3 datasets"
            page.fill("#filter", "thetao 2005")
            assert page.locator("article:visible").all_inner_texts()[0].count("PAC_1m") >= 1
            assert page.locator("article:visible").count() == 1
            page.fill("#filter", "")
            assert page.locator("article:visible").count() == 3
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "catalog-index.png"), full_page=True)
        finally:
            context.close()
    assert problems == []
    assert all(r.startswith(url) or r.startswith("data:") for r in requested), requested
    assert (ARTIFACTS / "catalog-index.png").stat().st_size > 10_000


@pytest.mark.parametrize("needle", ["<script src", '<link rel="stylesheet"', "@import", "url("])
def test_page_is_self_contained(catalog_env: CatalogEnv, needle: str) -> None:
    import jasmin_access as ja

    page = ja.cat(f"{catalog_env.catalog}/index.html", profile=catalog_env.profile)
    assert b"<article" in page and needle.encode() not in page
