"""The pytest plugin (fakecomfy/pytest_plugin.py), used the way a project uses it: small test
files run by pytester in a pytest session of their own, with the plugin loaded from its entry
point, as after ``pip install fakecomfy``."""
from __future__ import annotations

import importlib.metadata
import json
import re
import textwrap

import pytest

from fakecomfy.testing import describe_rejection
from tests.conftest import ROOT

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.fake_only

WORKFLOW = ROOT / "fixtures" / "workflows" / "sd15_txt2img_api.json"
# The README's pytest examples: fenced as ```python pytest (tests/test_readme.py runs the
# plain ```python blocks as scripts).
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_TESTS = re.findall(r"```python pytest\n(.*?)```", README, re.S)
# ... and its excerpts of the how-to tests (```python excerpt)
README_EXCERPTS = re.findall(r"```python excerpt\n(.*?)```", README, re.S)


def small_workflow(steps: int = 2) -> str:
    """The txt2img fixture at 64 px and a few steps, as the JSON a test file embeds."""
    workflow = json.loads(WORKFLOW.read_text(encoding="utf-8"))
    workflow["3"]["inputs"]["steps"] = steps
    workflow["5"]["inputs"].update(width=64, height=64)
    return json.dumps(workflow)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    found = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "fakecomfy"]
    assert [e.value for e in found] == ["fakecomfy.pytest_plugin"]


def test_a_test_with_only_the_fixture_runs_a_workflow(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        WORKFLOW = {small_workflow()}

        def test_txt2img(fakecomfy):
            prompt_id = fakecomfy.submit(WORKFLOW, client_id="me")
            entry = fakecomfy.wait(prompt_id)
            assert entry["status"]["status_str"] == "success"
            [image] = fakecomfy.images(prompt_id)
            assert image.size == (64, 64)
            assert fakecomfy.image_bytes(prompt_id)[0].startswith(b"\\x89PNG")
            assert list(fakecomfy.outputs(prompt_id)) == ["9"]
            assert fakecomfy.url.startswith("http://127.0.0.1:") and fakecomfy.ws_url.endswith("/ws")
            assert (fakecomfy.base_dir / "input" / "example.png").is_file()
            assert fakecomfy.requests("POST", "/prompt", body={{"client_id": "me"}})
            assert fakecomfy.messages("execution_success", sid="me", prompt_id=prompt_id)
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_without_the_plugin_the_fixture_is_not_found(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(fakecomfy): pass")
    result = pytester.runpytest("-p", "no:fakecomfy")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'fakecomfy' not found*"])


def test_reset_between_two_tests_leaves_nothing_behind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import io
        import httpx
        from PIL import Image

        WORKFLOW = {small_workflow()}

        def test_first_leaves_everything_dirty(fakecomfy):
            fakecomfy.seed(5)
            fakecomfy.set_node_times(VAEDecode=0.01)
            fakecomfy.wait(fakecomfy.submit(WORKFLOW, client_id="me"))
            fakecomfy.add_fault(kind="raise", node_class="SaveImage")
            png = io.BytesIO()
            Image.new("RGB", (4, 4)).save(png, "PNG")
            uploaded = httpx.post(fakecomfy.url + "/upload/image", files={{"image": ("up.png", png.getvalue())}})
            assert uploaded.status_code == 200
            assert httpx.post(fakecomfy.url + "/userdata/notes.txt", content=b"hello").status_code == 200
            fakecomfy.pause()
            fakecomfy.submit(WORKFLOW)
            assert (fakecomfy.input_dir / "up.png").is_file()
            assert (fakecomfy.base_dir / "user" / "default" / "notes.txt").is_file()

        def test_second_finds_a_fresh_server(fakecomfy):
            state = fakecomfy.state()
            assert state["queue"] == {{"running": [], "pending": []}}
            assert state["history"] == 0 and state["faults"] == [] and state["seed"] is None
            assert state["node_times"] == {{}} and state["worker"] == {{"paused": False, "position": None}}
            assert state["journal"] == {{"requests": 0, "messages": 0}}
            assert list(fakecomfy.output_dir.iterdir()) == []
            assert not (fakecomfy.input_dir / "up.png").exists()
            assert not (fakecomfy.base_dir / "user" / "default" / "notes.txt").exists()
            # and the cache is empty: the same workflow runs its nodes again
            prompt_id = fakecomfy.submit(WORKFLOW, client_id="me")
            fakecomfy.wait(prompt_id)
            assert fakecomfy.messages("execution_cached", prompt_id=prompt_id)[0]["data"]["nodes"] == []
    """)
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_server_exception_fails_the_test_with_the_servers_traceback(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def fakecomfy_settings(fakecomfy_settings):  # these 500s are on purpose: no contract check
            return fakecomfy_settings.replace(spec_check=False)
    """)
    pytester.makepyfile(f"""
        import urllib.error, urllib.request
        import pytest

        WORKFLOW = {small_workflow()}

        def broken(*args, **kwargs):
            raise RuntimeError("a bug in the route")

        def test_a_route_raises(fakecomfy, monkeypatch):
            monkeypatch.setattr(fakecomfy.control.model.queue, "remaining", broken)
            with pytest.raises(urllib.error.HTTPError):  # the client sees a 500, the test passes on its own
                urllib.request.urlopen(fakecomfy.url + "/prompt")

        def test_the_worker_fails(fakecomfy, monkeypatch):
            def execute(item, reporter):
                raise KeyError("the engine broke")
            monkeypatch.setattr(fakecomfy.control.model.executor, "execute", execute)
            fakecomfy.wait(fakecomfy.submit(WORKFLOW))

        def test_failing_on_its_own_shows_the_server_error_too(fakecomfy, monkeypatch):
            monkeypatch.setattr(fakecomfy.control.model.queue, "remaining", broken)
            urllib.request.urlopen(fakecomfy.url + "/prompt")

        def test_an_error_taken_on_purpose_passes(fakecomfy, monkeypatch):
            monkeypatch.setattr(fakecomfy.control.model.queue, "remaining", broken)
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(fakecomfy.url + "/prompt")
            [error] = fakecomfy.take_server_errors()
            assert "a bug in the route" in error

        def test_a_later_test_is_not_blamed(fakecomfy):
            fakecomfy.wait(fakecomfy.submit(WORKFLOW))
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=3)
    text = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*_ test_a_route_raises _*",
        "the fakecomfy server logged an error during this test*",
        "fakecomfy ERROR (thread fakecomfy-server): Error handling request GET /prompt",
        "Traceback (most recent call last):",
        "*RuntimeError: a bug in the route",
    ])
    assert "executor failed on prompt" in text and "KeyError: 'the engine broke'" in text
    result.stdout.fnmatch_lines(["*- Captured fakecomfy server errors call -*", "*Error handling request GET /prompt*"])


def test_the_marker_sets_node_times_and_seed_for_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import pytest

        WORKFLOW = {small_workflow()}

        @pytest.mark.fakecomfy(node_times={{"KSampler": 0.25}}, seed=7)
        def test_marked(fakecomfy):
            assert fakecomfy.state()["node_times"] == {{"KSampler": 0.25}}
            first = fakecomfy.submit(WORKFLOW)
            pytest.ids = [first]

        @pytest.mark.fakecomfy(seed=7)
        def test_same_seed_same_prompt_id(fakecomfy):
            assert fakecomfy.submit(WORKFLOW) == pytest.ids[0]
            assert fakecomfy.state()["node_times"] == {{}}

        def test_unmarked_gets_the_defaults(fakecomfy):
            assert fakecomfy.state()["node_times"] == {{}} and fakecomfy.state()["seed"] is None
    """)
    pytester.runpytest().assert_outcomes(passed=3)


def test_the_marker_gives_other_settings_a_server_of_their_own(pytester: pytest.Pytester) -> None:
    catalog = pytester.path / "custom.json"
    # a node as a real server's /object_info describes it
    catalog.write_text(json.dumps({"MyNode": {
        "input": {"required": {}}, "input_order": {"required": []}, "output": [], "output_is_list": [],
        "output_name": [], "output_node": True, "name": "MyNode", "display_name": "My node", "description": "",
        "python_module": "custom_nodes.my_node", "category": "custom"}}))
    pytester.makepyfile(f"""
        import json, urllib.request
        import pytest

        def get(fakecomfy, path):
            with urllib.request.urlopen(fakecomfy.url + path) as answer:
                return json.load(answer)

        def test_shared(fakecomfy):
            pytest.urls = [fakecomfy.url]
            assert not fakecomfy.settings.multi_user

        @pytest.mark.fakecomfy(multi_user=True)
        def test_multi_user(fakecomfy):
            assert fakecomfy.url != pytest.urls[0]
            assert fakecomfy.settings.multi_user
            assert get(fakecomfy, "/users") == {{"storage": "server", "users": {{}}}}
            pytest.urls.append(fakecomfy.url)

        @pytest.mark.fakecomfy(multi_user=True, node_times={{"VAEDecode": 1.0}})
        def test_same_settings_share_that_server(fakecomfy):
            assert fakecomfy.url == pytest.urls[1]

        @pytest.mark.fakecomfy(object_info={str(catalog)!r})
        def test_captured_catalog(fakecomfy):
            assert "MyNode" in get(fakecomfy, "/object_info")

        def test_back_on_the_shared_server(fakecomfy):
            assert fakecomfy.url == pytest.urls[0]

        @pytest.mark.fakecomfy(multiuser=True)
        def test_a_misspelt_option(fakecomfy):
            pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.fakecomfy: unknown option 'multiuser'; expected one of *multi_user*"])


def test_ini_and_command_line_options_configure_the_session_server(pytester: pytest.Pytester) -> None:
    base = pytester.path / "comfy"
    (base / "models" / "checkpoints").mkdir(parents=True)
    (base / "models" / "checkpoints" / "mine.safetensors").write_bytes(b"")
    pytester.makeini("""
        [pytest]
        fakecomfy_node_times =
            KSampler=0.5
            VAEDecode=0.1
        fakecomfy_base_directory = comfy
    """)
    pytester.makepyfile(f"""
        def test_configured(fakecomfy):
            assert fakecomfy.state()["node_times"] == {{"KSampler": 0.05, "VAEDecode": 0.1}}
            assert str(fakecomfy.base_dir) == {str(base.resolve())!r}
            assert (fakecomfy.base_dir / "models" / "checkpoints" / "mine.safetensors").is_file()

        def test_reset_keeps_the_configured_times(fakecomfy):
            fakecomfy.set_node_times(KSampler=2.0)

        def test_after_reset(fakecomfy):
            assert fakecomfy.state()["node_times"] == {{"KSampler": 0.05, "VAEDecode": 0.1}}
    """)
    pytester.runpytest("--fakecomfy-node-time", "KSampler=0.05").assert_outcomes(passed=3)


def test_a_malformed_node_time_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(fakecomfy): pass")
    result = pytester.runpytest("--fakecomfy-node-time", "KSampler")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*fakecomfy node times: expected CLASS=SECONDS, got 'KSampler'*"])


def test_the_settings_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def fakecomfy_settings(fakecomfy_settings):
            return fakecomfy_settings.replace(disable_metadata=True)
    """)
    pytester.makepyfile("def test_it(fakecomfy): assert fakecomfy.settings.disable_metadata")
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_factory_starts_servers_with_their_own_settings_and_stops_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import urllib.error, urllib.request
        import pytest

        WORKFLOW = {small_workflow()}

        def test_two_servers(fakecomfy_factory):
            fast = fakecomfy_factory()
            slow = fakecomfy_factory(node_times={{"KSampler": 0.05}}, multi_user=True, seed=1)
            assert fast.url != slow.url and slow.settings.multi_user
            assert slow.state()["node_times"] == {{"KSampler": 0.05}} and slow.state()["seed"] == 1
            for server in (fast, slow):
                assert server.wait(server.submit(WORKFLOW))["status"]["completed"]
            pytest.urls = [fast.url, slow.url]

        def test_they_are_stopped(fakecomfy_factory):
            for url in pytest.urls:
                with pytest.raises(urllib.error.URLError):
                    urllib.request.urlopen(url + "/queue", timeout=2)

        def test_an_unknown_setting(fakecomfy_factory):
            fakecomfy_factory(port=8188)
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*fakecomfy_factory: unknown option 'port'*"])


def test_device_and_fault_profiles_come_from_the_marker_the_factory_and_the_fleet(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import httpx
        import pytest

        def device(server):
            return httpx.get(server.url + "/system_stats").json()["devices"][0]["name"]

        @pytest.mark.fakecomfy(device_profile="rtx4090", fault_profile="slow")
        def test_marker(fakecomfy):
            assert "RTX 4090" in device(fakecomfy)
            assert [f.id for f in fakecomfy.faults] == ["slow-1"]
            fakecomfy.clear_faults()

        @pytest.mark.fakecomfy(device_profile="rtx4090", fault_profile="slow")
        def test_marker_after_reset(fakecomfy):
            assert [f.id for f in fakecomfy.faults] == ["slow-1"]

        def test_factory(fakecomfy_factory):
            server = fakecomfy_factory(device_profile="a100-80gb", fault_profile="oom")
            assert "A100" in device(server) and {f.kind.value for f in server.faults} == {"oom"}

        def test_fleet(fakecomfy_fleet):
            servers = fakecomfy_fleet("4090x2", "none:flaky", device_time_scale=0)
            assert [("RTX 4090" in device(s), len(s.faults)) for s in servers] == [(True, 0), (True, 0), (False, 4)]
            assert len({s.url for s in servers}) == 3 and servers[0].settings.device_time_scale == 0

        def test_a_malformed_fleet_spec(fakecomfy_fleet):
            fakecomfy_fleet(":slow")
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*fakecomfy_fleet: expected PROFILE[[]xN[]][[]:FAULTPROFILE[]]*"])


def test_submit_and_wait_say_what_went_wrong(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import pytest
        from fakecomfy.testing import PromptRejected, PromptTimeout

        WORKFLOW = {small_workflow()}

        def test_rejected(fakecomfy):
            broken = dict(WORKFLOW, **{{"4": {{"class_type": "CheckpointLoaderSimple",
                                              "inputs": {{"ckpt_name": "missing.ckpt"}}}}}})
            with pytest.raises(PromptRejected) as refused:
                fakecomfy.submit(broken)
            assert refused.value.status == 400
            assert refused.value.body["node_errors"]["4"]["errors"][0]["type"] == "value_not_in_list"
            assert "node 4 (CheckpointLoaderSimple): value_not_in_list" in str(refused.value)

        def test_timeout_names_the_last_event(fakecomfy):
            fakecomfy.add_fault(kind="hang", node_class="KSampler")
            prompt_id = fakecomfy.submit(WORKFLOW, client_id="me")
            with pytest.raises(PromptTimeout, match="within 0.2 s: it is running; the last event sent for it: "
                                                    "executing {{\\"node\\": \\"3\\""):
                fakecomfy.wait(prompt_id, timeout=0.2)

        def test_timeout_of_a_paused_worker(fakecomfy):
            fakecomfy.pause()
            prompt_id = fakecomfy.submit(WORKFLOW)
            fakecomfy.wait_paused()
            with pytest.raises(PromptTimeout, match="it is pending; no event sent for it yet; the worker is paused at"):
                fakecomfy.wait(prompt_id, timeout=0.05)

        def test_unknown_prompt(fakecomfy):
            with pytest.raises(LookupError, match="neither queued, running nor in the history"):
                fakecomfy.wait("nope")
    """)
    pytester.runpytest().assert_outcomes(passed=4)


def test_describe_rejection_lists_each_node_error() -> None:
    body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": ""},
            "node_errors": {"3": {"class_type": "KSampler", "errors": [
                {"type": "required_input_missing", "message": "Required input is missing", "details": "model"}]}}}
    assert describe_rejection(body).splitlines() == [
        "prompt_outputs_failed_validation: Prompt outputs failed validation",
        "  node 3 (KSampler): required_input_missing: Required input is missing (model)"]
    assert describe_rejection("500 Internal Server Error") == "500 Internal Server Error"


def test_the_readme_has_pytest_examples() -> None:
    assert len(README_TESTS) >= 2


def test_the_readmes_excerpts_are_the_how_to_tests_verbatim() -> None:
    howtos = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests" / "examples").glob("test_howto_*.py"))]
    assert README_EXCERPTS
    assert [e for e in README_EXCERPTS if not any(e in text for text in howtos)] == []


@pytest.mark.parametrize("index", range(len(README_TESTS)))
def test_readme_pytest_example_passes(index: int, pytester: pytest.Pytester) -> None:
    code = README_TESTS[index].replace('"fixtures/workflows/', f'"{WORKFLOW.parent}/')
    pytester.makepyfile(textwrap.dedent(code))
    result = pytester.runpytest()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and set(outcomes) == {"passed"}, result.stdout.str()
