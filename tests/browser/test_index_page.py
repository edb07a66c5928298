"""index.html in Chromium (issue 17): an index of five days of runs on three tenants, made by the
runner (its cells executed in this process: tests/inprocess.py), opened from disk as a person
opens it. Each tenant's trends are drawn, the filters narrow the rows offline, nothing is
fetched from another machine, and no console error. Screenshot: build/browser/index-*.png."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opskit import runner

from ..inprocess import FIRST_DAY, days_apart
from .pages import Watched, shot, watch

pytestmark = [pytest.mark.browser]

TREND_NB = Path(__file__).parent.parent / "notebooks" / "trend.ipynb"
TENANTS = ("north", "south", "west")
DAYS = 5
# Per tenant, per day: high findings, low findings, coverage. The last day decides the latest.
PLAN = {"north": [(3, 0, 0.4), (2, 1, 0.5), (2, 1, 0.6), (1, 1, 0.7), (0, 1, 0.8)],
        "south": [(0, 0, 0.9), (1, 0, 0.9), (4, 2, 0.7), (5, 2, 0.6), (6, 3, 0.5)],
        "west": [(1, 1, 0.2), (0, 0, 0.4), (0, 0, 0.6), (0, 0, 0.8), (0, 0, 1.0)]}


@pytest.fixture(scope="module")
def index_html(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("index-page")
    config = folder / "opskit.toml"
    config.write_text("\n".join(
        f'[profiles.{t}]\nkind = "cloud"\ntenant = "http://127.0.0.1:9"\n'
        f'client_id = "scim@example.com"\nclient_secret = "env:OPSKIT_TEST_SECRET"\n'
        for t in TENANTS))
    posture = folder / "posture.ipynb"  # a second notebook name, for the notebook filter
    shutil.copy(TREND_NB, posture)
    out = folder / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPSKIT_CONFIG", str(config))
        mp.setenv("OPSKIT_TEST_SECRET", "not-used-by-these-notebooks")
        with days_apart(mp, FIRST_DAY):
            for day in range(DAYS):
                for tenant in TENANTS:
                    high, low, coverage = PLAN[tenant][day]
                    runner.run_notebook(TREND_NB, profile=tenant, out_dir=out,
                                        parameters={"high": high, "low": low,
                                                    "coverage": coverage})
            for tenant in TENANTS:
                runner.run_notebook(posture, profile=tenant, out_dir=out)
    yield out / "index.html"


@pytest.fixture(scope="module")
def opened(chromium: Any, index_html: Path) -> Watched:
    watched = watch(chromium)
    watched.page.goto(index_html.as_uri(), wait_until="load")
    return watched


def visible_rows(page: Any) -> list[tuple[str, str]]:
    rows = page.locator("#latest tbody tr:visible")
    return [(r.get_attribute("data-profile"), r.get_attribute("data-notebook"))
            for r in rows.all()]


def test_each_tenant_has_its_trends_drawn(opened: Watched) -> None:
    page = opened.page
    for tenant in TENANTS:
        block = page.locator(f'[data-tenant="{tenant}"]')
        severity = block.locator('svg[data-trend="severity"]')
        coverage = block.locator('svg[data-trend="coverage"]')
        assert severity.is_visible() and coverage.is_visible()
        box = severity.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 40
        assert f"{DAYS + 1} runs" in severity.text_content()  # five days and the posture run
        assert coverage.locator("polyline").count() == 1
    lines = page.locator('[data-tenant="north"] svg[data-trend="severity"] polyline')
    assert sorted(p.get_attribute("data-series") for p in lines.all()) == ["high", "low"]
    shot(page, "index-trends", full_page=True)


def test_filters_narrow_the_rows_offline(opened: Watched, index_html: Path) -> None:
    page = opened.page
    everything = visible_rows(page)
    assert len(everything) == len(TENANTS) * 2
    page.select_option('select[data-filter="profile"]', "south")
    assert sorted(visible_rows(page)) == [("south", "posture"), ("south", "trend")]
    assert page.locator('[data-tenant="north"]').is_hidden()
    assert page.locator('[data-tenant="south"]').is_visible()
    assert page.locator("#shown").text_content() == "2 of the latest runs shown"
    page.select_option('select[data-filter="profile"]', "")
    page.select_option('select[data-filter="notebook"]', "trend")
    assert sorted(visible_rows(page)) == [(t, "trend") for t in TENANTS]
    page.select_option('select[data-filter="level"]', "1")  # high or worse
    assert visible_rows(page) == [("south", "trend")]
    page.select_option('select[data-filter="level"]', "")
    page.select_option('select[data-filter="status"]', "attention")  # north: a low finding
    assert sorted(visible_rows(page)) == [("north", "trend"), ("south", "trend")]
    # Only south's last day found more than the day before (6 high, 3 low after 5 and 2).
    page.select_option('select[data-filter="status"]', "new")
    assert visible_rows(page) == [("south", "trend")]
    runs = json.loads(index_html.with_name("index.json").read_text())["runs"]
    with_new = sum(1 for r in runs if r.get("new"))  # every day so far is among the recent
    assert 0 < with_new < len(runs)
    assert page.locator("#recent tbody tr:visible").count() == with_new
    page.select_option('select[data-filter="status"]', "")
    page.select_option('select[data-filter="notebook"]', "")
    assert len(visible_rows(page)) == len(everything)
    shot(page, "index-filtered")


def test_the_page_asked_no_other_machine_and_logged_no_error(opened: Watched,
                                                             index_html: Path) -> None:
    assert opened.errors == [] and opened.outside == []
    # The latest report of a pair draws its own trend, from the index.
    latest = sorted((index_html.parent / "trend" / "south").iterdir())[-1] / "report.html"
    assert latest.read_text().count('data-trend="severity"') == 1
