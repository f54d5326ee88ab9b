"""WebSocket handshakes as aiohttp's ``WebSocketResponse`` takes or refuses them: the
``Sec-WebSocket-Version`` values it accepts (13, 8 and 7, written exactly), the key it decodes
leniently, the first of repeated headers, and the Origin check before either."""
from __future__ import annotations

from tests.differential.harness import Step

KEY = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
UPGRADE = (("Upgrade", "websocket"), ("Connection", "Upgrade"))
# Connection is left out: uvicorn closes a connection whose upgrade it refused (and says so),
# where aiohttp keeps it open
COMPARED = ("upgrade", "sec-websocket-accept", "sec-websocket-extensions", "sec-websocket-protocol", "content-length")


def version(value: str) -> tuple[str, str]:
    return ("Sec-WebSocket-Version", value)


# name: the handshake headers after Upgrade and Connection
HANDSHAKES: dict[str, tuple[tuple[str, str], ...]] = {
    "version_13": (KEY, version("13")),
    "version_8": (KEY, version("8")),
    "version_7": (KEY, version("7")),
    "version_12": (KEY, version("12")),
    "version_14": (KEY, version("14")),
    "version_missing": (KEY,),
    "version_empty": (KEY, version("")),
    "version_text": (KEY, version("abc")),
    "version_list": (KEY, version("13, 8")),
    "version_padded": (KEY, version(" 8 ")),
    "version_leading_zero": (KEY, version("08")),
    "version_repeated_8_12": (KEY, version("8"), version("12")),
    "version_repeated_12_13": (KEY, version("12"), version("13")),
    "key_missing": (version("13"),),
    "key_missing_bad_version": (version("12"),),
    "key_too_short": (("Sec-WebSocket-Key", "YWJj"), version("13")),
    "key_not_base64": (("Sec-WebSocket-Key", "abc"), version("13")),
    "key_unpadded": (("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"), version("13")),
    "key_urlsafe": (("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ-_"), version("13")),
    "key_stray_characters": (("Sec-WebSocket-Key", "dGhlIHNhbXBs!ZSBub25jZQ=="), version("13")),
    "key_repeated": (KEY, KEY, version("13")),
    "key_repeated_bad_first": (("Sec-WebSocket-Key", "abc"), KEY, version("13")),
    "version_8_deflate": (KEY, version("8"), ("Sec-WebSocket-Extensions", "permessage-deflate")),
    "version_8_subprotocols": (KEY, version("8"), ("Sec-WebSocket-Protocol", "a, b")),
    "version_12_other_origin": (KEY, version("12"), ("Origin", "http://evil.example")),
    "key_missing_other_origin": (version("13"), ("Origin", "http://evil.example")),
}

STEPS = [
    Step(f"ws_{name}", path="/ws", headers=(*UPGRADE, *headers), body="text", compare_headers=COMPARED)
    for name, headers in HANDSHAKES.items()
]
