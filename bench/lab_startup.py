"""bench/lab_startup: how long `lab up` takes with cached binaries, and the lab's peak memory.

Baseline (same run): a 1-cluster lab. The ratio shows how well clusters start in parallel;
the goal is under 60 s for 3 clusters.
"""

from __future__ import annotations

import time

from .common import PeakSampler, lab, meets, ratio, save

SIZES = (1, 2, 3)


def measure(clusters: int) -> dict:
    lab("down", check=False)
    started = time.monotonic()
    with PeakSampler() as sampler:
        lab("up", "--clusters", str(clusters))
        elapsed = time.monotonic() - started
        time.sleep(5)  # the lab settled: controllers and DNS servers running
    lab("down")
    return {"clusters": clusters, "up_seconds": round(elapsed, 1), "peak_memory_mib": round(sampler.peak)}


def main() -> None:
    lab("build")  # binaries cached before anything is timed
    rows = [measure(n) for n in SIZES]
    base = rows[0]["up_seconds"]
    print(f"{'clusters':>8} {'lab up (s)':>11} {'vs 1 cluster':>13} {'peak memory (MiB)':>18}")
    for row in rows:
        row["ratio_vs_1_cluster"] = ratio(row["up_seconds"], base)
        print(f"{row['clusters']:>8} {row['up_seconds']:>11} {row['ratio_vs_1_cluster']:>12}x "
              f"{row['peak_memory_mib']:>18}")
    three = next(r for r in rows if r["clusters"] == 3)
    print(f"goal: 3 clusters under 60 s -> {three['up_seconds']} s ({meets(three['up_seconds'] < 60)})")
    save("lab_startup", {"baseline": "1-cluster lab up", "rows": rows})


if __name__ == "__main__":
    main()
