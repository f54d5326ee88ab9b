"""JSON bodies in the charset their Content-Type names (aiohttp's ``request.json()`` decodes the
body with ``charset``, UTF-8 when none is named, before parsing).

The bodies hold no prompt and nothing that changes the reference's queue, history or settings
beyond a fresh key; ``/interrupt`` only gets bodies that fail before parsing or name a prompt
id nobody runs (an unparsable one would interrupt whatever the reference is running).
"""
from __future__ import annotations

from tests.differential.harness import Step

OBJ = '{"x": "é"}'
UTF8_BOM = b"\xef\xbb\xbf"


def _ctype(params: str) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", "application/json" + params),)


# name: (Content-Type parameters, body)
BODIES: dict[str, tuple[str, bytes]] = {
    "latin1": ("; charset=latin-1", OBJ.encode("latin-1")),
    "latin1_undeclared": ("", OBJ.encode("latin-1")),
    "iso8859_1": ("; charset=ISO-8859-1", OBJ.encode("latin-1")),
    "latin1_quoted": ('; charset="latin-1"', OBJ.encode("latin-1")),
    "latin1_upper_name": ("; CHARSET=LATIN-1", OBJ.encode("latin-1")),
    "latin1_spaces": (";  charset = latin-1 ", OBJ.encode("latin-1")),
    "latin1_second_param": ("; a=b; charset=latin-1", OBJ.encode("latin-1")),
    "charset_empty": ("; charset=", OBJ.encode("utf-8")),
    "charset_twice": ("; charset=latin-1; charset=utf-8", OBJ.encode("latin-1")),
    "utf16_bom": ("; charset=utf-16", OBJ.encode("utf-16")),
    "utf16_le_no_bom": ("; charset=utf-16", OBJ.encode("utf-16-le")),
    "utf16_be_no_bom": ("; charset=utf-16", OBJ.encode("utf-16-be")),
    "utf16le": ("; charset=utf-16le", OBJ.encode("utf-16-le")),
    "utf16be": ("; charset=UTF-16BE", OBJ.encode("utf-16-be")),
    "utf16_undeclared": ("", OBJ.encode("utf-16")),
    "utf32": ("; charset=utf-32", OBJ.encode("utf-32")),
    "utf8_bom_declared": ("; charset=utf-8", UTF8_BOM + OBJ.encode("utf-8")),
    "utf8_bom_undeclared": ("", UTF8_BOM + OBJ.encode("utf-8")),
    "utf8_sig": ("; charset=utf-8-sig", UTF8_BOM + OBJ.encode("utf-8")),
    "utf8_invalid": ("; charset=utf-8", b'{"x": "\xff"}'),
    "ascii_non_ascii": ("; charset=ascii", OBJ.encode("latin-1")),
    "unknown": ("; charset=no-such-charset", b"{}"),
    "unknown_quoted_bad": ('; charset="latin-1', OBJ.encode("latin-1")),
    "cp1252": ("; charset=cp1252", OBJ.encode("cp1252")),
    "shift_jis": ("; charset=shift_jis", '{"x": "日本"}'.encode("shift_jis")),
    "rot13_codec": ("; charset=rot13", b"{}"),
    "text_plain_utf16": ("", OBJ.encode("utf-16")),
}


def _steps() -> list[Step]:
    steps = []
    for name, (params, body) in BODIES.items():
        ctype = (("Content-Type", "text/plain; charset=utf-16"),) if name == "text_plain_utf16" else _ctype(params)
        steps.append(Step(f"prompt.{name}", "POST", "/prompt", headers=ctype, data=body))
    for route in ("/queue", "/history", "/free"):
        for name in ("latin1", "utf16_bom", "utf8_bom_declared", "unknown", "latin1_undeclared"):
            params, body = BODIES[name]
            steps.append(Step(f"{route[1:]}.{name}", "POST", route, headers=_ctype(params), data=body))
    settings = '{"{uniq}.é": 1}'
    for name, params, encoding in (("latin1", "; charset=latin-1", "latin-1"), ("utf16", "; charset=utf-16", "utf-16"),
                                   ("utf8_undeclared", "", "utf-8"), ("unknown", "; charset=bogus", "utf-8")):
        steps.append(Step(f"settings.{name}", "POST", "/settings", headers=_ctype(params),
                          data=settings.encode(encoding)))
        steps.append(Step(f"setting_id.{name}", "POST", "/settings/{uniq}.one", headers=_ctype(params),
                          data='"é"'.encode(encoding)))
    steps.append(Step("settings_read_back", "GET", "/settings/{uniq}.one"))
    interrupt = '{"prompt_id": "{uniq}-é"}'
    for name, params, body in (("latin1", "; charset=latin-1", interrupt.encode("latin-1")),
                               ("utf16", "; charset=utf-16", interrupt.encode("utf-16")),
                               ("latin1_undeclared", "", interrupt.encode("latin-1")),
                               ("unknown", "; charset=bogus", interrupt.encode("utf-8")),
                               ("ascii_non_ascii", "; charset=ascii", interrupt.encode("latin-1"))):
        steps.append(Step(f"interrupt.{name}", "POST", "/interrupt", headers=_ctype(params), data=body, body="text"))
    return steps


STEPS = _steps()
