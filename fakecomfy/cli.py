"""``fakecomfy serve | fleet | capture | contract``: flags named like ComfyUI's ``main.py`` where they overlap."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from fakecomfy.settings import Settings, env_defaults, parse_node_times


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the fake ComfyUI server")
    p.add_argument("--listen", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8188; 0 picks a free one)")
    p.add_argument("--base-directory", type=Path,
                   help="ComfyUI-style base directory with input/, output/, temp/, user/, models/")
    p.add_argument("--input-directory", type=Path)
    p.add_argument("--output-directory", type=Path)
    p.add_argument("--temp-directory", type=Path)
    p.add_argument("--user-directory", type=Path)
    p.add_argument("--multi-user", action="store_true", default=None,
                   help="per-user settings and userdata, selected by the comfy-user header")
    p.add_argument("--enable-cors-header", nargs="?", const="*", default=None, metavar="ORIGIN",
                   help="send CORS headers (default origin '*') instead of checking Origin")
    p.add_argument("--max-upload-size", type=float, metavar="MB", help="request body limit in MB (default 100)")
    p.add_argument("--disable-metadata", action="store_true", default=None,
                   help="write no prompt/workflow metadata into PNGs")
    p.add_argument("--object-info", type=Path, action="append", metavar="FILE",
                   help="a captured /object_info JSON served over the built-in catalog (repeatable)")
    p.add_argument("--front-end-root", type=Path, metavar="DIR",
                   help="serve the web frontend in DIR at / (default: the installed fakecomfy[ui] frontend)")
    p.add_argument("--executor", help="executor name (default numpy)")
    p.add_argument("--cpu", action="store_true", default=None,
                   help="the torch executor uses the CPU even where CUDA is available")
    p.add_argument("--node-time", action="append", metavar="CLASS=SECONDS",
                   help="execution time of a node class; for samplers, seconds per step (repeatable)")
    p.add_argument("--device-profile", metavar="NAME|FILE",
                   help="simulate a GPU: a shipped profile (rtx4090, rtx3070-8gb, a100-80gb, cpu) or a JSON file")
    p.add_argument("--device-time-scale", type=float, metavar="FACTOR",
                   help="multiply every simulated device time (default 1; 0.1 runs ten times faster than the card)")
    vram = p.add_mutually_exclusive_group()
    vram.add_argument("--lowvram", action="store_true", default=None,
                      help="simulated device: split models like ComfyUI's --lowvram")
    vram.add_argument("--novram", action="store_true", default=None, help="simulated device: keep no weights in VRAM")
    vram.add_argument("--highvram", action="store_true", default=None, help="simulated device: keep models in VRAM")
    vram.add_argument("--gpu-only", action="store_true", default=None, help="simulated device: everything on the GPU")
    p.add_argument("--reserve-vram", type=float, metavar="GB", help="simulated device: VRAM left for other programs")
    p.add_argument("--fault-profile", metavar="NAME|FILE",
                   help="faults in force from the start and after every reset (a shipped name or a JSON file)")
    p.add_argument("--populate-defaults", action="store_true",
                   help="fill an empty or missing --base-directory with the example image and stand-in models")
    p.add_argument("--no-control-api", action="store_true",
                   help="no control plane over HTTP (/_fakecomfy/: reset, faults, pause, journal)")
    p.add_argument("--quiet", action="store_true", help="no request log")


def _fleet_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fleet", help="run several fakes on consecutive ports, each with its own device profile",
                       epilog="Any other serve flag (--device-time-scale, --node-time, --no-control-api, ...) is "
                              "given to every instance.")
    p.add_argument("--instance", action="append", required=True, metavar="PROFILE[xN][:FAULTS]",
                   help="N fakes (default 1) of a device profile (none: no simulated device), optionally with a "
                        "fault profile: rtx4090x2, rtx3070-8gb:slow; repeatable")
    p.add_argument("--port", type=int, default=8188,
                   help="the first instance's port, the others' follow (default 8188; 0: any free ones)")
    p.add_argument("--listen", help="address every instance listens on (default 127.0.0.1)")
    p.add_argument("--base-directory", type=Path, metavar="DIR",
                   help="instance n's base directory is DIR/<n>-<name>, filled like --populate-defaults "
                        "(default: temporary ones, removed at the end)")
    p.add_argument("--executor", help="executor name of every instance (default numpy)")
    p.add_argument("--quiet", action="store_true", help="no request logs")


def fleet(args: argparse.Namespace, serve_args: list[str], parser: argparse.ArgumentParser) -> int:
    """``fakecomfy fleet``: check the instances and the flags they share, then run them."""
    from fakecomfy.core.fault_profiles import load_fault_profile
    from fakecomfy.core.gpu_profiles import load as load_device_profile
    from fakecomfy.fleet import Fleet, parse_instance, run_fleet

    try:  # an unknown profile fails here, before any instance starts
        specs = [parse_instance(text) for text in args.instance]
        for name in {spec.device_profile for spec in specs if spec.device_profile}:
            load_device_profile(name)
        for name in {spec.fault_profile for spec in specs if spec.fault_profile}:
            load_fault_profile(name)
    except ValueError as exc:  # ProfileError, FaultProfileError and a malformed spec are ValueErrors
        raise SystemExit(f"fakecomfy fleet: {exc}") from None
    shared = parser.parse_args(["serve", *serve_args])  # an unknown flag fails here, as serve's would
    for flag in ("device_profile", "fault_profile"):
        if getattr(shared, flag) is not None:
            raise SystemExit(f"fakecomfy fleet: --{flag.replace('_', '-')} is per instance: "
                             "--instance PROFILE[xN][:FAULTS]")
    if args.listen:
        serve_args += ["--listen", args.listen]
    if args.executor:
        serve_args += ["--executor", args.executor]
    if args.quiet:
        serve_args.append("--quiet")
    return run_fleet(Fleet(specs, port=args.port, base_directory=args.base_directory, serve_args=serve_args))


def settings_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """Environment first, then flags on top."""
    values: dict[str, object] = {"front_end": True}  # the [ui] extra's frontend, where installed
    values.update(env_defaults(environ))
    for name in ("listen", "port", "base_directory", "input_directory", "output_directory",
                 "temp_directory", "user_directory", "multi_user", "enable_cors_header",
                 "max_upload_size", "disable_metadata", "executor", "cpu", "front_end_root",
                 "device_profile", "device_time_scale", "lowvram", "novram", "highvram", "gpu_only",
                 "reserve_vram", "fault_profile"):
        v = getattr(args, name, None)
        if v is not None:
            values[name] = v
    if args.object_info:
        values["object_info_files"] = list(values.get("object_info_files", [])) + list(args.object_info)  # type: ignore[call-overload]
    if args.node_time:
        times = dict(values.get("node_times", {}))  # type: ignore[call-overload]
        times.update(parse_node_times(args.node_time))
        values["node_times"] = times
    if args.quiet:
        values["log_requests"] = False
    if args.no_control_api:
        values["control_api"] = False
    return Settings(**values)  # type: ignore[arg-type]


def serve(settings: Settings) -> None:
    import gc
    import socket

    import uvicorn

    from fakecomfy.app import create_app
    from fakecomfy.core.catalog import CatalogError
    from fakecomfy.web.protocols import server_config
    from fakecomfy.web.transport import BACKLOG

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    # History keeps up to 10 000 prompts alive, and each full collection walks all of them
    # (~70 ms, several times a minute under load). Cyclic garbage among long-lived objects is
    # rare here, so full collections wait for 100 instead of 10 middle-generation ones; this is
    # our own process, so the setting touches nobody else's (an in-process server leaves it).
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)
    try:
        app = create_app(settings)
    except (CatalogError, ValueError) as exc:  # a bad --object-info file or --executor name
        raise SystemExit(f"fakecomfy: {exc}") from None
    # The catalog and module state are hundreds of thousands of long-lived objects: keep the
    # cyclic GC from re-scanning them during every prompt (our own process only, like above).
    gc.collect()
    gc.freeze()
    model = app.state.model
    sock = socket.socket(socket.AF_INET6 if ":" in settings.listen else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.listen, settings.port))
    except OSError as exc:  # the port is taken, the address is not this machine's
        raise SystemExit(f"fakecomfy: cannot listen on {settings.listen} port {settings.port}: "
                         f"{exc.strerror or exc}") from None
    # Listening before the URL is printed: a script that waits for that line can connect at once
    # (the kernel queues connections until uvicorn's loop accepts them).
    sock.listen(BACKLOG)
    port = sock.getsockname()[1]
    host = f"[{settings.listen}]" if ":" in settings.listen else settings.listen
    shown = "127.0.0.1" if settings.listen in ("0.0.0.0", "::") else host
    log = logging.getLogger("fakecomfy")
    log.info("fakecomfy: base directory %s", model.paths.base)
    log.info("To see the GUI go to: http://%s:%d", shown, port)
    print(f"fakecomfy running at http://{shown}:{port}", flush=True)
    # --quiet: no access log, and none of uvicorn's per-connection lines (WebSocket accepted,
    # connection open/closed); real ComfyUI logs neither.
    config = server_config(app, log_level="info" if settings.log_requests else "warning",
                           access_log=settings.log_requests)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


def capture(url: str, output: Path) -> None:
    """Save a running server's /object_info as JSON."""
    target = url.rstrip("/") + "/object_info"
    try:
        with urllib.request.urlopen(target, timeout=120) as resp:
            data = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"could not read {target}: {exc}") from None
    if not isinstance(data, dict):
        raise SystemExit(f"{target} did not return a JSON object")
    output.write_text(json.dumps(data, indent=1), encoding="utf-8")
    print(f"saved {len(data)} node definitions from {target} to {output}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fakecomfy", description="A fake ComfyUI server for testing clients.")
    sub = parser.add_subparsers(dest="command")
    _serve_parser(sub)
    _fleet_parser(sub)
    cap = sub.add_parser("capture", help="save a server's /object_info to a JSON file")
    cap.add_argument("url", help="base URL of a running ComfyUI (or fakecomfy) server")
    cap.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    con = sub.add_parser("contract", help="check a ComfyUI-compatible server against openapi/ (exit 1 on deviations)")
    con.add_argument("url", help="base URL of the server (a real ComfyUI, a hosted endpoint, or fakecomfy)")
    con.add_argument("--report", type=Path, metavar="FILE",
                     help="also write the report: JSON for .json, Markdown for .md")
    con.add_argument("--max-examples", type=int, default=0, metavar="N",
                     help="schemathesis-generated requests per read-only operation (default 0: none)")
    con.add_argument("--destructive", action="store_true",
                     help="also write settings, create a user, clear queue and history, /interrupt, /free")
    con.add_argument("--timeout", type=float, default=60.0, help="seconds per request and for the prompt (default 60)")
    con.add_argument("--user", metavar="ID", help="comfy-user header (multi-user servers)")
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0].startswith("-"):
        args_list = ["serve", *args_list]  # `python -m fakecomfy --port 8188` works like main.py
    args, extra = parser.parse_known_args(args_list)
    if args.command == "fleet":
        return fleet(args, extra, parser)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "capture":
        capture(args.url, args.output)
        return 0
    if args.command == "contract":
        from fakecomfy.contract.runner import run_contract

        return run_contract(args.url, destructive=args.destructive, max_examples=args.max_examples,
                            timeout=args.timeout, user=args.user, report=args.report)
    settings = settings_from_args(args)
    if settings.base_directory is not None and _populate_wanted(args):
        from fakecomfy.core.defaults import populate_if_empty

        if populate_if_empty(settings.base_directory):
            print(f"fakecomfy: filled {settings.base_directory} with the example image and stand-in models",
                  flush=True)
    serve(settings)
    return 0


def _populate_wanted(args: argparse.Namespace) -> bool:
    """``--populate-defaults`` or FAKECOMFY_POPULATE_DEFAULTS=1 (which the Docker image sets).

    A start-up step rather than a server setting, so it is not part of Settings."""
    return bool(args.populate_defaults) or os.environ.get("FAKECOMFY_POPULATE_DEFAULTS", "").lower() in (
        "1", "true", "yes", "on")


if __name__ == "__main__":
    sys.exit(main())
