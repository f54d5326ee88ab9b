"""Repeated query parameters and headers: aiohttp's MultiDict reads a repeated key's first value."""
from __future__ import annotations

import gzip

from tests.differential.harness import Step

JSON = (("Content-Type", "application/json"),)
U = "/userdata/{uniq}%2F"

STEPS = [
    Step("put_a", "POST", U + "a.json", data=b"{}", setup=True),
    Step("put_b", "POST", U + "b.json", data=b"{}", setup=True),
    # /userdata listing: dir, recurse, full_info, split
    Step("dir_dotdot_first", "GET", "/userdata?dir=..&dir={uniq}"),
    Step("dir_uniq_first", "GET", "/userdata?dir={uniq}&dir=.."),
    Step("dir_missing_first", "GET", "/userdata?dir={uniq}x&dir={uniq}"),
    Step("dir_blank_key", "GET", "/userdata?dir&dir={uniq}"),
    Step("dir_empty_value_first", "GET", "/userdata?dir=&dir={uniq}"),
    Step("full_info_true_false", "GET", "/userdata?dir={uniq}&full_info=true&full_info=false",
         ignore=("*.created", "*.modified")),
    Step("full_info_false_true", "GET", "/userdata?dir={uniq}&full_info=false&full_info=true",
         ignore=("*.created", "*.modified")),
    Step("split_true_false", "GET", "/userdata?dir={uniq}&split=true&split=false"),
    Step("dir_semicolon", "GET", "/userdata?dir={uniq};x=1"),
    Step("dir_bad_percent", "GET", "/userdata?dir={uniq}%zz"),
    Step("dir_plus", "GET", "/userdata?dir={uniq}+"),
    Step("dir_encoded_amp", "GET", "/userdata?dir={uniq}%26dir%3D.."),
    # /v2/userdata
    Step("v2_path_uniq_first", "GET", "/v2/userdata?path={uniq}&path=..", ignore=("*.modified",)),
    Step("v2_path_dotdot_first", "GET", "/v2/userdata?path=..&path={uniq}", ignore=("*.modified",)),
    Step("v2_path_missing_first", "GET", "/v2/userdata?path={uniq}x&path={uniq}", ignore=("*.modified",)),
    # writes: overwrite, full_info
    Step("overwrite_true_false", "POST", U + "a.json?overwrite=true&overwrite=false", data=b"{}"),
    Step("overwrite_false_true", "POST", U + "a.json?overwrite=false&overwrite=true", data=b"{}"),
    Step("write_full_info_true_false", "POST", U + "c.json?full_info=true&full_info=false", data=b"{}",
         ignore=("created", "modified")),
    Step("write_full_info_false_true", "POST", U + "d.json?full_info=false&full_info=true", data=b"{}",
         ignore=("created", "modified")),
    Step("move_overwrite_false_true", "POST", U + "a.json/move/{uniq}%2Fb.json?overwrite=false&overwrite=true"),
    Step("move_overwrite_true_false", "POST", U + "b.json/move/{uniq}%2Fa.json?overwrite=true&overwrite=false"),
    # /view and /view_metadata
    Step("view_found_first", "GET", "/view?filename=example.png&filename={uniq}.png&type=input", body="bytes"),
    Step("view_missing_first", "GET", "/view?filename={uniq}.png&filename=example.png&type=input", body="none"),
    Step("view_type_input_first", "GET", "/view?filename=example.png&type=input&type=output", body="bytes"),
    Step("view_type_output_first", "GET", "/view?filename=example.png&type=output&type=input", body="none"),
    Step("view_type_bad_first", "GET", "/view?filename=example.png&type=nope&type=input", body="none"),
    Step("view_subfolder_first", "GET", "/view?filename=example.png&type=input&subfolder={uniq}&subfolder=",
         body="none"),
    Step("view_subfolder_empty_first", "GET", "/view?filename=example.png&type=input&subfolder=&subfolder={uniq}",
         body="bytes"),
    Step("view_channel_first", "GET", "/view?filename=example.png&type=input&channel=a&channel=rgba", body="bytes"),
    Step("view_preview_first", "GET", "/view?filename=example.png&type=input&preview=bad&preview=webp;50",
         body="none"),
    Step("view_double_amp", "GET", "/view?filename=example.png&&type=input", body="bytes"),
    Step("view_empty_key", "GET", "/view?=x&filename=example.png&type=input", body="bytes"),
    Step("metadata_found_first", "GET", "/view_metadata/checkpoints?filename=fake.safetensors&filename=nope"),
    Step("metadata_missing_first", "GET", "/view_metadata/checkpoints?filename=nope&filename=fake.safetensors",
         body="none"),
    Step("metadata_plus", "GET", "/view_metadata/checkpoints?filename=fake.safetensors+", body="none"),
    Step("jobs_offset_negative_first", "GET", "/api/jobs?offset=-1&offset=0", body="none"),
    Step("jobs_workflow_first", "GET", "/api/jobs?workflow_id={uniq}&workflow_id="),
    # repeated headers
    Step("two_content_encodings_gzip_first", "POST", "/prompt",
         headers=(*JSON, ("Content-Encoding", "gzip"), ("Content-Encoding", "identity")), data=gzip.compress(b"{}")),
    Step("two_content_encodings_identity_first", "POST", "/prompt",
         headers=(*JSON, ("Content-Encoding", "identity"), ("Content-Encoding", "gzip")), data=gzip.compress(b"{}")),
    Step("two_content_types", "POST", "/prompt",
         headers=(("Content-Type", "application/json"), ("Content-Type", "text/plain")), data=b"{}", body="text"),
    Step("two_upgrades_plain_get", "GET", "/ws", headers=(("Upgrade", "h2c"), ("Upgrade", "websocket")),
         body="text"),
]

# (group, route, key, a value the route refuses, one it takes), sent in both orders; what the
# route takes lists the reference's own history, so only status and type are compared then
REFUSED_OR_TAKEN = [
    ("history", "/history", "max_items", "abc", "1"), ("history", "/history", "offset", "x", "0"),
    ("jobs", "/api/jobs", "status", "bogus", "completed"), ("jobs", "/api/jobs", "sort_by", "x", "created_at"),
    ("jobs", "/api/jobs", "sort_order", "up", "asc"), ("jobs", "/api/jobs", "limit", "0", "1"),
    ("jobs", "/api/jobs", "offset", "x", "0"),
]
for group, route, key, bad, good in REFUSED_OR_TAKEN:
    STEPS.append(Step(f"{group}_{key}_bad_first", "GET", f"{route}?{key}={bad}&{key}={good}"))
    STEPS.append(Step(f"{group}_{key}_bad_last", "GET", f"{route}?{key}={good}&{key}={bad}", body="none"))
