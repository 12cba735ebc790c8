"""python -m lab up|down|status|build|lb|apiserver|demo-app|show|trace|xds|istiod|istioctl|exec"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import build
from .cluster import MAX_CLUSTERS, apiserver, down, enter_lab_network, status, up
from .config import state_dir
from .state import LabError, LabState

# What runs before (or without) the lab's network namespace: `up` enters it itself once it has
# fetched what needs the machine's network; `build` needs that network; `down` only signals processes.
OUTSIDE_THE_LAB_NETWORK = {"up", "build", "down"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the lab clusters")
    p_up.add_argument("--clusters", type=int, default=2, help=f"number of clusters, 1 to {MAX_CLUSTERS} (default 2)")
    p_up.add_argument("--dns", choices=["coredns", "kube-dns"], default="coredns", help="cluster DNS flavour")
    p_up.add_argument("--lb-hostnames", action="store_true", help="load balancers get hostnames (as on AWS)")
    p_up.add_argument("--latency-ms", type=int, default=0, metavar="N",
                      help="a proxy in front of each API server adds N ms round trip to every request of the "
                           "controller (kubeconfig, inventory), as if the clusters were far away (default 0: none)")
    sub.add_parser("down", help="stop every lab process and remove its state")
    p_status = sub.add_parser("status", help="show the clusters and their health")
    p_status.add_argument("--json", action="store_true")
    sub.add_parser("build", help="build (or find) the lab binaries and Istio charts")
    p_lb = sub.add_parser("lb", help="switch one cluster's load balancer off or on (for failure tests)")
    p_lb.add_argument("cluster")
    p_lb.add_argument("switch", choices=["on", "off"])
    p_api = sub.add_parser("apiserver", help="stop or start one cluster's API server (for failure tests)")
    p_api.add_argument("cluster")
    p_api.add_argument("action", choices=["stop", "start"])
    sub.add_parser("demo-app", help="deploy the demo's httpbin in the first cluster, exported to the mesh")
    p_show = sub.add_parser("show", help="show one .global host's ServiceEntry in every cluster")
    p_show.add_argument("host", nargs="?", default="httpbin.bar.global")
    p_trace = sub.add_parser("trace", help="hop 9 of a trace: what the real istiods send the source's sidecars and "
                             "the exporters' gateways for one .global host (hops 1-8: playbooks/trace.yml)")
    p_trace.add_argument("host")
    p_trace.add_argument("--from", dest="source", required=True, help="the cluster the request starts from")
    p_xds = sub.add_parser("xds", help="what a cluster's istiod tells a sidecar (or the east-west gateway), as JSON")
    p_xds.add_argument("cluster")
    p_xds.add_argument("--namespace", default="default", help="namespace of the sidecar (default: default)")
    p_xds.add_argument("--gateway", action="store_true", help="ask as the east-west gateway instead")
    p_debug = sub.add_parser("istiod", help="GET one of a cluster's istiod debug endpoints")
    p_debug.add_argument("cluster")
    p_debug.add_argument("path", nargs="?", default="/debug/registryz")
    p_ctl = sub.add_parser("istioctl", help="run the lab's istioctl against one cluster")
    p_ctl.add_argument("cluster")
    p_ctl.add_argument("args", nargs=argparse.REMAINDER)
    p_exec = sub.add_parser("exec", help="run a command where the lab's clusters can be reached (its network "
                                         "namespace): python -m lab exec -- ansible-playbook ...")
    p_exec.add_argument("command_line", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG ...]")
    sub.add_parser("agent", help="(internal) the background agent `up` starts")
    args = parser.parse_args(argv)
    try:
        if args.command not in OUTSIDE_THE_LAB_NETWORK:
            enter_lab_network()
        if args.command == "up":
            up(args.clusters, args.dns, "hostname" if args.lb_hostnames else "ip", latency_ms=args.latency_ms)
        elif args.command == "down":
            print("lab stopped" if down() else "no lab running")
        elif args.command == "status":
            rows = status()
            if args.json:
                print(json.dumps(rows, indent=2))
            elif not rows:
                print("no lab running")
            for row in rows if not args.json else []:
                procs = " ".join(f"{k}={'up' if v else 'DOWN'}" for k, v in row["processes"].items())
                api = row["api"] + (f" via {row['controller_api']} (+{row['latency_ms']} ms)" if row["latency_ms"] else "")
                print(f"{row['cluster']:<10} {api:<26} {'healthy' if row['healthy'] else 'UNHEALTHY':<10} "
                      f"dns {row['dns']} ({row['dns_flavour']})  {procs}")
            return 0 if rows and all(r["healthy"] for r in rows) else 1
        elif args.command == "build":
            t0 = time.monotonic()
            for name, path in sorted(build.ensure_binaries().items()):
                print(f"{name:<24} {path}")
            print(f"{'istio charts':<24} {build.ensure_istio_charts()}")
            print(f"ready in {time.monotonic() - t0:.0f}s")
        elif args.command == "lb":
            from .agent import lb_disabled_flag
            flag = lb_disabled_flag(args.cluster)
            if args.switch == "off":
                flag.parent.mkdir(parents=True, exist_ok=True)
                flag.touch()
            else:
                flag.unlink(missing_ok=True)
        elif args.command == "apiserver":
            print(apiserver(args.cluster, args.action))
        elif args.command == "demo-app":
            from .demo import deploy_sample
            print(deploy_sample())
        elif args.command == "show":
            from .demo import show_service_entries
            print(show_service_entries(args.host))
        elif args.command == "trace":
            from .trace import render
            print(render(args.host, args.source))
        elif args.command in ("xds", "istiod", "istioctl"):
            from . import istio_tools
            if args.command == "istioctl":
                proc = istio_tools.istioctl(args.cluster, *args.args)
                print(proc.stdout, end="")
                print(proc.stderr, end="", file=sys.stderr)
                return proc.returncode
            answer = (istio_tools.xds(args.cluster, args.namespace, args.gateway) if args.command == "xds"
                      else istio_tools.istiod_debug(args.cluster, args.path))
            print(answer if isinstance(answer, str) else json.dumps(answer, indent=2))
        elif args.command == "exec":
            return run_inside(args.command_line)
        elif args.command == "agent":
            from .agent import run
            run()
    except (LabError, build.BuildError, OSError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    return 0


def run_inside(command_line: list[str]) -> int:
    """Replace this process (already in the lab's network namespace) with the command."""
    command_line = command_line[1:] if command_line[:1] == ["--"] else command_line
    if not command_line:
        raise LabError("exec: no command given: python -m lab exec -- COMMAND [ARG ...]")
    if LabState.load() is None:
        raise LabError(f"no lab running (state in {state_dir()}); start one with `python -m lab up`")
    try:
        os.execvp(command_line[0], command_line)
    except FileNotFoundError:
        raise LabError(f"exec: {command_line[0]}: command not found")


if __name__ == "__main__":
    sys.exit(main())
