"""``FakeComfyContainer``: the fakecomfy Docker image, started from a test with testcontainers.

Needs the optional extra (``pip install 'fakecomfy[testcontainers]'``) and a Docker engine; the
rest of fakecomfy never imports this module, so ``pip install fakecomfy`` does not need either.

    with FakeComfyContainer("fakecomfy:local", node_times={"KSampler": 0.05}) as comfy:
        requests.get(f"{comfy.url}/system_stats")
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("FakeComfyContainer needs testcontainers: pip install 'fakecomfy[testcontainers]'") from exc

PORT = 8188  # the port the image exposes and listens on


class FakeComfyContainer(DockerContainer):
    """A fakecomfy container, started once ``/system_stats`` answers 200.

    ``image`` is the tag you built the repository's Dockerfile as (``docker build -t
    fakecomfy:local .``); there is no default because no image is published, and a default name
    could be pulled from a public registry instead. ``node_times`` sets ``FAKECOMFY_NODE_TIME``;
    any other setting is a ``FAKECOMFY_*`` variable: ``.with_env("FAKECOMFY_MULTI_USER", "1")``.
    """

    def __init__(self, image: str, *, node_times: Mapping[str, float] | None = None,
                 startup_timeout: int = 60, **kwargs: Any) -> None:
        super().__init__(image, **kwargs)
        self.with_exposed_ports(PORT)
        if node_times:
            self.with_env("FAKECOMFY_NODE_TIME", ",".join(f"{name}={seconds}" for name, seconds in node_times.items()))
        self.waiting_for(HttpWaitStrategy(PORT, "/system_stats").for_status_code(200)
                         .with_startup_timeout(startup_timeout))

    @property
    def url(self) -> str:
        """The server's base URL from the test's side, e.g. ``http://localhost:32768``."""
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(PORT)}"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint; a client adds ``?clientId=...``."""
        return "ws" + self.url.removeprefix("http") + "/ws"
