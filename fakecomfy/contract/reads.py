"""The read-only operations of the spec, called under both servers with valid parameters."""
from __future__ import annotations

from urllib.parse import quote

from fakecomfy.contract.client import ContractClient, answered

# (operationId, path) of the GETs that take no parameters.
_PLAIN_GETS = (
    ("getSystemStats", "/system_stats"), ("getFeatures", "/features"), ("listExtensions", "/extensions"),
    ("getWorkflowTemplates", "/workflow_templates"), ("getTranslations", "/i18n"),
    ("getGlobalSubgraphs", "/global_subgraphs"), ("listEmbeddings", "/embeddings"),
    ("getObjectInfo", "/object_info"), ("getUsers", "/users"), ("getQueueStatus", "/prompt"),
    ("getQueue", "/queue"),
)


def check_read_only(client: ContractClient) -> None:
    client.call("getIndex", "GET", "/", label="GET /")
    for op, path in _PLAIN_GETS:
        client.both(op, "GET", path)
    client.both("getHistory", "GET", "/history", params={"max_items": 5})
    client.both("getNodeInfo", "GET", "/object_info/EmptyImage",
                check_body=lambda r: [] if "EmptyImage" in r.json() else ["EmptyImage is not in the answer"])
    client.call("listJobs", "GET", "/api/jobs", params={"limit": 5})
    client.call("listJobs", "GET", "/api/api/jobs", params={"limit": 5, "status": "completed,failed"})
    check_models(client)


def check_models(client: ContractClient) -> None:
    """The model folders, one folder's files, and the metadata of one of its safetensors."""
    names = answered(client.both("listModelFolders", "GET", "/models")[0], [])
    folder = "checkpoints" if "checkpoints" in names else (names[0] if names else "checkpoints")
    client.both("listExperimentModelFolders", "GET", "/experiment/models")
    quoted = quote(folder, safe="")
    models = client.both("listModels", "GET", f"/models/{quoted}", expect=(200, 404))
    client.both("listExperimentModels", "GET", f"/experiment/models/{quoted}", expect=(200, 404))
    files = answered(models[0], [])
    safetensors = next((f for f in files if isinstance(f, str) and f.endswith(".safetensors")),
                       f"{client.own_name}-missing.safetensors")
    client.both("getModelMetadata", "GET", f"/view_metadata/{quoted}",
                params={"filename": safetensors}, expect=(200, 404))


__all__ = ["check_models", "check_read_only"]
