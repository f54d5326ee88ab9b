"""Userdata writes real cannot carry out (its ``open`` or ``write`` raises an OSError): a 400 whose
reason phrase names the cause, with an empty body."""
from __future__ import annotations

from tests.differential.harness import Step

STEPS = [
    Step("name_too_long", "POST", "/userdata/" + "a" * 300 + "{uniq}", data=b"{}", body="text", reason=True,
         compare_headers=("content-length",)),
    Step("name_too_long_api", "POST", "/api/userdata/" + "b" * 300 + "{uniq}", data=b"{}", body="text", reason=True,
         compare_headers=("content-length",)),
    Step("setup_file", "POST", "/userdata/d{uniq}%2Fx.json", data=b"{}", setup=True),
    Step("directory_in_the_way", "POST", "/userdata/d{uniq}", data=b"{}", body="text", reason=True,
         compare_headers=("content-length",)),
    Step("file_in_the_way", "POST", "/userdata/d{uniq}%2Fx.json%2Fy", data=b"{}", body="text", reason=True,
         compare_headers=("content-length",)),
    Step("written", "POST", "/userdata/e{uniq}.json", data=b"{}", reason=True),
    Step("http_1_0", raw=b"POST /userdata/" + b"c" * 300 + b"{uniq} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 2\r\n"
         b"\r\n{}", body="text", reason=True),
]
