"""The torch executor: the shared engine over the torch family's nodes, on the device layer's
device, offering that layer's report to /system_stats and unloading its models on /free."""
from __future__ import annotations

from fakecomfy.core.execution import ExecutionEnv
from fakecomfy.executors.engine import GraphExecutor
from fakecomfy.executors.torch import IS_CHANGED, NODES, denoiser, describe, fallback
from fakecomfy.executors.torch.devices import TorchDevices


class TorchExecutor(GraphExecutor):
    def __init__(self, env: ExecutionEnv) -> None:
        super().__init__("torch", env, NODES, fallback, IS_CHANGED, describe)
        self.devices = TorchDevices(cpu=env.settings.cpu)
        env.devices = self.devices

    def free(self, unload_models: bool, free_memory: bool) -> None:
        super().free(unload_models, free_memory)  # the output cache first: it may hold model outputs
        if unload_models:
            denoiser.unload_models()
