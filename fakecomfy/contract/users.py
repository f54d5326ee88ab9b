"""Userdata, settings and users: files under this run's own folder (written, read, moved and
deleted again), settings read (and written back unchanged only with ``--destructive``)."""
from __future__ import annotations

from urllib.parse import quote

from fakecomfy.contract.client import ContractClient, answered

_USERDATA_BODY = b'{"fakecomfy": "contract"}'


def _segment(value: str) -> str:
    """A value as one URL path segment: a userdata path goes as ``dir%2Fa.json``, as ComfyUI requires."""
    return quote(value, safe="")


def check_userdata(client: ContractClient) -> None:
    folder = client.own_name
    first, second = f"{folder}/a.json", f"{folder}/b.json"
    written = client.call("writeUserdataFile", "POST", f"/userdata/{_segment(first)}", label="POST /userdata/{file}",
                          content=_USERDATA_BODY)
    if written is None or written.status_code != 200:
        for op in ("listUserdata", "getUserdataFile", "moveUserdataFile", "deleteUserdataFile", "listUserdataV2"):
            client.skip(op, op, "writing the userdata file failed")
        return
    try:
        client.call("writeUserdataFile", "POST", f"/api/userdata/{_segment(first)}",
                    label="POST /api/userdata/{file}?overwrite=false (exists: 409)",
                    params={"overwrite": "false"}, content=b"{}", expect=(409,))
        client.both("listUserdata", "GET", "/userdata", params={"dir": folder, "full_info": "true"})
        client.call("listUserdataV2", "GET", "/v2/userdata", params={"path": folder})
        client.call("getUserdataFile", "GET", f"/userdata/{_segment(first)}", label="GET /userdata/{file}",
                    check_body=lambda r: [] if r.content == _USERDATA_BODY else ["not the bytes written"])
        client.call("moveUserdataFile", "POST", f"/userdata/{_segment(first)}/move/{_segment(second)}",
                    label="POST /userdata/{file}/move/{dest}")
    finally:
        for path in (first, second):
            client.call("deleteUserdataFile", "DELETE", f"/userdata/{_segment(path)}",
                        label=f"DELETE /userdata/{{file}} ({path.rsplit('/', 1)[1]})", expect=(204, 404))
    client.call("getUserdataFile", "GET", f"/api/userdata/{_segment(second)}",
                label="GET /api/userdata/{file} (deleted: 404)", expect=(404,))


def check_settings_and_users(client: ContractClient) -> None:
    settings = client.both("getSettings", "GET", "/settings")
    client.both("getSetting", "GET", "/settings/Comfy.Locale")
    if not client.destructive:
        for op in ("updateSettings", "setSetting", "createUser"):
            client.skip(op, op, "writes server state: only with --destructive")
        return
    current = answered(settings[0])
    if isinstance(current, dict):
        client.call("updateSettings", "POST", "/settings", label="POST /settings (its own values)", json=current)
        if current:
            key = sorted(current)[0]
            client.call("setSetting", "POST", f"/settings/{_segment(key)}",
                        label="POST /settings/{id} (its own value)", json=current[key])
        else:
            client.skip("setSetting", "POST /settings/{id}", "the user has no setting to write back unchanged")
    client.call("createUser", "POST", "/users", label="POST /users", json={"username": client.own_name},
                expect=(200, 400))


__all__ = ["check_settings_and_users", "check_userdata"]
