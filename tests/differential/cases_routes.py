"""Routes real has beyond the common ones and requests at their edges: the subgraph and internal
routes, request targets aiohttp refuses or routes nowhere (``*``, ``CONNECT``), ``POST /history``
with an unhashable id, and the model folder lists of a fresh install."""
from __future__ import annotations

import json

from tests.differential.harness import Step

_JSON = (("Content-Type", "application/json"),)
PROMPT = json.dumps({"prompt": {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
    "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
}, "client_id": "{uniq}"}).encode()

STEPS = [
    Step("global_subgraphs", path="/global_subgraphs"),
    Step("global_subgraph_unknown", path="/global_subgraphs/nope-{uniq}"),
    Step("api_global_subgraph_unknown", path="/api/global_subgraphs/nope-{uniq}"),
    # real's input and temp hold what other clients sent: their lists are unit-tested instead
    Step("internal_files_input", path="/internal/files/input", body="none"),
    Step("internal_files_temp", path="/internal/files/temp", body="none"),
    Step("internal_files_bad_type", path="/internal/files/models"),
    Step("internal_files_no_type", path="/internal/files/"),
    Step("api_internal_files_is_not_routed", path="/api/internal/files/input", body="text"),
    Step("internal_folder_paths", path="/internal/folder_paths", ignore=("*.*",)),
    Step("internal_logs", path="/internal/logs", body="none"),
    Step("internal_logs_raw", path="/internal/logs/raw", ignore=("entries",)),
    Step("internal_logs_subscribe", method="PATCH", path="/internal/logs/subscribe", headers=_JSON,
         data=b'{"clientId": "{uniq}", "enabled": true}', body="text"),
    Step("internal_logs_unsubscribe", method="PATCH", path="/internal/logs/subscribe", headers=_JSON,
         data=b'{"clientId": "{uniq}", "enabled": false}', body="text"),
    Step("internal_logs_subscribe_missing_key", method="PATCH", path="/internal/logs/subscribe",
         headers=_JSON, data=b'{"clientId": "{uniq}"}', body="text"),
    Step("internal_logs_subscribe_not_json", method="PATCH", path="/internal/logs/subscribe",
         headers=_JSON, data=b"nope", body="text"),
    Step("internal_logs_subscribe_get", path="/internal/logs/subscribe", body="text",
         compare_headers=("allow",)),
    Step("internal_unknown", path="/internal/nope", body="text"),
    Step("connect", method="CONNECT", path="127.0.0.1:8190", body="text",
         raw=b"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    Step("asterisk", raw=b"GET * HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", body="text"),
    Step("options_asterisk", raw=b"OPTIONS * HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
         body="text"),
    Step("view_missing_png", path="/view?filename=missing-{uniq}.png", body="text",
         compare_headers=("cache-control",)),
    Step("run_a_prompt", method="POST", path="/prompt", headers=_JSON, data=PROMPT, setup=True),
    Step("history_delete_unhashable_with_entries", method="POST", path="/history", headers=_JSON,
         data=b'{"delete": [[]]}', body="text", wait=3.0),
    Step("history_delete_object_id_with_entries", method="POST", path="/history", headers=_JSON,
         data=b'{"delete": [{}]}', body="text"),
    Step("models_configs", path="/models/configs"),
    # fakecomfy writes its own node descriptions (real's is empty here)
    Step("object_info_checkpoint_loader", path="/object_info/CheckpointLoader",
         ignore=("CheckpointLoader.description",)),
    Step("experiment_models", path="/experiment/models", ignore=("*.folders.*",)),
    Step("models_list", path="/models"),
]
