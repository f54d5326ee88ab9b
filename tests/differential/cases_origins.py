"""The Origin check on odd Host and Origin headers: a GET, a POST and a WebSocket handshake each.

The Host header is written out (the server never checks it against its own address), so a
shape's Host and Origin agree or not by what the step says, whatever port the target has.
"""
from __future__ import annotations

from tests.differential.harness import Step

HANDSHAKE = (("Upgrade", "websocket"), ("Connection", "Upgrade"),
             ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"))

# name: the Host and Origin headers as sent (in order; a name may repeat)
SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "same": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:8188")),
    "other_port": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:1234")),
    "other_host": (("Host", "127.0.0.1:8188"), ("Origin", "http://evil.example:8188")),
    "port_99999": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:99999")),
    "port_65536": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:65536")),
    "port_65535": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:65535")),
    "port_0": (("Host", "127.0.0.1:0"), ("Origin", "http://127.0.0.1:0")),
    "port_abc": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:abc")),
    "port_negative": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:-1")),
    "port_plus": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:+8188")),
    "port_leading_zero": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:08188")),
    "port_empty": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:")),
    "port_none_origin": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1")),
    "port_none_host": (("Host", "127.0.0.1"), ("Origin", "http://127.0.0.1:8188")),
    "port_none_both_other": (("Host", "127.0.0.1"), ("Origin", "http://localhost")),
    "host_port_abc": (("Host", "127.0.0.1:abc"), ("Origin", "http://127.0.0.1:8188")),
    "host_port_abc_origin_none": (("Host", "127.0.0.1:abc"), ("Origin", "http://127.0.0.1")),
    "host_port_99999": (("Host", "127.0.0.1:99999"), ("Origin", "http://127.0.0.1:99999")),
    "ipv6_unclosed": (("Host", "127.0.0.1:8188"), ("Origin", "http://[::1")),
    "ipv6_unclosed_port": (("Host", "127.0.0.1:8188"), ("Origin", "http://[::1:8188")),
    "ipv6_same": (("Host", "[::1]:8188"), ("Origin", "http://[::1]:8188")),
    "ipv6_other_port": (("Host", "[::1]:8188"), ("Origin", "http://[::1]:9")),
    "ipv6_vs_v4": (("Host", "127.0.0.1:8188"), ("Origin", "http://[::1]:8188")),
    "ipv6_host_no_port": (("Host", "[::1]"), ("Origin", "http://[::1]:8188")),
    "ipv6_origin_no_port": (("Host", "[::1]:8188"), ("Origin", "http://[::1]")),
    "ipv6_both_no_port": (("Host", "[::1]"), ("Origin", "http://[::1]")),
    "ipv6_bare_host": (("Host", "::1"), ("Origin", "http://[::1]")),
    "ipv6_bare_origin": (("Host", "[::1]:8188"), ("Origin", "http://::1")),
    "ipv6_host_unclosed": (("Host", "[::1"), ("Origin", "http://[::1]:8188")),
    "ipv6_bad_literal": (("Host", "[::1]:8188"), ("Origin", "http://[zz]:8188")),
    "no_scheme": (("Host", "127.0.0.1:8188"), ("Origin", "127.0.0.1:1234")),
    "no_scheme_slashes": (("Host", "127.0.0.1:8188"), ("Origin", "//127.0.0.1:1234")),
    "null": (("Host", "127.0.0.1:8188"), ("Origin", "null")),
    "empty": (("Host", "127.0.0.1:8188"), ("Origin", "")),
    "file_scheme": (("Host", "127.0.0.1:8188"), ("Origin", "file://")),
    "uppercase_origin": (("Host", "127.0.0.1:8188"), ("Origin", "HTTP://LOCALHOST:8188")),
    "uppercase_same": (("Host", "127.0.0.1:8188"), ("Origin", "HTTP://127.0.0.1:8188")),
    "uppercase_host_name": (("Host", "LocalHost:8188"), ("Origin", "http://LOCALHOST:8188")),
    "uppercase_localhost": (("Host", "LOCALHOST:8188"), ("Origin", "http://localhost:8188")),
    "localhost_vs_ip": (("Host", "localhost:8188"), ("Origin", "http://127.0.0.1:8188")),
    "trailing_dot_origin": (("Host", "localhost:8188"), ("Origin", "http://localhost.:8188")),
    "trailing_dot_both": (("Host", "localhost.:8188"), ("Origin", "http://localhost.:8188")),
    "trailing_dot_host": (("Host", "localhost.:8188"), ("Origin", "http://localhost:8188")),
    "origin_path": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:8188/x?y#z")),
    "origin_userinfo": (("Host", "127.0.0.1:8188"), ("Origin", "http://u@127.0.0.1:8188")),
    "origin_https": (("Host", "127.0.0.1:8188"), ("Origin", "https://127.0.0.1:8188")),
    "loopback_other_ip": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.2:8188")),
    "host_127_2": (("Host", "127.0.0.2:8188"), ("Origin", "http://127.0.0.1:8188")),
    "host_not_loopback": (("Host", "10.1.2.3:8188"), ("Origin", "http://127.0.0.1:1")),
    "host_not_loopback_bad_port": (("Host", "10.1.2.3:8188"), ("Origin", "http://127.0.0.1:99999")),
    "host_unspecified": (("Host", "0.0.0.0:8188"), ("Origin", "http://127.0.0.1:1")),
    "host_empty": (("Host", ""), ("Origin", "http://127.0.0.1:1")),
    "host_empty_label": (("Host", "a..b:8188"), ("Origin", "http://127.0.0.1:1")),
    "host_long_label": (("Host", "a" * 70 + ".b:8188"), ("Origin", "http://127.0.0.1:1")),
    "host_port_only": (("Host", ":8188"), ("Origin", "http://127.0.0.1:8188")),
    "origin_port_only": (("Host", "127.0.0.1:8188"), ("Origin", "http://:8188")),
    "two_origins_other_first": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:1"),
                                ("Origin", "http://127.0.0.1:8188")),
    "two_origins_same_first": (("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:8188"),
                               ("Origin", "http://127.0.0.1:1")),
    "two_hosts_same_first": (("Host", "127.0.0.1:8188"), ("Host", "127.0.0.1:1"),
                             ("Origin", "http://127.0.0.1:8188")),
    "two_hosts_other_first": (("Host", "127.0.0.1:1"), ("Host", "127.0.0.1:8188"),
                              ("Origin", "http://127.0.0.1:8188")),
    "no_host": (("Origin", "http://127.0.0.1:1"),),
}


def _steps() -> list[Step]:
    steps = []
    for shape, headers in SHAPES.items():
        steps.append(Step(f"{shape}.get", "GET", "/embeddings", headers=headers, host_header=False, body="text"))
        steps.append(Step(f"{shape}.post", "POST", "/prompt", headers=(*headers, ("Content-Type", "application/json")),
                          data=b"{}", host_header=False, body="text"))
        steps.append(Step(f"{shape}.ws", "GET", "/ws?clientId={uniq}", headers=(*headers, *HANDSHAKE),
                          host_header=False, body="text"))
    steps.append(Step("options_other_port", "OPTIONS", "/prompt",
                      headers=(("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:1")), host_header=False,
                      body="text"))
    steps.append(Step("options_port_abc", "OPTIONS", "/prompt",
                      headers=(("Host", "127.0.0.1:8188"), ("Origin", "http://127.0.0.1:abc")), host_header=False,
                      body="text"))
    return steps


STEPS = _steps()
