"""The static route as real serves its web root: the index as a file, the paths it refuses
(absolute, climbing out, a directory: raised 404/403), names the file system refuses (500), and
the cache middleware's headers on static and routed answers to script and image paths.

Not recorded yet: the fake answers these from ``fakecomfy.routes.frontend`` only when it serves
a frontend (``fakecomfy serve``; the test fixture runs without one)."""
from __future__ import annotations

from tests.differential.harness import Step

INDEX_HEADERS = ("cache-control", "pragma", "expires", "accept-ranges")

STEPS = [
    Step("index_html_static", path="/index.html", body="none", compare_headers=INDEX_HEADERS),
    Step("head_index_html_static", method="HEAD", path="/index.html", body="none",
         compare_headers=INDEX_HEADERS),
    Step("dot_dot_encoded", path="/%2e%2e/x", body="text"),
    Step("double_slash_prompt", path="//prompt", body="text"),
    Step("view_dot_dot", path="/view/..", body="text"),
    Step("view_encoded_dot_dot", path="/view/%2e%2e", body="text"),
    Step("static_encoded_escape", path="/%2e%2e/%2e%2e/etc/passwd", body="text"),
    Step("static_long_segment", path="/" + "a" * 300, body="text"),
    Step("static_long_nested", path="/a/" + "b" * 256 + ".png", body="text",
         compare_headers=("cache-control",)),
    Step("static_segment_255", path="/" + "c" * 255, body="text"),
    Step("static_long_path", path="/" + "/".join(["d" * 200] * 30), body="text"),
    Step("static_nul", path="/a%00b", body="text"),
    Step("static_directory", path="/assets", body="text"),
    Step("js_404_cache_control", path="/nope-{uniq}.js", body="text", compare_headers=("cache-control",)),
    Step("css_404_cache_control", path="/nope-{uniq}.css", body="text", compare_headers=("cache-control",)),
    Step("png_404_cache_control", path="/nope-{uniq}.png", body="text", compare_headers=("cache-control",)),
    Step("upper_png_404_cache_control", path="/nope-{uniq}.PNG", body="text",
         compare_headers=("cache-control",)),
    Step("index_json_404_cache_control", path="/sub/index-{uniq}.json", body="text",
         compare_headers=("cache-control",)),
    Step("api_png_404_cache_control", path="/api/nope-{uniq}.png", body="text",
         compare_headers=("cache-control",)),
    Step("route_png_cache_control", path="/view/x.png", body="text", compare_headers=("cache-control",)),
    Step("post_png_405_cache_control", method="POST", path="/nope-{uniq}.png", body="text",
         compare_headers=("cache-control",)),
    Step("api_root_is_the_index", path="/api/", body="none", compare_headers=INDEX_HEADERS),
    Step("static_dot_dot_escape", path="/../../etc/passwd", body="text"),
]
