"""Multipart uploads at the edges: how real ComfyUI's form reader (aiohttp's multipart reader
behind ``request.post()``) reads odd Content-Disposition parameters, broken framing and odd
fields on ``/upload/image`` and ``/upload/mask``, and where the file lands (read back by
``/view``)."""
from __future__ import annotations

import base64

from tests.differential.harness import Step

B = "XBOUNDX"
CRLF = b"\r\n"
# a 1x1 PNG: the uploaded file of every case
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63e01291"
    "6b0000012500bdee46391e0000000049454e44ae426082"
)


def part(disposition: bytes, body: bytes = PNG, *headers: bytes) -> bytes:
    """One part: its Content-Disposition as written, more header lines, then the body."""
    lines = [b"--" + B.encode(), b"Content-Disposition: " + disposition, *headers]
    return CRLF.join(lines) + CRLF + CRLF + body + CRLF


def form(*parts: bytes, end: bytes = b"--" + B.encode() + b"--\r\n") -> bytes:
    return b"".join(parts) + end


def image(filename: bytes, *headers: bytes) -> bytes:
    return part(b'form-data; name="image"; filename=' + filename, PNG, *(headers or (b"Content-Type: image/png",)))


def field(name: str, value: str) -> bytes:
    return part(f'form-data; name="{name}"'.encode(), value.encode())


def upload(name: str, body: bytes, path: str = "/upload/image",
           ctype: str = f"multipart/form-data; boundary={B}", **kw: object) -> Step:
    return Step(name, "POST", path, headers=(("Content-Type", ctype),), data=body, **kw)  # type: ignore[arg-type]


def view(name: str, filename: str, **params: str) -> Step:
    query = "&".join(f"{k}={v}" for k, v in {"filename": filename, "type": "input", **params}.items())
    return Step(name, "GET", f"/view?{query}", body="bytes")


LONG = "L" * 300
MASK_REF = '{"filename": "{uniq}orig.png", "type": "input"}'

STEPS = [
    # ---- filename parameter forms ---------------------------------------------------------
    upload("plain", form(image(b'"{uniq}plain.png"'))),
    upload("api_prefix", form(image(b'"{uniq}api.png"')), path="/api/upload/image"),
    upload("leading_slash", form(image(b'"/{uniq}slash.png"'))),
    view("leading_slash_lands_in_input", "{uniq}slash.png"),
    upload("leading_slashes_and_backslashes", form(image(b'"\\\\/\\\\/{uniq}mixed.png"'))),
    upload("leading_backslash", form(image(b'"\\\\{uniq}bs.png"'))),
    upload("inner_backslash_escape", form(image(b'"a\\b{uniq}.png"'))),
    upload("inner_escaped_backslash", form(image(b'"a\\\\b{uniq}.png"'))),
    upload("escaped_quote", form(image(b'"q\\"{uniq}.png"'))),
    upload("unquoted_token", form(image(b"{uniq}tok.png"))),
    upload("unquoted_with_slash", form(image(b"/{uniq}tok.png"))),
    upload("unquoted_with_space", form(image(b"a {uniq}.png"))),
    upload("semicolon_in_quoted", form(image(b'"a;{uniq}.png"'))),
    upload("space_before_value", form(part(b'form-data; name="image"; filename=  "{uniq}sp.png"  '))),
    upload("empty_filename", form(image(b'""'))),
    upload("empty_filename_empty_body", form(part(b'form-data; name="image"; filename=""', b""))),
    upload("rfc5987", form(part(b"form-data; name=\"image\"; filename*=UTF-8''%E2%9C%93{uniq}.png"))),
    view("rfc5987_view", "%E2%9C%93{uniq}.png"),
    upload("rfc5987_wins_over_plain", form(part(
        b"form-data; name=\"image\"; filename=\"{uniq}plain2.png\"; filename*=UTF-8''{uniq}star.png"))),
    upload("rfc5987_latin1", form(part(b"form-data; name=\"image\"; filename*=iso-8859-1''%E9{uniq}.png"))),
    upload("rfc5987_no_charset", form(part(b"form-data; name=\"image\"; filename*=''{uniq}nocs.png"))),
    upload("rfc5987_bad_charset", form(part(b"form-data; name=\"image\"; filename*=nope''{uniq}x.png"))),
    upload("rfc5987_not_encoded", form(part(b"form-data; name=\"image\"; filename*=\"{uniq}q.png\""))),
    upload("rfc2231_continuation", form(part(
        b'form-data; name="image"; filename*0="{uniq}"; filename*1="cont.png"'))),
    upload("duplicate_filename", form(part(b'form-data; name="image"; filename="{uniq}d1.png"; filename="d2.png"'))),
    upload("duplicate_name", form(part(b'form-data; name="image"; name="x"; filename="{uniq}dn.png"'))),
    upload("upper_case_param_keys", form(part(b'form-data; NAME="image"; FILENAME="{uniq}up.png"'))),
    upload("trailing_semicolon", form(part(b'form-data; name="image"; filename="{uniq}ts.png";'))),
    upload("bad_disposition_type", form(part(b'form data; name="image"; filename="{uniq}bt.png"'))),
    upload("param_without_equals", form(part(b'form-data; name="image"; filename'))),
    upload("unicode_raw_utf8", form(image('"ü{uniq}.png"'.encode()))),
    view("unicode_raw_utf8_view", "%C3%BC{uniq}.png"),
    upload("dotdot_escapes", form(image(b'"../{uniq}dd.png"'))),
    upload("dotdot_inside", form(image(b'"x/../{uniq}in.png"'))),
    upload("into_missing_folder", form(image(b'"{uniq}dir/x.png"'))),
    upload("long_name", form(image(f'"{LONG}{{uniq}}.png"'.encode()))),
    upload("crlf_in_filename", form(image(b'"a\r\nb{uniq}.png"'))),
    upload("lf_in_filename", form(image(b'"a\nb{uniq}.png"'))),
    upload("nul_in_filename", form(image(b'"a\x00b{uniq}.png"'))),
    # ---- names and part headers -------------------------------------------------------------
    upload("part_without_name", form(part(b'form-data; filename="{uniq}nn.png"'))),
    upload("part_without_disposition", form(CRLF.join([b"--" + B.encode(), b"Content-Type: image/png"])
                                            + CRLF + CRLF + PNG + CRLF)),
    upload("unquoted_name", form(part(b'form-data; name=image; filename="{uniq}un.png"'))),
    upload("no_part_content_type", form(part(b'form-data; name="image"; filename="{uniq}nct.png"'))),
    upload("part_base64", form(part(b'form-data; name="image"; filename="{uniq}b64.png"',
                                    base64.b64encode(PNG), b"Content-Transfer-Encoding: base64"))),
    view("part_base64_view", "{uniq}b64.png"),
    upload("part_quoted_printable", form(part(b'form-data; name="image"; filename="{uniq}qp.png"', b"abc=3D",
                                              b"Content-Transfer-Encoding: quoted-printable"))),
    view("part_quoted_printable_view", "{uniq}qp.png"),
    upload("part_unknown_transfer_encoding", form(part(b'form-data; name="image"; filename="{uniq}cte.png"', PNG,
                                                       b"Content-Transfer-Encoding: x-nope"))),
    upload("part_gzip_content_encoding", form(part(b'form-data; name="image"; filename="{uniq}gz.png"', PNG,
                                                   b"Content-Encoding: gzip"))),
    upload("part_content_length_ignored", form(part(b'form-data; name="image"; filename="{uniq}cl.png"', PNG,
                                                    b"Content-Length: 3"))),
    upload("nested_multipart_part", form(part(b'form-data; name="image"; filename="{uniq}nest.png"', PNG,
                                              b"Content-Type: multipart/mixed; boundary=inner"))),
    upload("text_part_as_image", form(part(b'form-data; name="image"', b"hello"))),
    upload("empty_text_part_as_image", form(part(b'form-data; name="image"', b""))),
    upload("binary_part_as_image", form(part(b'form-data; name="image"', b"hello",
                                             b"Content-Type: application/octet-stream"))),
    upload("text_part_bad_utf8", form(image(b'"{uniq}t.png"'), part(b'form-data; name="subfolder"', b"\xff"))),
    upload("text_part_latin1", form(image(b'"{uniq}l1.png"'), part(b'form-data; name="subfolder"', b"\xe9{uniq}",
                                                                    b"Content-Type: text/plain; charset=latin-1"))),
    upload("charset_part_first", form(part(b'form-data; name="_charset_"', b"latin-1"),
                                      image(b'"{uniq}cs.png"'), part(b'form-data; name="subfolder"', b"\xe9{uniq}"))),
    upload("image_twice_first_wins", form(image(b'"{uniq}first.png"'), image(b'"{uniq}second.png"'))),
    upload("fields_before_image", form(field("type", "temp"), field("subfolder", "{uniq}s"),
                                       image(b'"{uniq}order.png"'))),
    # ---- subfolder, type, overwrite -----------------------------------------------------------
    upload("subfolder_new", form(image(b'"{uniq}sf.png"'), field("subfolder", "{uniq}sub/deeper"))),
    upload("subfolder_traversal", form(image(b'"{uniq}t.png"'), field("subfolder", "../{uniq}up"))),
    upload("subfolder_inner_dotdot", form(image(b'"{uniq}t2.png"'), field("subfolder", "a/../{uniq}b"))),
    upload("subfolder_absolute", form(image(b'"{uniq}t3.png"'), field("subfolder", "/tmp/{uniq}"))),
    upload("subfolder_dot", form(image(b'"{uniq}t4.png"'), field("subfolder", "."))),
    upload("subfolder_backslash", form(image(b'"{uniq}t5.png"'), field("subfolder", "..\\{uniq}"))),
    upload("type_output", form(image(b'"{uniq}o.png"'), field("type", "output"))),
    upload("type_temp", form(image(b'"{uniq}tt.png"'), field("type", "temp"))),
    upload("type_unknown", form(image(b'"{uniq}tu.png"'), field("type", "models"))),
    upload("type_empty", form(image(b'"{uniq}te.png"'), field("type", ""))),
    upload("type_upper", form(image(b'"{uniq}tU.png"'), field("type", "INPUT"))),
    upload("overwrite_seed", form(image(b'"{uniq}ow.png"'))),
    upload("overwrite_new_bytes_true", form(part(b'form-data; name="image"; filename="{uniq}ow.png"', b"new"),
                                            field("overwrite", "true"))),
    upload("overwrite_new_bytes_True", form(part(b'form-data; name="image"; filename="{uniq}ow.png"', b"new2"),
                                            field("overwrite", "True"))),
    upload("overwrite_new_bytes_1", form(part(b'form-data; name="image"; filename="{uniq}ow.png"', b"new3"),
                                         field("overwrite", "1"))),
    upload("overwrite_new_bytes_empty", form(part(b'form-data; name="image"; filename="{uniq}ow.png"', b"new4"),
                                             field("overwrite", ""))),
    # ---- framing ------------------------------------------------------------------------------
    upload("upper_case_content_type", form(image(b'"{uniq}uc.png"')), ctype=f"MULTIPART/FORM-DATA; BOUNDARY={B}"),
    upload("quoted_boundary", form(image(b'"{uniq}qb.png"')), ctype=f'multipart/form-data; boundary="{B}"'),
    upload("missing_boundary", form(image(b'"{uniq}mb.png"')), ctype="multipart/form-data"),
    upload("wrong_boundary", form(image(b'"{uniq}wb.png"')), ctype="multipart/form-data; boundary=OTHER"),
    upload("boundary_too_long", form(image(b'"{uniq}bl.png"')), ctype="multipart/form-data; boundary=" + "b" * 71),
    upload("empty_body", b""),
    upload("unterminated", image(b'"{uniq}ut.png"')),
    upload("unterminated_mid_part", image(b'"{uniq}ut2.png"')[:-20]),
    upload("only_closing_boundary", f"--{B}--\r\n".encode()),
    upload("preamble_and_epilogue", b"preamble\r\n" + form(image(b'"{uniq}pe.png"')) + b"epilogue\r\n"),
    upload("closing_boundary_without_crlf", form(image(b'"{uniq}nc.png"'), end=f"--{B}--".encode())),
    upload("lf_line_endings", form(image(b'"{uniq}lf.png"')).replace(b"\r\n", b"\n")),
    upload("multipart_mixed", form(image(b'"{uniq}mx.png"')), ctype=f"multipart/mixed; boundary={B}"),
    upload("no_content_type", form(image(b'"{uniq}noct.png"')), ctype=""),
    upload("urlencoded", b"image=abc&type=input", ctype="application/x-www-form-urlencoded"),
    upload("headers_without_blank_line", f"--{B}\r\nContent-Disposition: form-data; name=\"image\"; "
                                         f"filename=\"{{uniq}}h.png\"\r\n--{B}--\r\n".encode()),
    # ---- the mask upload ------------------------------------------------------------------------
    upload("mask_original", form(image(b'"{uniq}orig.png"')), setup=True),
    upload("mask_leading_slash", form(image(b'"/{uniq}m.png"'), field("original_ref", MASK_REF)), path="/upload/mask"),
    upload("mask_rfc5987", form(part(b"form-data; name=\"image\"; filename*=UTF-8''{uniq}m2.png"),
                                field("original_ref", MASK_REF)), path="/upload/mask"),
    upload("mask_duplicate_filename", form(part(b'form-data; name="image"; filename="{uniq}m3.png"; filename="b"'),
                                           field("original_ref", MASK_REF)), path="/upload/mask"),
    upload("mask_upper_case", form(image(b'"{uniq}m4.png"'), field("original_ref", MASK_REF)), path="/upload/mask",
           ctype=f"Multipart/Form-Data; boundary={B}"),
    upload("mask_wrong_boundary", form(image(b'"{uniq}m5.png"')), path="/api/upload/mask",
           ctype="multipart/form-data; boundary=nope"),
]
