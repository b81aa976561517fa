"""Tables of a scripts/bench run: one per connection count, the median of the rounds.

Reads the run's results.tsv (conns, route, server, round, requests, duration_us, p50_us,
p99_us, rss_kb, errors) and prints route | server | req/s | p50 | p99 | RSS | vs nginx.
"""

import csv
import statistics
import sys
from collections import defaultdict

SERVERS = ["milepost", "nginx", "actix-static"]


def main(path, routes):
    runs = defaultdict(list)
    conns_seen = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            c = int(row["conns"])
            if c not in conns_seen:
                conns_seen.append(c)
            runs[(c, row["route"], row["server"])].append(row)

    def med(rows, key):
        return statistics.median(float(r[key]) for r in rows)

    def rps(rows):
        return statistics.median(
            int(r["requests"]) / (int(r["duration_us"]) / 1e6) for r in rows
        )

    for c in conns_seen:
        print(f"\n{c} connection{'s' if c != 1 else ''} (median of rounds)")
        header = f"{'route':<22} {'server':<13} {'req/s':>9} {'p50':>9} {'p99':>9} {'RSS':>8} {'vs nginx':>9} {'errors':>6}"
        print(header)
        print("-" * len(header))
        for route in routes:
            nginx = runs.get((c, route, "nginx"))
            base = rps(nginx) if nginx else None
            for server in SERVERS:
                rows = runs.get((c, route, server))
                if not rows:
                    continue
                r = rps(rows)
                ratio = f"{r / base:.2f}" if base else "-"
                rss = max(int(x["rss_kb"]) for x in rows) / 1024
                errors = sum(int(x["errors"]) for x in rows)
                print(
                    f"{route:<22} {server:<13} {r:>9.0f} {ms(med(rows, 'p50_us')):>9} "
                    f"{ms(med(rows, 'p99_us')):>9} {rss:>6.1f}MB {ratio:>9} {errors:>6}"
                )
    print(
        "\nreq/s, p50, p99: median over the rounds; RSS: largest VmRSS sampled mid-run "
        "(milepost: the `milepost serve` under test; nginx: master + workers); "
        "vs nginx: req/s over nginx's req/s on the same route and connections; "
        "errors: wrk's socket errors + non-2xx/3xx answers, all rounds."
    )


def ms(us):
    return f"{us / 1000:.2f}ms"


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
