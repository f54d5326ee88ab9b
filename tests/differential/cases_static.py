"""The static routes as real serves the frontend it pins (1.35.9, templates 0.7.67, embedded
docs): the index at ``/``, ``/api/`` and as a file; the paths it refuses (absolute, climbing
out, a directory: raised 404/403), names the file system refuses (500); the cache middleware's
headers on static and routed answers; types, validators, ranges and conditionals of the files;
``/extensions``, ``/templates/…`` and ``/docs/…``, whose static route takes a path only when its
normalised form is under the prefix.

The fake answers these from ``fakecomfy.routes.frontend`` when it serves the ``[ui]`` extra's
frontend (the differential fixture does, like ``fakecomfy serve``; without the extra the group
is skipped)."""
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

FILE_HEADERS = ("cache-control", "accept-ranges", "content-length", "content-range", "content-encoding", "vary")
VALIDATORS = ("etag", "last-modified")
ASSET = "/assets/AboutPanel-DG9fO3lm.js"

STEPS += [
    # the index, at / and /api/, as its file and with what the index route adds
    Step("index_root", path="/", body="bytes", compare_headers=INDEX_HEADERS + FILE_HEADERS, present=VALIDATORS),
    Step("head_index_root", method="HEAD", path="/", body="bytes", compare_headers=INDEX_HEADERS + FILE_HEADERS),
    Step("head_api_root", method="HEAD", path="/api/", body="bytes", compare_headers=INDEX_HEADERS + FILE_HEADERS),
    Step("index_root_query", path="/?a=1&b", body="bytes", compare_headers=INDEX_HEADERS),
    Step("index_range", path="/", headers=[("Range", "bytes=0-9")], body="bytes",
         compare_headers=INDEX_HEADERS + FILE_HEADERS),
    Step("index_range_suffix", path="/", headers=[("Range", "bytes=-5")], body="bytes",
         compare_headers=INDEX_HEADERS + FILE_HEADERS),
    Step("index_range_unsatisfiable", path="/", headers=[("Range", "bytes=999999-")], body="text",
         compare_headers=INDEX_HEADERS + FILE_HEADERS),
    Step("index_html_range", path="/index.html", headers=[("Range", "bytes=3-7")], body="bytes",
         compare_headers=INDEX_HEADERS + FILE_HEADERS),
    Step("index_if_none_match_any", path="/", headers=[("If-None-Match", "*")], body="text",
         compare_headers=INDEX_HEADERS + FILE_HEADERS, present=VALIDATORS),
    Step("index_html_query", path="/index.html?v=2", body="bytes", compare_headers=FILE_HEADERS),
    Step("index_html_trailing_slash", path="/index.html/", body="bytes", compare_headers=FILE_HEADERS),
    Step("api_index_html", path="/api/index.html", body="text", compare_headers=FILE_HEADERS),
    Step("post_api_root", method="POST", path="/api/", body="text", compare_headers=("allow",)),
    # dot segments: resolved with the web root, never removed before routing
    Step("assets_dot_dot_index", path="/assets/../index.html", body="bytes", compare_headers=FILE_HEADERS),
    Step("dot_index", path="/./index.html", body="bytes", compare_headers=FILE_HEADERS),
    Step("api_dot_dot_prompt", path="/api/../prompt", body="text"),
    Step("dot_dot_prompt", path="/../prompt", body="text"),
    Step("climb_then_index", path="/a/../../index.html", body="text"),
    Step("climb_back_in", path="/../x/../index.html", body="text"),
    Step("bare_dot_dot", path="/..", body="text"),
    Step("dir_dot_dot", path="/x/..", body="text"),
    Step("encoded_dot_dot_inside", path="/fonts/%2e%2e/index.html", body="bytes"),
    Step("encoded_slash_escape", path="/..%2f..%2fetc/passwd", body="text"),
    Step("encoded_absolute", path="/%2fetc/passwd", body="text"),
    Step("assets_trailing_slash", path="/assets/", body="text"),
    # static files: types, cache headers, validators, ranges, conditionals
    Step("asset_js", path=ASSET, body="bytes", compare_headers=FILE_HEADERS, present=VALIDATORS),
    Step("head_asset_js", method="HEAD", path=ASSET, body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_js_query", path=ASSET + "?v=1", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_if_none_match_any", path=ASSET, headers=[("If-None-Match", "*")], body="text",
         compare_headers=FILE_HEADERS, present=VALIDATORS),
    Step("asset_if_none_match_other", path=ASSET, headers=[("If-None-Match", '"nope"')], body="bytes",
         compare_headers=FILE_HEADERS),
    Step("asset_if_match_other", path=ASSET, headers=[("If-Match", '"nope"')], body="text",
         compare_headers=FILE_HEADERS),
    Step("asset_if_modified_since_future", path=ASSET,
         headers=[("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")], body="text", compare_headers=FILE_HEADERS),
    Step("asset_if_unmodified_since_past", path=ASSET,
         headers=[("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")], body="text",
         compare_headers=FILE_HEADERS),
    Step("asset_gzip_accepted", path=ASSET, headers=[("Accept-Encoding", "gzip, br")], body="bytes",
         compare_headers=FILE_HEADERS),
    Step("asset_range_two", path=ASSET, headers=[("Range", "bytes=0-1,5-6")], body="text",
         compare_headers=FILE_HEADERS),
    Step("asset_map", path=ASSET + ".map", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_css", path="/materialdesignicons.min.css", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_svg", path="/assets/images/comfy-logo-mono.svg", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_png", path="/cursor/paintBucket.png", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_ico", path="/assets/favicon.ico", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_json", path="/assets/sorted-custom-node-map.json", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_txt", path="/assets/CREDIT.txt", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_ttf", path="/assets/primeicons-MpK4pl85.ttf", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_eot", path="/assets/primeicons-DMOk5skT.eot", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_woff", path="/assets/primeicons-WjwUDZjB.woff", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_woff2", path="/fonts/inter-latin-normal.woff2", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_webm", path="/assets/images/cloud-subscription.webm", body="bytes", compare_headers=FILE_HEADERS),
    Step("asset_upper_case_name", path=ASSET.upper(), body="text", compare_headers=FILE_HEADERS),
    Step("post_asset", method="POST", path=ASSET, body="text", compare_headers=("allow", "cache-control")),
    Step("delete_asset", method="DELETE", path=ASSET, body="text", compare_headers=("allow", "cache-control")),
    Step("user_css", path="/user.css", body="text", compare_headers=FILE_HEADERS),
    Step("missing_unknown_suffix", path="/nope-{uniq}.weird", body="text", compare_headers=FILE_HEADERS),
    Step("missing_no_suffix", path="/nope-{uniq}", body="text", compare_headers=FILE_HEADERS),
    Step("head_missing_png", method="HEAD", path="/nope-{uniq}.png", body="text", compare_headers=FILE_HEADERS),
    # extensions
    Step("extensions_list", path="/extensions"),
    Step("api_extensions_list", path="/api/extensions"),
    Step("extension_script", path="/extensions/core/groupNode.js", body="bytes", compare_headers=FILE_HEADERS),
    Step("extensions_directory", path="/extensions/core", body="text"),
    Step("extensions_missing", path="/extensions/nope-{uniq}/x.js", body="text", compare_headers=FILE_HEADERS),
    # templates: assets by file name from the templates package
    Step("templates_index", path="/templates/index.json", body="bytes", compare_headers=FILE_HEADERS),
    Step("templates_default", path="/templates/default.json", body="bytes", compare_headers=FILE_HEADERS),
    Step("templates_thumbnail", path="/templates/default-1.webp", body="bytes", compare_headers=FILE_HEADERS),
    Step("head_templates_index", method="HEAD", path="/templates/index.json", body="bytes",
         compare_headers=FILE_HEADERS),
    Step("templates_missing", path="/templates/nope-{uniq}.json", body="text", compare_headers=FILE_HEADERS),
    Step("templates_bare", path="/templates/", body="text", compare_headers=FILE_HEADERS),
    Step("templates_no_slash", path="/templates", body="text", compare_headers=FILE_HEADERS),
    Step("templates_dot_dot", path="/templates/../index.html", body="text", compare_headers=FILE_HEADERS),
    Step("api_templates_index", path="/api/templates/index.json", body="text", compare_headers=FILE_HEADERS),
    Step("post_templates_index", method="POST", path="/templates/index.json", body="text",
         compare_headers=("allow",)),
    # docs: files under the embedded docs package
    Step("docs_markdown", path="/docs/KSampler/en.md", body="bytes", compare_headers=FILE_HEADERS),
    Step("docs_bare", path="/docs", body="text", compare_headers=FILE_HEADERS),
    Step("docs_slash", path="/docs/", body="text", compare_headers=FILE_HEADERS),
    Step("docs_missing", path="/docs/nope-{uniq}.md", body="text", compare_headers=FILE_HEADERS),
    Step("docs_dot_dot", path="/docs/../index.html", body="text", compare_headers=FILE_HEADERS),
    Step("docs_encoded_escape", path="/docs/%2e%2e/%2e%2e/index.html", body="text", compare_headers=FILE_HEADERS),
    Step("api_docs", path="/api/docs/KSampler/en.md", body="text", compare_headers=FILE_HEADERS),
    # a static route takes a path by its normalised form: what climbs out of /docs is the root's
    Step("docs_climb_to_root_file", path="/docs/x/../../index.html", body="bytes", compare_headers=FILE_HEADERS),
    Step("docs_encoded_climb_to_root", path="/docs/%2e%2e/index.html", body="bytes", compare_headers=FILE_HEADERS),
    Step("docs_climb_to_missing", path="/docs/../user.css", body="text", compare_headers=FILE_HEADERS),
    Step("docs_climb_to_root_dir", path="/docs/..", body="text"),
    Step("docs_climb_above_root", path="/docs/../../index.html", body="text"),
    Step("docs_dot_inside", path="/docs/./KSampler/en.md", body="bytes"),
    Step("docs_double_slash", path="/docs//KSampler/en.md", body="text"),
    Step("docs_climb_back_in", path="/docs/KSampler/../KSampler/en.md", body="bytes"),
    Step("docs_encoded_slash", path="/docs%2fKSampler/en.md", body="text", compare_headers=FILE_HEADERS),
    Step("templates_encoded_slash", path="/templates%2findex.json", body="text", compare_headers=FILE_HEADERS),
    Step("templates_newline", path="/templates/a%0ab.json", body="text", compare_headers=FILE_HEADERS),
    Step("templates_encoded_name", path="/templates/index%2ejson", body="bytes", compare_headers=FILE_HEADERS),
]
