"""bench/site: site.yml on a fresh lab of 1, 2 and 3 clusters: first run, no-op run, time per step.

Baseline (same run): the 1-cluster lab. Goals: the no-op run reports changed=0 and takes under
45 s for 3 clusters; clusters are worked on in parallel, so 3 clusters take well under 3x one.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

from .common import REPO, STATE, lab, save

SIZES = (1, 2, 3)
ROLE_LINE = re.compile(r"^(\S+) -+ (\d+\.\d+)s$", re.M)
CHANGED = re.compile(r"changed=(\d+)")


def site(*extra: str) -> tuple[float, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_roles")
    started = time.monotonic()
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(STATE / "inventory"),
                           str(REPO / "playbooks" / "site.yml"), *extra], env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"site.yml failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def per_role(output: str) -> dict[str, float]:
    times: dict[str, float] = {}
    for role, seconds in ROLE_LINE.findall(output.split("ROLES RECAP", 1)[-1]):
        times[role.rsplit(".", 1)[-1]] = times.get(role.rsplit(".", 1)[-1], 0) + float(seconds)
    return times


def measure(clusters: int) -> dict:
    lab("down", check=False)
    lab("up", "--clusters", str(clusters))
    try:
        first, _ = site()
        second, output = site()
    finally:
        lab("down", check=False)
    return {"clusters": clusters, "first_run_s": round(first, 1), "noop_run_s": round(second, 1),
            "noop_changed": sum(map(int, CHANGED.findall(output.split("PLAY RECAP")[-1]))),
            "noop_seconds_per_role": per_role(output)}


def main() -> None:
    lab("build")
    rows = [measure(n) for n in SIZES]
    one = rows[0]
    print(f"{'clusters':>8} {'first run (s)':>14} {'x 1 cluster':>12} {'no-op (s)':>10} {'x 1 cluster':>12} "
          f"{'no-op changed':>14}")
    for row in rows:
        row["first_vs_1"] = round(row["first_run_s"] / one["first_run_s"], 2)
        row["noop_vs_1"] = round(row["noop_run_s"] / one["noop_run_s"], 2)
        print(f"{row['clusters']:>8} {row['first_run_s']:>14} {row['first_vs_1']:>11}x {row['noop_run_s']:>10} "
              f"{row['noop_vs_1']:>11}x {row['noop_changed']:>14}")
    print("no-op seconds per step (3 clusters):",
          ", ".join(f"{k} {v:.1f}" for k, v in rows[-1]["noop_seconds_per_role"].items()))
    three = rows[-1]
    print(f"goal: no-op changed=0 and < 45 s for 3 clusters -> changed={three['noop_changed']}, "
          f"{three['noop_run_s']} s ({'meets' if three['noop_changed'] == 0 and three['noop_run_s'] < 45 else 'MISSES'})")
    save("site", {"baseline": "1-cluster lab", "rows": rows})


if __name__ == "__main__":
    main()
