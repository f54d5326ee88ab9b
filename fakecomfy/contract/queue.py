"""Queue and history writes: a delete of an unknown id and of this run's own prompt; clearing,
``/interrupt`` and ``/free`` only with ``--destructive`` (they affect other users' work)."""
from __future__ import annotations

from fakecomfy.contract.client import ContractClient


def check_queue_and_history(client: ContractClient, prompt_id: str | None) -> None:
    """``prompt_id``: the prompt this run queued, if any (its history entry is deleted)."""
    client.call("manageQueue", "POST", "/queue", label="POST /queue (delete an unknown id)",
                json={"delete": [f"{client.own_name}-unknown"]})
    if prompt_id:
        client.call("manageHistory", "POST", "/history", label="POST /history (delete this run's prompt)",
                    json={"delete": [prompt_id]})
        client.call("getHistoryEntry", "GET", f"/api/history/{prompt_id}",
                    label="GET /api/history/{prompt_id} (deleted: {})",
                    check_body=lambda r: [] if r.json() == {} else ["the deleted entry is still there"])
    if not client.destructive:
        for op in ("interrupt", "freeMemory"):
            client.skip(op, op, "affects other users' work: only with --destructive")
        client.skip("manageQueue", "POST /queue {clear}", "only with --destructive")
        client.skip("manageHistory", "POST /history {clear}", "only with --destructive")
        return
    client.call("interrupt", "POST", "/interrupt", json={})
    client.call("freeMemory", "POST", "/free", json={"unload_models": False, "free_memory": False})
    client.call("manageQueue", "POST", "/queue", label="POST /queue {clear}", json={"clear": True})
    client.call("manageHistory", "POST", "/history", label="POST /history {clear}", json={"clear": True})


__all__ = ["check_queue_and_history"]
