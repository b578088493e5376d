"""The demo's own sources crawled for real, with the demo's configuration: what its pages show arrives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crawlers.conftest import crawl
from yuqing.demo.runner import CONFIG
from yuqing.demo.site import DemoSite
from yuqing.demo.timeline import COMPANY, TIMELINE


@pytest.fixture(scope="module")
def demo_site() -> Iterator[DemoSite]:
    site = DemoSite(speed=10_000).start()  # the whole story is out within a tenth of a second
    time.sleep(0.1)
    yield site
    site.stop()


def demo_config(tmp_path: Path, site: DemoSite) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(CONFIG.format(store=(tmp_path / "var").as_posix(), company=COMPANY, site=site.base_url,
                                  interval=15, smtp_port=2525, port=8000), encoding="utf-8")
    return path


def test_forum_threads_arrive_with_the_reply_counts_the_list_shows(tmp_path: Path, demo_site: DemoSite) -> None:
    done, items = crawl(tmp_path, demo_config(tmp_path, demo_site), "baihua-forum")
    assert done.returncode == 0, done.stderr
    replies = {item["url"].rsplit("/", 1)[-1][:-5]: item.get("metrics", {}).get("comments") for item in items}
    assert replies == {p.slug: p.replies for p in TIMELINE if p.kind == "forum"}
    assert min(replies.values()) > 0


def test_demo_posts_name_their_outlet_not_the_source_id(tmp_path: Path, demo_site: DemoSite) -> None:
    config = demo_config(tmp_path, demo_site)
    for source, outlet in (("baihua-news", "白桦新闻网"), ("baihua-forum", "白桦论坛")):  # their display_name
        (tmp_path / source).mkdir()
        done, items = crawl(tmp_path / source, config, source)
        assert done.returncode == 0, done.stderr
        assert items and {(item["source"], item["outlet"]) for item in items} == {(source, outlet)}
