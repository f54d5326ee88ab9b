"""The Docker image: the Dockerfile's rules, read with dockerfile-parse, and the image's own
entrypoint and healthcheck run from the built wheel as an unprivileged user.

No container engine runs where this suite runs, so the image is never built here. What the
image would do is checked instead: its bases are pinned, its last stage holds the installed
wheel and no source, runs as a non-root user, keeps no package cache, exposes 8188, checks its
health on /system_stats and starts what the README documents; and that entrypoint and that
healthcheck, taken from the parsed file, are run against each other from a fresh venv holding
the wheel, with the image's ENV, as an unprivileged user.
"""
from __future__ import annotations

import fnmatch
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from

from fakecomfy.core.defaults import populate_if_empty
from fakecomfy.core.fault_profiles import load_fault_profile
from fakecomfy.core.gpu_profiles import load as load_device_profile
from fakecomfy.settings import Settings, env_defaults
from tests.conftest import free_port
from tests.wheels import ROOT

pytestmark = pytest.mark.fake_only

ENTRYPOINT = ["fakecomfy", "serve", "--listen", "0.0.0.0"]
# name:MAJOR.MINOR.PATCH[-variant][@sha256:digest]; "latest", "3.11" or "3.11-slim" move under you.
PINNED = re.compile(r"^[a-z0-9._/-]+:\d+\.\d+\.\d+(-[a-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$")
PIP = re.compile(r"\bpip3?\s+(install|wheel|download)\b")


@dataclass
class Stage:
    """One FROM of the Dockerfile and the instructions that follow it."""

    base: str
    name: str | None
    instructions: list[dict[str, Any]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [str(i["value"]) for i in self.instructions if i["instruction"] == instruction]

    def last(self, instruction: str) -> str:
        values = self.values(instruction)
        assert values, f"the stage FROM {self.base} has no {instruction}"
        return values[-1]


@dataclass
class Healthcheck:
    argv: list[str]
    options: dict[str, str]

    def seconds(self, option: str) -> float:
        value = self.options[option]
        units = {"ms": 0.001, "s": 1.0, "m": 60.0}
        number, unit = re.fullmatch(r"([\d.]+)(ms|s|m)", value).groups()  # type: ignore[union-attr]
        return float(number) * units[unit]


PARSED = DockerfileParser(path=str(ROOT / "Dockerfile"))


def stages() -> list[Stage]:
    found: list[Stage] = []
    for instruction in PARSED.structure:
        if instruction["instruction"] == "FROM":
            image, name = image_from(instruction["value"])
            found.append(Stage(str(image), name))
        elif found:  # before the first FROM: comments and global ARGs
            found[-1].instructions.append(instruction)
    return found


def exec_form(value: str) -> list[str]:
    """An instruction's JSON argument list; the shell form would put `sh -c` in front of it."""
    argv = json.loads(value)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), f"not the exec form: {value}"
    return argv


def healthcheck() -> Healthcheck:
    options, _, command = stages()[-1].last("HEALTHCHECK").partition("CMD ")
    assert command, "HEALTHCHECK without CMD"
    pairs = (o.removeprefix("--").partition("=") for o in options.split())
    return Healthcheck(exec_form(command), {k: v for k, _, v in pairs})


def entrypoint() -> list[str]:
    final = stages()[-1]
    return exec_form(final.last("ENTRYPOINT")) + exec_form(final.last("CMD"))


def readme_docker_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Docker\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


# ---- the rules -----------------------------------------------------------------------------------
def test_every_base_image_is_pinned_to_an_exact_version() -> None:
    names = set()
    for stage in stages():
        if stage.base not in names:  # FROM <an earlier stage> is no image
            assert PINNED.match(stage.base), f"FROM {stage.base}: pin an exact version (python:3.11.14-slim-...)"
        if stage.name:
            names.add(stage.name)


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    user = stages()[-1].last("USER").split(":")
    # Kubernetes' runAsNonRoot can check a numeric user only; 0 is root under any name.
    assert user[0].isdigit() and int(user[0]) != 0, f"USER {':'.join(user)}"
    assert len(user) == 1 or (user[1].isdigit() and int(user[1]) != 0), f"USER {':'.join(user)}"


def test_final_stage_holds_the_installed_wheel_and_no_sources() -> None:
    *builds, final = stages()
    assert builds, "the wheel is built in a stage of its own"
    for copy in final.values("COPY") + final.values("ADD"):
        assert copy.startswith("--from="), f"the final stage copies from the build context: {copy}"
    installs = [c for stage in builds for run in stage.values("RUN") for c in re.split("&&", run) if PIP.search(c)
                and "install" in c]
    assert installs and all("--no-index" in c for c in installs), f"only the built wheels are installed: {installs}"


def test_build_stage_copies_only_what_the_wheel_is_made_of() -> None:
    copied = {source for stage in stages()[:-1] for copy in stage.values("COPY")
              for source in shlex.split(copy)[:-1] if not source.startswith("--")}
    assert copied == {"pyproject.toml", "README.md", "fakecomfy"}, copied


def test_no_package_cache_is_left_in_a_layer() -> None:
    for stage in stages():
        for run in stage.values("RUN"):
            for command in re.split(r"&&|;|\|\|", run):
                if PIP.search(command):
                    assert "--no-cache-dir" in command, f"pip leaves its cache in the layer: {command.strip()}"
            if re.search(r"\bapt(-get)?\s+install\b", run):
                assert "rm -rf /var/lib/apt/lists" in run, f"apt lists left in the layer: {run}"


def test_exposes_comfyui_port() -> None:
    exposed = {port.split("/")[0] for value in stages()[-1].values("EXPOSE") for port in value.split()}
    assert "8188" in exposed


def test_healthcheck_asks_system_stats_with_the_image_python() -> None:
    check = healthcheck()
    assert check.argv[:2] == ["python", "-c"], check.argv  # the image has no curl, and needs none
    assert "/system_stats" in check.argv[2]
    assert check.seconds("timeout") < check.seconds("interval"), check.options
    assert {"start-period", "retries"} <= check.options.keys(), check.options


def test_entrypoint_is_the_one_the_readme_documents() -> None:
    assert entrypoint() == ENTRYPOINT
    assert f"`{shlex.join(entrypoint())}`" in readme_docker_section()


def test_settings_come_from_documented_fakecomfy_variables() -> None:
    env = PARSED.envs
    volumes = {v for value in stages()[-1].values("VOLUME") for v in json.loads(value)}
    assert env["FAKECOMFY_BASE_DIRECTORY"] in volumes, (env, volumes)
    settings = env_defaults(dict(env))
    assert settings["base_directory"] == Path(env["FAKECOMFY_BASE_DIRECTORY"]) and settings["port"] == 8188
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in (n for n in env if n.startswith("FAKECOMFY_")):
        assert f"`{name}" in readme, f"{name} is set by the image but not in the README's CLI table"


def test_dockerignore_keeps_development_files_out_of_the_context() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".venv", ".git", "build", "dist", "fakecomfy.egg-info", "fakecomfy/__pycache__", ".mypy_cache",
                 ".pytest_cache", "tests"):
        assert any(fnmatch.fnmatch(path, p) for p in patterns), f".dockerignore lets {path} into the context"
    for needed in ("pyproject.toml", "README.md", "fakecomfy", "fakecomfy/core/defaults.py"):
        assert not any(fnmatch.fnmatch(needed, p) for p in patterns), f".dockerignore keeps out {needed}"


COMPOSE = ROOT / "docker-compose.example.yml"
MANIFEST = ROOT / "examples" / "kubernetes" / "fakecomfy-fleet.yaml"
STARTUP_ONLY = {"FAKECOMFY_POPULATE_DEFAULTS"}  # read by the CLI, no Settings field


def fake_settings(env: dict[str, Any], where: str) -> Settings:
    """A fake's settings from an example's environment: every FAKECOMFY_* variable one fakecomfy
    reads, every profile it names one fakecomfy ships."""
    env = {name: str(value) for name, value in env.items()}
    for name in env:
        assert not name.startswith("FAKECOMFY_") or name in STARTUP_ONLY or env_defaults({name: env[name]}), \
            f"{where}: {name} is no fakecomfy variable"
    settings = Settings(**env_defaults(env))  # type: ignore[arg-type]
    assert settings.device_profile, f"{where}: a fleet's fake has a device profile"
    load_device_profile(settings.device_profile)
    if settings.fault_profile:
        load_fault_profile(settings.fault_profile)
    return settings


def is_mixed(settings: list[Settings]) -> bool:
    return len({s.device_profile for s in settings}) > 1 and any(s.fault_profile for s in settings)


def test_compose_example_runs_a_mixed_fleet_behind_one_client() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    fakes = {name: fake_settings(s.get("environment", {}), name) for name, s in services.items() if name != "client"}
    assert len(fakes) >= 3 and is_mixed(list(fakes.values()))
    client = services["client"]
    assert client["depends_on"] == {name: {"condition": "service_healthy"} for name in fakes}
    assert client["environment"]["COMFYUI_URLS"].split(",") == [f"http://{name}:8188" for name in fakes]
    assert {f"{name}:/data" for name in fakes} == {v for name in fakes for v in services[name]["volumes"]}
    assert set(compose["volumes"]) == set(fakes)


def test_kubernetes_example_runs_a_deployment_and_a_service_per_profile() -> None:
    docs = list(yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")))
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    services = [d for d in docs if d["kind"] == "Service"]
    assert {d["apiVersion"] for d in deployments} == {"apps/v1"} and {d["apiVersion"] for d in services} == {"v1"}
    image = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["x-fakecomfy"]["image"]
    uid = int(stages()[-1].last("USER").split(":")[0])
    volume = json.loads(stages()[-1].last("VOLUME"))
    fakes = []
    for deployment in deployments:
        name, pod = deployment["metadata"]["name"], deployment["spec"]["template"]
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert labels.items() <= pod["metadata"]["labels"].items(), f"{name}: its selector misses its pods"
        [container] = pod["spec"]["containers"]
        assert container["image"] == image
        fakes.append(fake_settings({e["name"]: e["value"] for e in container["env"]}, name))
        assert [p["containerPort"] for p in container["ports"]] == [int(stages()[-1].last("EXPOSE"))]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/system_stats", f"{name}: {probe}"
        assert pod["spec"]["securityContext"]["runAsUser"] == uid and pod["spec"]["securityContext"]["runAsNonRoot"]
        assert [m["mountPath"] for m in container["volumeMounts"]] == volume
        own = [s for s in services if s["spec"]["selector"] == labels]
        assert len(own) == 1 and own[0]["spec"]["ports"][0]["port"] == 8188, f"{name}: one Service of its own"
    assert is_mixed(fakes)
    [pods] = [s for s in services if s["spec"].get("clusterIP") == "None"]
    assert all(pods["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
               for d in deployments), "the headless Service lists every fake's pod"


def test_populate_leaves_a_directory_that_holds_anything_alone(tmp_path: Path) -> None:
    own = tmp_path / "base" / "models" / "checkpoints" / "mine.safetensors"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"")
    assert not populate_if_empty(tmp_path / "base")
    assert sorted(p.name for p in (tmp_path / "base").rglob("*") if p.is_file()) == ["mine.safetensors"]
    assert populate_if_empty(tmp_path / "fresh")
    assert (tmp_path / "fresh" / "input" / "example.png").is_file()


# ---- the entrypoint and the healthcheck, run -----------------------------------------------------
@dataclass
class Container:
    """What `docker run` would give: the image's commands, its ENV, a volume, an unprivileged user."""

    bin_dir: Path
    volume: Path  # the host directory standing in for the image's VOLUME
    port: int
    as_user: list[str]  # the command prefix that drops to the user
    uid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The image's ENV (a container's environment, not this process's), its paths moved here."""
        env = {"HOME": str(self.volume), "LANG": "C.UTF-8"}
        env.update({k: ":".join(self.here(p) for p in v.split(":")) for k, v in PARSED.envs.items()})
        env["FAKECOMFY_PORT"] = str(self.port)  # as `-e FAKECOMFY_PORT=...` would; the healthcheck follows it
        return env

    def here(self, path: str) -> str:
        """A path of the image as it is here: the VOLUME is ``volume``, the venv the final stage
        copies from the build stage is the venv holding the wheel."""
        final = stages()[-1]
        moved = {json.loads(final.last("VOLUME"))[0]: self.volume}
        moved.update({shlex.split(copy)[-1]: self.bin_dir.parent for copy in final.values("COPY")})
        for there, local in moved.items():
            if path == there or path.startswith(there.rstrip("/") + "/"):
                return str(local) + path[len(there.rstrip("/")):]
        return path

    def run_healthcheck(self) -> int:
        check = healthcheck()
        try:
            return subprocess.run(self.as_user + check.argv, env=self.env(), cwd=self.volume, capture_output=True,
                                  timeout=check.seconds("timeout")).returncode
        except subprocess.TimeoutExpired:
            return 1

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as log:
            return subprocess.Popen(self.as_user + entrypoint(), env=self.env(), cwd=self.volume, stdout=log,
                                    stderr=subprocess.STDOUT)

    def wait_healthy(self, server: subprocess.Popen[bytes]) -> None:
        """Run the healthcheck as Docker would, for its start period and retries at most."""
        check = healthcheck()
        deadline = time.monotonic() + check.seconds("start-period") + check.seconds("interval") * int(
            check.options["retries"])
        while self.run_healthcheck() != 0:
            assert server.poll() is None, f"the entrypoint exited with {server.returncode}:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, "the healthcheck never passed:\n" + self.log.read_text()
            time.sleep(0.1)


def _unprivileged() -> tuple[list[str], int]:
    """A command prefix that runs a program as an unprivileged user, and that user's uid."""
    if os.geteuid() != 0:
        return [], os.geteuid()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root, and there is no user 'nobody' to run the image's commands as")
    if setpriv := shutil.which("setpriv"):
        return [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"], nobody.pw_uid
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", "nobody", "--"], nobody.pw_uid
    pytest.skip("running as root, and neither setpriv nor runuser (util-linux) is here to drop privileges")


@pytest.fixture
def container(installed_wheel: Path) -> Iterator[Container]:
    as_user, uid = _unprivileged()
    # An empty directory owned by the image's user, as a fresh named volume is; outside pytest's
    # private tmp folder, which that user could not enter.
    volume = Path(tempfile.mkdtemp(prefix="fakecomfy-volume-"))
    os.chown(volume, uid, -1)
    log = Path(tempfile.mkdtemp(prefix="fakecomfy-log-")) / "container.log"
    try:
        yield Container(installed_wheel, volume, free_port(), as_user, uid, log)
    finally:
        shutil.rmtree(volume, ignore_errors=True)
        shutil.rmtree(log.parent, ignore_errors=True)


@pytest.fixture
def running(container: Container) -> Iterator[tuple[Container, subprocess.Popen[bytes]]]:
    server = container.start()
    try:
        container.wait_healthy(server)
        yield container, server
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(timeout=30)


@pytest.mark.timeout(900)  # the first test to ask for the wheel builds it
def test_healthcheck_fails_while_nothing_listens(container: Container) -> None:
    assert container.run_healthcheck() != 0


@pytest.mark.timeout(900)
def test_first_start_fills_the_empty_volume_as_the_unprivileged_user(
        running: tuple[Container, subprocess.Popen[bytes]]) -> None:
    container, _ = running
    example = container.volume / "input" / "example.png"
    checkpoint = container.volume / "models" / "checkpoints" / "v1-5-pruned-emaonly.safetensors"
    assert example.stat().st_uid == container.uid and checkpoint.stat().st_uid == container.uid
    assert f"filled {container.volume} with the example image" in container.log.read_text()


@pytest.mark.timeout(900)
def test_img2img_workflow_runs_out_of_the_box(running: tuple[Container, subprocess.Popen[bytes]]) -> None:
    container, _ = running
    workflow = json.loads((ROOT / "fixtures" / "workflows" / "sd15_img2img_api.json").read_text(encoding="utf-8"))
    queued = httpx.post(f"{container.url}/prompt", json={"prompt": workflow}, timeout=10)
    assert queued.status_code == 200, queued.text
    prompt_id = queued.json()["prompt_id"]
    deadline = time.monotonic() + 30
    while not (history := httpx.get(f"{container.url}/history/{prompt_id}", timeout=5).json()):
        assert time.monotonic() < deadline, "the prompt never reached history"
        time.sleep(0.05)
    images = [i for out in history[prompt_id]["outputs"].values() for i in out.get("images", [])]
    assert images, history
    saved = container.volume / "output" / images[0]["subfolder"] / images[0]["filename"]
    assert saved.stat().st_uid == container.uid


@pytest.mark.timeout(900)
def test_docker_stop_ends_it_within_the_grace_period(running: tuple[Container, subprocess.Popen[bytes]]) -> None:
    container, server = running
    server.send_signal(signal.SIGTERM)  # what `docker stop` sends first; SIGKILL follows after 10 s
    # uvicorn shuts down, then ends by the signal it got (Docker shows exit code 143)
    assert server.wait(timeout=10) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in container.log.read_text()
