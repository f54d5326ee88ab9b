"""The pytest plugin, registered as the ``pytest11`` entry point ``fakecomfy``: installing
fakecomfy is all a project does to get its fixtures.

- ``fakecomfy``: the session's shared server (started once, on first use, on a free port),
  reset after each test (queue, history, cache, files, userdata, faults, seed, pause, node
  times, journal); a :class:`fakecomfy.testing.FakeComfy`.
- ``fakecomfy_factory(**settings)``: further servers with their own settings, stopped after the
  test (``fakecomfy_factory(device_profile="rtx4090", fault_profile="slow")``).
- ``fakecomfy_fleet(*instances, **settings)``: servers for ``fakecomfy fleet``'s instance specs
  (``fakecomfy_fleet("rtx4090x2", "rtx3070-8gb:slow")``: three), stopped after the test.
- ``fakecomfy_server`` (session): the shared server itself, never reset, for session fixtures;
  ``fakecomfy_settings`` (session): its :class:`~fakecomfy.settings.Settings`, built from the
  ``fakecomfy_*`` ini options and ``--fakecomfy-*`` flags; override it in a conftest.py.
- ``@pytest.mark.fakecomfy(node_times=..., seed=..., **settings)``: node times and seed apply to
  the shared server for that test; other settings (``multi_user``, ``object_info``, ...) get a
  server of their own, one per distinct combination, started once and reset after each test.

An error the server logs while a test runs (a route's unexpected exception, the worker's
``executor failed``, uvicorn's errors) fails that test with the server's traceback.

Importing this module is cheap (pytest loads it in every run): the server's modules load when
a fixture is first used.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fakecomfy.settings import Settings
    from fakecomfy.testing import FakeComfy, ServerErrorLog

MARKER = "fakecomfy"
# applied to a running server and undone by its reset: no server of their own needed
LIVE_OPTIONS = ("node_times", "seed")
ALIASES = {"object_info": "object_info_files"}
# fields a test's server cannot take: it always listens on 127.0.0.1 and a free port
NOT_OPTIONS = ("listen", "port", "log_requests")
_ERRORS = pytest.StashKey["ServerErrorLog"]()


# ---- options and marker ------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakecomfy", "the fakecomfy fixture's session server")
    group.addoption("--fakecomfy-node-time", action="append", default=[], metavar="CLASS=SECONDS",
                    help="how long a node class takes (samplers: per step); repeatable, merged over the "
                         "fakecomfy_node_times ini option")
    group.addoption("--fakecomfy-base-directory", default=None, metavar="DIR",
                    help="the server's base directory (default: a fresh one with stand-in models)")
    group.addoption("--fakecomfy-object-info", action="append", default=[], metavar="FILE",
                    help="a captured /object_info served over the built-in catalog; repeatable")
    group.addoption("--fakecomfy-multi-user", action="store_true", default=False,
                    help="run the session server with --multi-user")
    parser.addini("fakecomfy_node_times", type="linelist", default=[],
                  help="CLASS=SECONDS lines: node times of the fakecomfy fixture's server")
    parser.addini("fakecomfy_base_directory", type="string", default="",
                  help="base directory of the fakecomfy fixture's server (relative to the ini file)")
    parser.addini("fakecomfy_object_info", type="paths", default=[],
                  help="captured /object_info files served over the built-in catalog")
    parser.addini("fakecomfy_multi_user", type="bool", default=False,
                  help="run the fakecomfy fixture's server in multi-user mode")


def pytest_configure(config: pytest.Config) -> None:
    _node_times(config)  # a malformed option stops the run before any test
    config.addinivalue_line(
        "markers", f"{MARKER}(node_times=None, seed=None, **settings): configure the fakecomfy fixture for this "
                   "test; node_times and seed apply to the shared server, other Settings fields (multi_user, "
                   "object_info, ...) give the test a server of its own")


def settings_from_config(config: pytest.Config) -> Settings:
    """The session server's settings: the ini options, with the command line's over them."""
    from fakecomfy.settings import Settings

    base: Path | None = None
    if config.getoption("fakecomfy_base_directory"):
        base = Path(config.getoption("fakecomfy_base_directory")).resolve()
    elif config.getini("fakecomfy_base_directory"):
        ini_dir = config.inipath.parent if config.inipath is not None else config.rootpath
        base = (ini_dir / config.getini("fakecomfy_base_directory")).resolve()
    object_info = [*config.getini("fakecomfy_object_info"),
                   *(Path(p).resolve() for p in config.getoption("fakecomfy_object_info"))]
    multi_user = bool(config.getoption("fakecomfy_multi_user") or config.getini("fakecomfy_multi_user"))
    return Settings(base_directory=base, object_info_files=object_info, node_times=_node_times(config),
                    multi_user=multi_user, log_requests=False)


def _node_times(config: pytest.Config) -> dict[str, float]:
    from fakecomfy.settings import parse_node_times

    try:
        return parse_node_times([*config.getini("fakecomfy_node_times"), *config.getoption("fakecomfy_node_time")])
    except ValueError as err:
        raise pytest.UsageError(f"fakecomfy node times: {err}") from None


def _option_names() -> list[str]:
    from fakecomfy.settings import Settings

    fields = [f.name for f in dataclasses.fields(Settings) if f.name not in NOT_OPTIONS]
    return sorted({*fields, *LIVE_OPTIONS, *ALIASES} - set(ALIASES.values()))


def _normalise_options(options: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Marker or factory keywords as Settings fields (``object_info`` → ``object_info_files``,
    a single path → a list); an unknown name fails the test, naming the known ones."""
    out: dict[str, Any] = {}
    known = _option_names()
    for name, value in options.items():
        if name not in known:
            pytest.fail(f"{where}: unknown option {name!r}; expected one of {', '.join(known)}", pytrace=False)
        name = ALIASES.get(name, name)
        if name == "object_info_files" and isinstance(value, (str, Path)):
            value = [value]
        out[name] = value
    return out


def _marker_options(item: pytest.Item) -> dict[str, Any]:
    """The ``fakecomfy`` markers of a test, its class and module merged; the closest wins."""
    merged: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers(MARKER))):
        if mark.args:
            pytest.fail(f"@pytest.mark.{MARKER} takes keyword arguments only, got {mark.args!r}", pytrace=False)
        merged.update(mark.kwargs)
    return _normalise_options(merged, f"@pytest.mark.{MARKER}")


def _apply_live(handle: FakeComfy, live: Mapping[str, Any]) -> None:
    if live.get("node_times"):
        handle.set_node_times(live["node_times"])
    if live.get("seed") is not None:
        handle.seed(live["seed"])


# ---- the session's servers ---------------------------------------------------------------------
class ServerPool:
    """The shared server and the marker-configured ones, each started on first use."""

    def __init__(self, settings: Settings) -> None:
        from fakecomfy.testing import ServerErrorLog

        self.settings = settings
        self.errors = ServerErrorLog()
        self._servers: dict[str, FakeComfy] = {}

    def get(self, overrides: Mapping[str, Any]) -> FakeComfy:
        key = repr(sorted(overrides.items()))
        if key not in self._servers:
            self._servers[key] = self.start(self.settings, overrides)
        return self._servers[key]

    def start(self, settings: Settings, overrides: Mapping[str, Any]) -> FakeComfy:
        from fakecomfy.testing import FakeComfy

        # a copy: servers must not share the node-time dict they change and reset
        handle = FakeComfy.start(copy.deepcopy(settings).replace(**copy.deepcopy(dict(overrides))))
        handle.error_log = self.errors
        self.errors.attach()
        return handle

    def stop(self) -> None:
        from fakecomfy.testing import stop_servers

        stop_servers([handle.server for handle in self._servers.values()])
        self._servers.clear()
        self.errors.detach()


def _failure_text(errors: list[str]) -> str:
    return ("the fakecomfy server logged an error during this test (fakecomfy.take_server_errors() takes those a "
            "test provokes on purpose):\n\n" + "\n\n".join(errors))


# ---- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fakecomfy_settings(pytestconfig: pytest.Config) -> Settings:
    """The shared server's settings (ini options and ``--fakecomfy-*`` flags); override in a
    conftest.py to change them."""
    return settings_from_config(pytestconfig)


@pytest.fixture(scope="session")
def _fakecomfy_pool(fakecomfy_settings: Settings) -> Iterator[ServerPool]:
    pool = ServerPool(fakecomfy_settings)
    yield pool
    pool.stop()


@pytest.fixture(scope="session")
def fakecomfy_server(_fakecomfy_pool: ServerPool) -> FakeComfy:
    """The session's shared server, started on first use and never reset: for session-scoped
    fixtures (tests use ``fakecomfy``, which resets it after each)."""
    return _fakecomfy_pool.get({})


@pytest.fixture
def _fakecomfy_errors(request: pytest.FixtureRequest, _fakecomfy_pool: ServerPool) -> Iterator[ServerErrorLog]:
    """Collects the servers' logged errors during the test; fails it at teardown on any left."""
    log = _fakecomfy_pool.errors
    log.take()
    log.attach()
    log.active = True
    request.node.stash[_ERRORS] = log
    yield log
    log.active = False
    errors = log.take()
    if errors:
        pytest.fail(_failure_text(errors), pytrace=False)


@pytest.fixture
def fakecomfy(request: pytest.FixtureRequest, _fakecomfy_pool: ServerPool,
              _fakecomfy_errors: ServerErrorLog) -> Iterator[FakeComfy]:
    """A running fake ComfyUI server, as fresh as a new one, reset after the test."""
    options = _marker_options(request.node)
    live = {name: options.pop(name) for name in LIVE_OPTIONS if name in options}
    handle = _fakecomfy_pool.get(options)
    _apply_live(handle, live)
    yield handle
    handle.reset()


@pytest.fixture
def fakecomfy_factory(_fakecomfy_errors: ServerErrorLog) -> Iterator[Callable[..., FakeComfy]]:
    """``fakecomfy_factory(multi_user=True)``: a new server with these settings (the marker's
    names; ``Settings`` defaults otherwise, not the session's), stopped after the test."""
    from fakecomfy.settings import Settings
    from fakecomfy.testing import FakeComfy, stop_servers

    started: list[FakeComfy] = []

    def make(**options: Any) -> FakeComfy:
        settings = _normalise_options(options, "fakecomfy_factory")
        seed = settings.pop("seed", None)
        handle = FakeComfy.start(Settings(log_requests=False).replace(**settings))
        started.append(handle)
        handle.error_log = _fakecomfy_errors
        _fakecomfy_errors.attach()
        _apply_live(handle, {"seed": seed})
        return handle

    yield make
    stop_servers([handle.server for handle in started])


@pytest.fixture
def fakecomfy_fleet(fakecomfy_factory: Callable[..., FakeComfy]) -> Callable[..., list[FakeComfy]]:
    """``fakecomfy_fleet("rtx4090x2", "none:flaky", device_time_scale=0.1)``: a server per fake
    of these ``PROFILE[xN][:FAULTPROFILE]`` specs (``fakecomfy fleet --instance``), in order,
    each with the further settings; stopped after the test."""
    from fakecomfy.fleet import expand, parse_instance

    def make(*instances: str, **options: Any) -> list[FakeComfy]:
        try:
            specs = [parse_instance(text) for text in instances]
        except ValueError as err:
            pytest.fail(f"fakecomfy_fleet: {err}", pytrace=False)
        return [fakecomfy_factory(device_profile=spec.device_profile, fault_profile=spec.fault_profile, **options)
                for _, spec in expand(specs)]

    return make


# ---- server errors fail the test that caused them ----------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    log = item.stash.get(_ERRORS, None)
    if log is None:
        return (yield)
    try:
        result = yield
    except BaseException:
        errors = log.take()
        if errors:  # the test failed on its own: the server's errors are likely why
            item.add_report_section("call", "fakecomfy server errors", "\n\n".join(errors))
        raise
    errors = log.take()
    if errors:
        pytest.fail(_failure_text(errors), pytrace=False)
    return result


__all__ = ["ALIASES", "LIVE_OPTIONS", "MARKER", "NOT_OPTIONS", "ServerPool", "fakecomfy", "fakecomfy_factory",
           "fakecomfy_fleet", "fakecomfy_server", "fakecomfy_settings", "pytest_addoption", "pytest_configure",
           "pytest_runtest_call", "settings_from_config"]
