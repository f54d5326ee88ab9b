"""File answers like aiohttp's ``web.FileResponse``: ``/view`` (unconverted files; the
``preview`` and ``channel`` conversions are plain responses) and ``/userdata/{file}``, with
ranges, conditional requests, HEAD and a ``.gz``/``.br`` sibling for a client that accepts it.

``ETag`` and ``Last-Modified`` differ between servers (each stamps its own upload), so only their
presence is compared here; their format is held to aiohttp's by ``tests/test_file_serving.py``,
which serves one file from the fake and from an aiohttp app. Conditional cases therefore use
validators that do not depend on the file's stamp: ``*``, tags that cannot match, dates long past
or far ahead.
"""
from __future__ import annotations

from tests.differential.harness import Step

B = "FSBOUND"
TEXT = b"hello world, this is a text file\n"  # 33 bytes
GZ = b"\x1f\x8b stands in for the gzip of the text file"
BR = b"stands in for the brotli of the text file"
PAST = "Sat, 01 Jan 2000 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"
FILE_HEADERS = ("accept-ranges", "content-range", "content-length", "transfer-encoding",
                "content-encoding", "vary", "content-disposition", "cache-control")
VALIDATORS = ("etag", "last-modified")


def upload(name: str, filename: str, data: bytes) -> Step:
    """A setup step: ``filename`` uploaded to input/ through /upload/image."""
    body = (f"--{B}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{B}--\r\n".encode()
    return Step(name, "POST", "/upload/image", headers=(("Content-Type", f"multipart/form-data; boundary={B}"),),
                data=body, setup=True)


def userdata_file(name: str, file: str, data: bytes) -> Step:
    return Step(name, "POST", f"/userdata/{file}", data=data, setup=True)


def get(name: str, path: str, *headers: tuple[str, str], method: str = "GET") -> Step:
    return Step(name, method, path, headers=headers, body="bytes", compare_headers=FILE_HEADERS,
                present=VALIDATORS)


def view(name: str, *headers: tuple[str, str], filename: str = "{uniq}.txt", method: str = "GET",
         query: str = "") -> Step:
    return get(name, f"/view?filename={filename}&type=input{query}", *headers, method=method)


def rng(value: str) -> tuple[str, str]:
    return ("Range", value)


USERDATA = "/userdata/{uniq}.json"

STEPS = [
    upload("upload_text", "{uniq}.txt", TEXT),
    upload("upload_text_gz", "{uniq}.txt.gz", GZ),
    upload("upload_both", "{uniq}both.txt", TEXT),
    upload("upload_both_gz", "{uniq}both.txt.gz", GZ),
    upload("upload_both_br", "{uniq}both.txt.br", BR),
    upload("upload_only_gz", "{uniq}only.txt.gz", GZ),
    upload("upload_empty", "{uniq}empty.txt", b""),
    upload("upload_js", "{uniq}.js", b"export {};\n"),
    upload("upload_css", "{uniq}.css", b"a{}\n"),
    upload("upload_html", "{uniq}.html", b"<p>x</p>\n"),
    upload("upload_svg", "{uniq}.svg", b"<svg/>\n"),
    upload("upload_json", "{uniq}.json", b"{}\n"),
    upload("upload_unknown", "{uniq}.latent", b"x"),
    upload("upload_unicode", "{uniq}\u00e9.txt", TEXT),
    # ---- a whole file ---------------------------------------------------------------------
    view("view_whole_file"),
    view("view_head", method="HEAD"),
    view("view_empty_file", filename="{uniq}empty.txt"),
    view("view_unicode_name", filename="{uniq}%C3%A9.txt"),
    view("view_explicit_rgba_channel", query="&channel=rgba"),
    *(view(f"view_type_{ext}", filename=f"{{uniq}}.{ext}") for ext in ("js", "css", "html", "svg", "json", "latent")),
    # ---- ranges ---------------------------------------------------------------------------
    view("range_first_bytes", rng("bytes=0-4")),
    view("range_one_byte", rng("bytes=0-0")),
    view("range_last_byte", rng("bytes=32-32")),
    view("range_open_end", rng("bytes=5-")),
    view("range_end_past_size", rng("bytes=1-1000")),
    view("range_suffix", rng("bytes=-5")),
    view("range_suffix_longer_than_file", rng("bytes=-100")),
    view("range_suffix_zero", rng("bytes=-0")),
    view("range_upper_case_unit", rng("BYTES=1-2")),
    view("range_padded", rng("  bytes=0-1  ")),
    view("range_start_at_size", rng("bytes=33-")),
    view("range_start_past_size", rng("bytes=100-")),
    view("range_two_ranges", rng("bytes=0-1,3-4")),
    view("range_two_ranges_spaced", rng("bytes=0-1, 3-4")),
    view("range_backwards", rng("bytes=5-2")),
    view("range_dash_only", rng("bytes=-")),
    view("range_other_unit", rng("items=0-1")),
    view("range_spaces_inside", rng("bytes = 0-1")),
    view("range_not_numbers", rng("bytes=a-b")),
    view("range_empty_value", rng("")),
    view("range_huge_number", rng("bytes=" + "9" * 5000 + "-")),
    view("range_first_of_two_headers", rng("bytes=0-1"), rng("bytes=2-3")),
    view("range_head", rng("bytes=0-1"), method="HEAD"),
    view("range_unsatisfiable_head", rng("bytes=a"), method="HEAD"),
    view("range_on_empty_file", rng("bytes=0-"), filename="{uniq}empty.txt"),
    view("range_suffix_on_empty_file", rng("bytes=-5"), filename="{uniq}empty.txt"),
    # ---- If-Range: only a date counts; a tag is not read, so the range applies ----------------
    view("if_range_past_date", rng("bytes=0-1"), ("If-Range", PAST)),
    view("if_range_future_date", rng("bytes=0-1"), ("If-Range", FUTURE)),
    view("if_range_tag", rng("bytes=0-1"), ("If-Range", '"some-tag"')),
    view("if_range_past_date_bad_range", rng("bytes=x"), ("If-Range", PAST)),
    # ---- conditional requests -------------------------------------------------------------
    view("if_none_match_any", ("If-None-Match", "*")),
    view("if_none_match_other", ("If-None-Match", '"nope"')),
    view("if_none_match_list", ("If-None-Match", '"a", W/"b"')),
    view("if_none_match_quoted_star", ("If-None-Match", '"*"')),
    view("if_none_match_garbage", ("If-None-Match", "garbage")),
    view("if_none_match_beats_modified_since", ("If-None-Match", '"nope"'), ("If-Modified-Since", FUTURE)),
    view("if_none_match_head", ("If-None-Match", "*"), method="HEAD"),
    view("if_none_match_with_range", ("If-None-Match", "*"), rng("bytes=0-1")),
    view("if_modified_since_future", ("If-Modified-Since", FUTURE)),
    view("if_modified_since_past", ("If-Modified-Since", PAST)),
    view("if_modified_since_garbage", ("If-Modified-Since", "yesterday")),
    view("if_modified_since_two_digit_year", ("If-Modified-Since", "Friday, 01-Jan-99 00:00:00 GMT")),
    view("if_match_other", ("If-Match", '"nope"')),
    view("if_match_any", ("If-Match", "*")),
    view("if_match_weak", ("If-Match", 'W/"nope"')),
    view("if_match_garbage", ("If-Match", "garbage")),
    view("if_match_head", ("If-Match", '"nope"'), method="HEAD"),
    view("if_match_beats_range", ("If-Match", '"nope"'), rng("bytes=0-1")),
    view("if_match_beats_unmodified_since", ("If-Match", "*"), ("If-Unmodified-Since", PAST)),
    view("if_unmodified_since_past", ("If-Unmodified-Since", PAST)),
    view("if_unmodified_since_future", ("If-Unmodified-Since", FUTURE)),
    view("precondition_before_not_modified", ("If-Match", '"nope"'), ("If-None-Match", "*")),
    # ---- an encoded sibling ---------------------------------------------------------------
    view("gzip_sibling", ("Accept-Encoding", "gzip")),
    view("gzip_sibling_any_case", ("Accept-Encoding", "GZIP, deflate")),
    view("gzip_sibling_substring", ("Accept-Encoding", "x-gzip")),
    view("gzip_sibling_despite_q_zero", ("Accept-Encoding", "gzip;q=0")),
    view("gzip_not_accepted", ("Accept-Encoding", "identity")),
    view("brotli_without_sibling", ("Accept-Encoding", "br")),
    view("brotli_before_gzip", ("Accept-Encoding", "gzip, br"), filename="{uniq}both.txt"),
    view("gzip_of_both", ("Accept-Encoding", "gzip"), filename="{uniq}both.txt"),
    view("gzip_sibling_ranged", ("Accept-Encoding", "gzip"), rng("bytes=0-3")),
    view("gzip_sibling_not_modified", ("Accept-Encoding", "gzip"), ("If-None-Match", "*")),
    view("gzip_sibling_head", ("Accept-Encoding", "gzip"), method="HEAD"),
    view("gzip_sibling_without_the_file", ("Accept-Encoding", "gzip"), filename="{uniq}only.txt"),
    view("gzip_file_itself", ("Accept-Encoding", "gzip"), filename="{uniq}.txt.gz"),
    # ---- conversions are plain answers: no ranges, no validators ----------------------------
    get("preview_ignores_range", "/view?filename=example.png&type=input&preview=webp", rng("bytes=0-1")),
    get("channel_rgb_ignores_range", "/view?filename=example.png&type=input&channel=rgb", rng("bytes=0-1")),
    get("channel_a_ignores_conditionals", "/view?filename=example.png&type=input&channel=a",
        ("If-None-Match", "*")),
    get("png_range", "/view?filename=example.png&type=input", rng("bytes=0-7")),
    # ---- userdata files -------------------------------------------------------------------
    userdata_file("userdata_write", "{uniq}.json", b'{"a": 1}'),
    userdata_file("userdata_write_json_gz", "{uniq}.json.gz", GZ),
    userdata_file("userdata_write_nested", "{uniq}dir%2Fx.json", b"{}"),
    *(userdata_file(f"userdata_write_{ext}", f"{{uniq}}.{ext}", b"x")
      for ext in ("js", "mjs", "css", "html", "txt", "svg", "webp", "md", "gz", "tgz", "wasm", "bin")),
    get("userdata_whole_file", USERDATA),
    get("userdata_api_alias", "/api" + USERDATA),
    get("userdata_head", USERDATA, method="HEAD"),
    get("userdata_range", USERDATA, rng("bytes=2-4")),
    get("userdata_range_unsatisfiable", USERDATA, rng("bytes=9-")),
    get("userdata_range_unsatisfiable_head", USERDATA, rng("bytes=9-"), method="HEAD"),
    get("userdata_two_ranges", USERDATA, rng("bytes=0-0,2-2")),
    get("userdata_not_modified", USERDATA, ("If-None-Match", "*")),
    get("userdata_not_modified_head", USERDATA, ("If-Modified-Since", FUTURE), method="HEAD"),
    get("userdata_precondition_failed", USERDATA, ("If-Match", '"nope"')),
    get("userdata_unmodified_since_past", USERDATA, ("If-Unmodified-Since", PAST)),
    get("userdata_gzip_sibling", USERDATA, ("Accept-Encoding", "gzip")),
    get("userdata_directory", "/userdata/{uniq}dir"),
    get("userdata_directory_head", "/userdata/{uniq}dir", method="HEAD"),
    *(get(f"userdata_type_{ext}", f"/userdata/{{uniq}}.{ext}")
      for ext in ("js", "mjs", "css", "html", "txt", "svg", "webp", "md", "gz", "tgz", "wasm", "bin")),
]
