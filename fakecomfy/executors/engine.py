"""GraphExecutor: runs a prompt with ComfyUI's order, cache and exact event sequence.

Node implementations come from a family (numpy, torch, ...): a mapping of class_type to
function plus a fallback for any other catalog node. Everything a client observes about a run
(which messages, in which order, with which data) is decided here, once for every family.
"""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from fakecomfy import protocol
from fakecomfy.core.execution import Completion, ExecutionEnv, Preview, QueueItem, Reporter, WorkerDied
from fakecomfy.core.faults import OOM_TIPS, OOM_TYPES, FaultKind, fault_exception
from fakecomfy.core.gate import Unit
from fakecomfy.core.gpu import OutOfMemory, SimulatedDevice
from fakecomfy.core.validation.definitions import finalize_inputs, input_info, is_v3
from fakecomfy.core.validation.link_types import is_link
from fakecomfy.exception_names import exception_type_name
from fakecomfy.executors import device_work
from fakecomfy.executors.base import Interrupted, NodeContext, NodeFunction, NodeResult
from fakecomfy.executors.graph import ExecutionPlan, GraphBreak, input_signatures, missing_source, unusable_inputs
from fakecomfy.executors.run_state import CacheEntry, OutputCache, Run, now_ms
from fakecomfy.executors.signatures import node_function
from fakecomfy.protocol import HistoryStatus

Fallback = Callable[[NodeContext, dict[str, Any], dict[str, Any]], NodeResult]
# A node's IS_CHANGED hook: a value that changes when its outside world does (file content...).
ChangeKey = Callable[[ExecutionEnv, dict[str, Any]], object]


def _format_input(value: Any, describe: Callable[[Any], str]) -> Any:
    """execution_error current_inputs: JSON primitives as they are, anything else as its str()."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return describe(value)


class GraphExecutor:
    """The :class:`~fakecomfy.executors.base.Executor` shared by every node family."""

    def __init__(self, name: str, env: ExecutionEnv, nodes: Mapping[str, NodeFunction],
                 fallback: Fallback, is_changed: Mapping[str, ChangeKey] | None = None,
                 describe: Callable[[Any], str] = str) -> None:
        self.name = name
        self.env = env
        self.nodes = nodes
        self.fallback = fallback
        self.is_changed = dict(is_changed or {})
        self.describe = describe
        self.cache = OutputCache()
        self.states: dict[tuple[str, str], dict[str, Any]] = {}

    # ---- Executor protocol ------------------------------------------------------------------
    def free(self, unload_models: bool, free_memory: bool) -> None:
        if free_memory:
            self.cache.clear()
            self.states.clear()
        if unload_models and self.env.gpu is not None:
            self.env.gpu.unload_all()

    def execute(self, item: QueueItem, reporter: Reporter) -> Completion:
        self.env.interrupt.clear()  # ComfyUI clears the flag when a prompt starts
        run = Run(item, reporter)
        prompt = item.prompt
        pid = item.prompt_id
        run.send(protocol.EV_EXECUTION_START, {"prompt_id": pid, "timestamp": now_ms()})
        broken = unusable_inputs(prompt)
        if broken is not None:
            return self._broken(run, broken)
        facts = _PromptFacts(prompt, self.env, self.is_changed)
        self.cache.set_prompt(input_signatures(prompt, facts.changed, facts.keyed_by_id))
        if self.env.gpu is not None:  # models whose loaders' outputs the cache dropped are gone
            self.env.gpu.keep(device_work.live_parts(e.outputs for e in self.cache.entries.values()))
        # Node instances are keyed by (id, class_type); a prompt keeps only those it uses itself.
        self.states = {k: v for k, v in self.states.items()
                       if k[0] in prompt and prompt[k[0]].get("class_type") == k[1]}
        cached = [n for n in prompt if self.cache.get(n) is not None]
        run.send(protocol.EV_EXECUTION_CACHED, {"nodes": cached, "prompt_id": pid, "timestamp": now_ms()})
        broken = missing_source(prompt, item.outputs_to_execute, lambda n: self.cache.get(n) is not None)
        if broken is not None:
            return self._broken(run, broken)
        if self._worker_dies(run, broken=False):
            raise WorkerDied(f"a worker_death fault struck prompt {pid}")
        plan = ExecutionPlan(prompt, item.outputs_to_execute, facts.is_output,
                             lambda n: self.cache.get(n) is not None)
        try:
            while plan.has_pending():
                node_id = plan.next()
                if node_id is None:  # a cycle slipped through validation
                    raise RuntimeError("graph has a cycle")
                self._run_node(run, node_id)
                plan.complete(node_id)
        except _NodeFailed as failure:
            return self._fail(run, failure)
        finally:
            if self.env.gpu is not None:
                self.env.gpu.prompt_done()
            # The run's values go now, not when the garbage collector finds the run (its progress
            # map refers back to it): outputs the cache drops are then freed at once, and a big
            # picture's memory can be reused by the next prompt (numpy/buffers.py).
            run.values.clear()
        run.send(protocol.EV_EXECUTION_SUCCESS, {"prompt_id": pid, "timestamp": now_ms()})
        return Completion(HistoryStatus.SUCCESS, True, run.messages, run.ui_outputs, run.meta)

    # ---- one node -------------------------------------------------------------------------
    def _run_node(self, run: Run, node_id: str) -> None:
        node = run.item.prompt[node_id]
        class_type = node["class_type"]
        entry = self.cache.get(node_id)
        if entry is not None:
            # A cached output node re-reports its earlier UI; like real, even one without a UI
            # gets an ``executed`` (with ``output: null``). Real does both only for a prompt with
            # a client_id (any but null), so a cached prompt without one has no outputs in history.
            if not run.broadcasts:
                run.send(protocol.EV_EXECUTED, {"node": node_id, "display_node": node_id,
                                                "output": entry.ui, "prompt_id": run.item.prompt_id})
                if entry.ui is not None:
                    run.record_ui(node_id, entry.ui)
            run.progress.finish(node_id)
            return
        run.progress.start(node_id)
        try:  # like real, an input that cannot be read fails the node before `executing`
            inputs = self._resolve_inputs(run, node_id)
        except Exception as exc:
            raise _NodeFailed(node_id, class_type, exc, {}) from exc
        run.send(protocol.EV_EXECUTING, run.executing(node_id))
        ctx = self._context(run, node_id, class_type)
        gate = self.env.gate
        if gate.paused:  # the client sees `executing` before the worker waits
            run.reporter.flush()
            gate.checkpoint(Unit.NODE, {"prompt_id": run.item.prompt_id, "node": node_id, "class_type": class_type})
        try:
            ctx.check_interrupt()
            if self.env.faults.any_node:
                self._strike(ctx, 0)
            gpu = self.env.gpu
            if gpu is not None:
                self._device_work(gpu, ctx, inputs)
            result = self._call(ctx, class_type, inputs)
            if gpu is not None:
                self._device_read(gpu, ctx, result)
            if not ctx.time_spent:
                ctx.sleep(ctx.node_time)
        except Interrupted:
            raise _NodeFailed(node_id, class_type, None, inputs) from None
        except Exception as exc:  # the node failed: an execution_error, like real
            if self.env.gpu is not None and exception_type_name(exc) in OOM_TYPES:
                self.env.gpu.unload_all()  # real unloads every model after an out-of-memory error
            raise _NodeFailed(node_id, class_type, exc, inputs) from exc
        run.executed.append(node_id)
        outputs = run.values[node_id] = tuple(result.outputs)
        self.cache.put(node_id, CacheEntry(outputs, result.ui))
        if result.ui is not None:
            run.send(protocol.EV_EXECUTED, {"node": node_id, "display_node": node_id,
                                            "output": result.ui, "prompt_id": run.item.prompt_id})
            run.record_ui(node_id, result.ui)
        run.progress.finish(node_id)

    @staticmethod
    def _device_work(gpu: SimulatedDevice, ctx: NodeContext, inputs: dict[str, Any]) -> None:
        """The simulated GPU's share of a node: models moved to the card first (not
        interruptible, as real's loading), then its own work as part of the node's time."""
        try:
            work = device_work.before(gpu, ctx.class_type, inputs)
        except OutOfMemory as oom:
            raise oom.error from None
        if work.before_s > 0:
            time.sleep(work.before_s)
        ctx.device_time = work.work_s

    @staticmethod
    def _device_read(gpu: SimulatedDevice, ctx: NodeContext, result: NodeResult) -> None:
        """A loader's time reading its models from disk, after it made them."""
        seconds = device_work.after(gpu, result.outputs)
        gpu.finish_work()
        if ctx.time_spent:  # the node spent its configured time already
            time.sleep(seconds)
        else:
            ctx.device_time += seconds

    def _call(self, ctx: NodeContext, class_type: str, inputs: dict[str, Any]) -> NodeResult:
        signature = node_function(class_type)
        if signature is not None:
            definition = self.env.catalog.static(class_type) or {}
            declared = _declared_inputs(definition, ctx.prompt[ctx.node_id].get("inputs") or {})
            unexpected = signature.unexpected(inputs, declared)
            if unexpected is not None:
                raise unexpected
        fn = self.nodes.get(class_type)
        if fn is not None:
            return fn(ctx, **inputs)
        definition = self.env.catalog.static(class_type) or {}
        return self.fallback(ctx, definition, inputs)

    def _context(self, run: Run, node_id: str, class_type: str) -> NodeContext:
        state = self.states.setdefault((node_id, class_type), {})
        ctx = NodeContext(env=self.env, node_id=node_id, class_type=class_type,
                          prompt_id=run.item.prompt_id, prompt=run.item.prompt,
                          extra_data=run.item.extra_data, state=state)

        def on_progress(value: int | float, maximum: int | float, preview: Preview | None) -> None:
            run.progress.update(node_id, value, maximum)
            data = {"value": value, "max": maximum, "prompt_id": run.item.prompt_id, "node": node_id}
            meta_first = preview is not None and self._supports_metadata(run)
            if meta_first and preview is not None:
                self._preview(run, node_id, preview)
            run.send(protocol.EV_PROGRESS, data)
            if preview is not None and not meta_first:
                self._preview(run, node_id, preview)
            gate = self.env.gate
            if gate.paused:  # the client has this step's progress before the worker waits
                run.reporter.flush()
                gate.checkpoint(Unit.STEP, {"prompt_id": run.item.prompt_id, "node": node_id,
                                            "step": value, "of": maximum})
            if self.env.faults.any_node and isinstance(value, int) and value > 0:
                self._strike(ctx, value)

        ctx.on_progress = on_progress
        return ctx

    def _strike(self, ctx: NodeContext, step: int) -> None:
        """Apply the injected fault that strikes this node now (its start: step 0), if any."""
        fault = self.env.faults.take_node(ctx.node_id, ctx.class_type, step)
        if fault is None:
            return
        if fault.kind is FaultKind.SLOW:
            if step == 0:
                ctx.extra_time += fault.seconds
            else:
                ctx.sleep(fault.seconds, interruptible=True)
        elif fault.kind is FaultKind.HANG:
            while not self.env.interrupt.wait(3600):  # until /interrupt, like a node stuck on a GPU
                pass
            raise Interrupted()
        elif fault.kind is FaultKind.OOM and self.env.gpu is not None and not fault.oom:
            # on a simulated card the message gives that card's sizes, as a real one's would
            raise self.env.gpu.oom_error(int(self.env.gpu.profile.vram_total * 0.1))
        else:
            raise fault_exception(fault)

    def _supports_metadata(self, run: Run) -> bool:
        return run.sid is not None and run.reporter.supports_preview_metadata(run.sid)

    def _preview(self, run: Run, node_id: str, preview: Preview) -> None:
        metadata = {"node_id": node_id, "prompt_id": run.item.prompt_id, "display_node_id": node_id,
                    "parent_node_id": None, "real_node_id": node_id,
                    "image_type": protocol.IMAGE_MEDIA_TYPES[preview.format]}
        if run.sid is not None or run.broadcasts:
            run.reporter.send_preview(preview, metadata, run.sid)

    def _resolve_inputs(self, run: Run, node_id: str) -> dict[str, Any]:
        node = run.item.prompt[node_id]
        node_inputs = node.get("inputs") or {}
        definition = self.env.catalog.static(node["class_type"]) or {}
        declared = _declared_inputs(definition, node_inputs)
        values: dict[str, Any] = {}
        for name, value in node_inputs.items():
            if is_link(value):
                source, slot = value
                outputs = run.values.get(source)
                if outputs is None:
                    entry = self.cache.get(source)
                    outputs = entry.outputs if entry is not None else ()
                    run.values[source] = outputs
                # real indexes its list of outputs: a bool slot is 0 or 1, a slot past the end
                # is a missing input, a float one raises (list indices must be integers...)
                values[name] = None if slot >= len(outputs) else list(outputs)[slot]
            elif name in declared or not definition:  # real drops a widget value the node does not declare
                values[name] = value
        hidden = (definition.get("input") or {}).get("hidden") or {}
        if isinstance(hidden, dict):
            for name, kind in hidden.items():
                if kind == "PROMPT" or kind == "DYNPROMPT":
                    values[name] = run.item.prompt
                elif kind == "EXTRA_PNGINFO":
                    values[name] = run.item.extra_data.get("extra_pnginfo")
                elif kind == "UNIQUE_ID":
                    values[name] = node_id
        return values

    # ---- failure --------------------------------------------------------------------------
    def _worker_dies(self, run: Run, broken: bool) -> bool:
        """Whether a ``worker_death`` fault strikes this prompt (``broken``: one real dies on)."""
        faults = self.env.faults
        return faults.any_worker and faults.take_worker_death(run.item.prompt, broken) is not None

    def _broken(self, run: Run, broken: GraphBreak) -> Completion:
        """A validated prompt whose graph real's worker cannot build: real's worker thread dies
        of it (the prompt stays running, later ones pending, until a restart). Here the prompt
        fails with that Python error as an ``execution_error`` of the node to blame and the
        worker goes on, unless a ``worker_death`` fault asks for real's behaviour."""
        if self._worker_dies(run, broken=True):
            raise WorkerDied(str(broken.error))
        class_type = run.item.prompt[broken.node_id].get("class_type", "")
        return self._fail(run, _NodeFailed(broken.node_id, class_type, broken.error, {}))

    def _fail(self, run: Run, failure: _NodeFailed) -> Completion:
        pid = run.item.prompt_id
        if failure.exc is None:
            run.send(protocol.EV_EXECUTION_INTERRUPTED, {
                "prompt_id": pid, "node_id": failure.node_id, "node_type": failure.class_type,
                "executed": list(run.executed), "timestamp": now_ms()})
        else:
            exc = failure.exc
            exception_type = exception_type_name(exc)
            tips = OOM_TIPS if exception_type in OOM_TYPES else ""  # ComfyUI's words under an OOM
            run.send(protocol.EV_EXECUTION_ERROR, {
                "prompt_id": pid, "node_id": failure.node_id, "node_type": failure.class_type,
                "executed": list(run.executed), "exception_message": f"{exc}\n{tips}",
                "exception_type": exception_type,
                "traceback": traceback.format_tb(exc.__traceback__),
                "current_inputs": {k: [_format_input(v, self.describe)] for k, v in failure.inputs.items()},
                # real lists the ids its output cache holds keys for this prompt: every node of
                # the prompt, in the order of a Python set of them
                "current_outputs": list(set(run.item.prompt)), "timestamp": now_ms()})
        return Completion(HistoryStatus.ERROR, False, run.messages, run.ui_outputs, run.meta)



def _declared_inputs(definition: dict[str, Any], node_inputs: dict[str, Any]) -> set[str]:
    """The input names a node declares (required, optional, hidden), a V3 node's dynamic ones
    expanded against the inputs it is given, as real reads them when it gathers a node's inputs."""
    class_inputs = definition.get("input") or {}
    if is_v3(definition):
        finalized = finalize_inputs(class_inputs, node_inputs)
        return {name for section in ("required", "optional") for name in finalized.get(section) or {}} | set(
            class_inputs.get("hidden") or {})
    return {name for name in node_inputs if input_info(class_inputs, name)[1] is not None} | {
        name for section in ("required", "optional", "hidden") for name in class_inputs.get(section) or {}}


class _PromptFacts:
    """Catalog facts about one prompt's nodes, looked up once."""

    def __init__(self, prompt: dict[str, dict[str, Any]], env: ExecutionEnv,
                 is_changed: Mapping[str, ChangeKey]) -> None:
        self.prompt = prompt
        self.env = env
        self.is_changed = is_changed
        self.defs = {nid: env.catalog.static(node.get("class_type", "")) or {} for nid, node in prompt.items()}

    def is_output(self, node_id: str) -> bool:
        return bool(self.defs.get(node_id, {}).get("output_node"))

    def keyed_by_id(self, node_id: str) -> bool:
        definition = self.defs.get(node_id, {})
        hidden = (definition.get("input") or {}).get("hidden") or {}
        return bool(definition.get("not_idempotent")) or (isinstance(hidden, dict) and "UNIQUE_ID" in hidden.values())

    def changed(self, node_id: str) -> Any:
        node = self.prompt[node_id]
        hook = self.is_changed.get(node.get("class_type", ""))
        if hook is None:
            return None
        try:
            return hook(self.env, node.get("inputs") or {})
        except Exception:  # noqa: BLE001 - the node itself will report the problem when it runs
            return None


class _NodeFailed(Exception):
    def __init__(self, node_id: str, class_type: str, exc: Exception | None, inputs: dict[str, Any]) -> None:
        super().__init__(node_id)
        self.node_id = node_id
        self.class_type = class_type
        self.exc = exc
        self.inputs = inputs
