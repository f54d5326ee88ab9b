"""The real ComfyUI frontend (the ``[ui]`` extra) on a fresh fake, driven in headless Chromium.

A first-run user as a person sees it: the UI starts with no console errors beyond the ones a
real ComfyUI gives it too (the 404s of ``user.css``, the userdata listings of folders a new user
has not got, ``comfy.templates.json``), and no error dialog; the node library lists the fake's
nodes; the stock default template loads, Run shows per-step progress, the Save Image node shows
the fake's image and the job queue lists the prompt as completed; a long run cancelled from the
UI ends interrupted; in multi-user mode a user made on the selection screen runs the default
workflow. Screenshots go to $FAKECOMFY_ARTIFACTS (else a pytest temporary folder).

Needs Chromium (Debian's ``chromium``, or $FAKECOMFY_CHROMIUM) and the ``playwright`` package;
playwright's own browser downloads are not used. Without them the tests skip and say why.
"""
from __future__ import annotations

import importlib.util
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakecomfy.routes import frontend
from fakecomfy.testing import ServerThread

CHROMIUM = Path(os.environ.get("FAKECOMFY_CHROMIUM", "/usr/bin/chromium"))
if importlib.util.find_spec(frontend.FRONTEND_PACKAGE) is None:
    pytest.skip("the [ui] extra is not installed: pip install 'fakecomfy[ui]'", allow_module_level=True)
if importlib.util.find_spec("playwright") is None:
    pytest.skip("the playwright package is not installed (it is in the test extra)", allow_module_level=True)
if not CHROMIUM.is_file():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set FAKECOMFY_CHROMIUM)",
                allow_module_level=True)

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.timeout(240)
STEP_TIME = 0.05  # seconds per KSampler step: 20 steps of the default workflow take a second
LONG_STEP_TIME = 2.0  # long enough to cancel from the UI
READY_TIMEOUT_MS = 60_000
# Failed loads a real ComfyUI 0.8.0 gives a first-run user too (checked against one).
EXPECTED_404 = ("/user.css", "/api/userdata/user.css", "/api/userdata?dir=workflows&", "/api/userdata?dir=subgraphs&",
                "/api/userdata/comfy.templates.json")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("FAKECOMFY_ARTIFACTS")
    path = Path(folder) / "frontend" if folder else tmp_path_factory.mktemp("frontend-screens")
    path.mkdir(parents=True, exist_ok=True)
    return path


class UI:
    """One browser page on one fake, with what it logged."""

    def __init__(self, browser: Browser, server: ServerThread, artifacts: Path) -> None:
        self.server = server
        self.url = server.url
        self.artifacts = artifacts
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        # Only the fake is reachable: the frontend's release check (api.comfy.org) is refused.
        self.context.route("**/*", self._local_only)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _local_only(self, route: Any) -> None:
        url = route.request.url
        if url.startswith((self.url, "blob:", "data:")):
            route.continue_()
        else:
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        if not source.startswith(self.url):
            return  # a refused outside request
        if message.text.startswith("Failed to load resource") and source[len(self.url):].startswith(EXPECTED_404):
            return
        self.errors.append(f"{message.text} ({source})")

    def shot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def open(self) -> None:
        self.page.goto(self.url + "/")

    def wait_ready(self) -> None:
        """The graph app is up and (a first-run user) the templates browser opened."""
        self.page.wait_for_function("() => window.app && window.app.vueAppReady && window.app.graph",
                                    timeout=READY_TIMEOUT_MS)
        self.page.get_by_role("dialog").filter(has_text="Templates").wait_for(timeout=READY_TIMEOUT_MS)

    def error_dialogs(self) -> list[str]:
        texts: list[str] = self.page.evaluate(
            "() => [...document.querySelectorAll('[role=dialog], [role=alertdialog], .p-toast-message-error')]"
            ".map(d => d.innerText.slice(0, 300))")
        return [t for t in texts if "error" in t.lower() or "failed" in t.lower()]

    def close_templates(self) -> None:
        dialog = self.page.get_by_role("dialog").filter(has_text="Templates")
        dialog.locator("button:has(i.pi-times)").click()
        dialog.wait_for(state="hidden")

    def load_default_template(self) -> None:
        self.page.get_by_text("Getting Started").click()
        self.page.get_by_test_id("template-workflow-default").click()
        self.page.wait_for_function("() => window.app.graph.nodes.some(n => n.type === 'SaveImage')")

    def run(self) -> None:
        self.page.get_by_role("button", name="Run", exact=True).click()

    def titles_until(self, done: Callable[[], bool], timeout: float = 60.0) -> list[str]:
        """The page titles seen (the frontend puts the progress there) until ``done``."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            title = self.page.title()
            if not seen or seen[-1] != title:
                seen.append(title)
            if done():
                return seen
            time.sleep(0.05)
        raise AssertionError(f"timed out; titles seen: {seen}")

    def save_image_sources(self) -> list[str]:
        sources: list[str] = self.page.evaluate(
            "() => (window.app.graph.nodes.find(n => n.type === 'SaveImage')?.imgs || []).map(i => i.src)")
        return sources

    def open_job_queue(self) -> str:
        self.page.get_by_role("button", name="Expand job queue").first.click()
        panel = self.page.get_by_text("Job Queue").first
        panel.wait_for()
        text: str = self.page.evaluate("() => document.body.innerText")
        return text

    def close(self) -> None:
        self.context.close()


def history(server: ServerThread, user: str | None = None) -> dict[str, Any]:
    request = urllib.request.Request(server.url + "/history", headers={"comfy-user": user} if user else {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def userdata(server: ServerThread, folder: str) -> list[str]:
    with urllib.request.urlopen(f"{server.url}/userdata?dir={folder}", timeout=10) as resp:
        names: list[str] = json.loads(resp.read())
    return names


@pytest.fixture
def ui(browser: Browser, make_server: Callable[..., ServerThread], artifacts: Path) -> Iterator[Callable[..., UI]]:
    opened: list[UI] = []

    def make(**overrides: object) -> UI:
        server = make_server(front_end=True, **overrides)
        page = UI(browser, server, artifacts)
        opened.append(page)
        return page

    yield make
    for page in opened:
        page.close()


def test_default_workflow_runs_with_progress_image_and_queue(ui: Callable[..., UI]) -> None:
    page = ui(node_times={"KSampler": STEP_TIME})
    page.open()
    page.wait_ready()
    page.shot("01-first-run-templates")
    page.load_default_template()
    assert page.error_dialogs() == []

    # the node library lists the fake's nodes
    page.page.get_by_role("button", name="Node Library (n)").click()
    search = page.page.get_by_placeholder("Search Nodes...").first
    search.fill("KSampler")
    page.page.get_by_text("KSampler (Advanced)").first.wait_for()
    page.shot("02-node-library")
    page.page.get_by_role("button", name="Node Library (n)").click()
    page.run()
    titles = page.titles_until(lambda: bool(page.save_image_sources()))
    steps = {t.split("]")[1] + "]" for t in titles if t.count("%]") >= 2}
    assert len(steps) >= 5, titles  # e.g. "[0%][35%] KSampler": the sampler's steps, one by one
    sources = page.save_image_sources()
    assert "/view?filename=" in sources[0] and "type=output" in sources[0]
    page.shot("03-run-image-on-save-image")
    text = page.open_job_queue()
    page.shot("04-job-queue-completed")
    (item,) = history(page.server).values()
    outputs = [o for node in item["outputs"].values() for o in node.get("images", [])]
    assert item["status"]["status_str"] == "success" and outputs
    assert outputs[0]["filename"] in text  # the completed job, listed by its image

    # saving the workflow: the frontend's prompt for a name, then the userdata listing
    name = f"browser-saved-{os.getpid()}"
    page.page.locator("#graph-canvas").click(position={"x": 300, "y": 700})
    page.page.keyboard.press("Control+s")
    prompt = page.page.get_by_role("dialog").locator("input")
    prompt.fill(name)
    prompt.press("Enter")
    page.page.wait_for_function(f"() => document.title.includes({json.dumps(name)})")
    listed = userdata(page.server, "workflows")
    assert f"{name}.json" in listed, listed
    page.shot("05-workflow-saved")
    assert page.errors == [] and page.error_dialogs() == []


def test_cancelled_run_shows_interrupted(ui: Callable[..., UI]) -> None:
    page = ui(node_times={"KSampler": LONG_STEP_TIME})
    page.open()
    page.wait_ready()
    page.load_default_template()
    page.run()
    page.titles_until(lambda: "[5%]" in page.page.title() or "[10%]" in page.page.title(), timeout=60)
    page.page.get_by_role("button", name="Cancel current run").click()
    page.titles_until(lambda: all(i["status"].get("completed") is False
                                  for i in history(page.server).values()) and bool(history(page.server)))
    (item,) = history(page.server).values()
    kinds = [m[0] for m in item["status"]["messages"]]
    assert "execution_interrupted" in kinds, kinds
    page.page.get_by_text("Execution has been interrupted").wait_for()  # the frontend's toast
    text = page.open_job_queue()
    page.shot("06-run-interrupted")
    # the jobs list has no cancelled state: an interrupted prompt is a failed job, as on real
    assert page.save_image_sources() == [] and "Failed" in text
    assert page.errors == []


def test_multi_user_selection_then_run(ui: Callable[..., UI]) -> None:
    page = ui(multi_user=True, node_times={"KSampler": STEP_TIME})
    page.open()
    name = f"browser-{os.getpid()}"
    field = page.page.get_by_placeholder("Enter a username")
    field.wait_for(timeout=READY_TIMEOUT_MS)
    page.shot("07-multi-user-select")
    field.fill(name)
    page.page.get_by_role("button", name="Next").click()
    page.wait_ready()
    page.close_templates()
    # the frontend's own default graph (what its "Load Default" gives), not the template
    page.page.evaluate("() => window.app.loadGraphData()")
    page.page.wait_for_function("() => window.app.graph.nodes.some(n => n.type === 'SaveImage')")
    page.page.get_by_role("button", name="Fit View (.)").click()  # images load on the nodes in view
    page.run()
    page.titles_until(lambda: bool(page.save_image_sources()))
    page.shot("08-multi-user-run")
    with urllib.request.urlopen(page.url + "/users", timeout=10) as resp:
        users = json.loads(resp.read())
    (user_id,) = [uid for uid, shown in users["users"].items() if shown == name]
    assert any(i["status"]["status_str"] == "success" for i in history(page.server, user_id).values())
    assert page.errors == []
