#!/usr/bin/env python3
"""Helpers for tests/bench/e2e/run.sh: free ports, JSON fields, latency matching, the table.

Standard library only (the machine has no jq and no Python MQTT client).
"""
import json
import math
import os
import socket
import sys


def ports(count):
    # Held open together so that they differ; a port can still be taken before a broker binds it.
    socks = [socket.socket() for _ in range(int(count))]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    print(*(s.getsockname()[1] for s in socks))


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def get(path, *keys):
    """Prints each dotted key of a JSON file on one line, space-separated (0 when missing)."""
    doc = load(path)
    out = []
    for key in keys:
        value = doc
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out.append("0" if value is None else str(value).replace(" ", "_"))
    print(*out)


def flatten(path, out_path):
    """Writes `dotted.key<TAB>value` lines of a JSON file to out_path, stamped with the JSON file's
    mtime, so that the shell re-reads it only when the JSON file is newer (`-nt`, no process)."""
    try:
        with open(path) as f:
            mtime_ns = os.fstat(f.fileno()).st_mtime_ns
            doc = json.load(f)
    except (OSError, ValueError):
        return
    lines = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif not isinstance(value, list):
            lines.append(f"{prefix}\t{str(value).replace(' ', '_')}")

    walk("", doc)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.replace(tmp, out_path)


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def latency(local_capture, upstream_capture, skip_s):
    """Matches each reading seen on the local broker with its arrival upstream.

    local_capture: `mosquitto_sub -F '%U %p'` lines of the simulator's JSON payloads;
    upstream_capture: the same for weir's JSON envelopes. Key: (sensor, time_us). Readings whose
    local arrival is within skip_s of the first one are left out (connection warm-up).
    Prints a JSON object with count, matched, unmatched, p50_ms, p99_ms, max_ms.
    """
    skip_s = float(skip_s)
    seen = {}
    first = None
    with open(local_capture, errors="replace") as f:
        for line in f:
            stamp, _, payload = line.partition(" ")
            try:
                t = float(stamp)
                r = json.loads(payload)
                key = (r["sensor"], round(float(r["ts"]) * 1000))
            except (ValueError, KeyError, TypeError):
                continue
            if first is None:
                first = t
            if t - first >= skip_s:
                seen.setdefault(key, t)
    lat = []
    with open(upstream_capture, errors="replace") as f:
        for line in f:
            stamp, _, payload = line.partition(" ")
            try:
                t = float(stamp)
                env = json.loads(payload)
            except ValueError:
                continue
            for r in env.get("readings", []):
                t0 = seen.pop((r.get("sensor"), r.get("time_us")), None)
                if t0 is not None:
                    lat.append((t - t0) * 1000.0)
    lat.sort()
    print(json.dumps({"matched": len(lat), "unmatched": len(seen),
                      "p50_ms": round(quantile(lat, 0.5), 2), "p99_ms": round(quantile(lat, 0.99), 2),
                      "max_ms": round(lat[-1], 2) if lat else None}))


def table(results_path):
    """Prints one markdown table per scenario (the first word of each row's "scenario")."""
    rows = [json.loads(line) for line in open(results_path) if line.strip()]
    if not rows:
        print("(no results)")
        return
    groups = {}
    for row in rows:
        groups.setdefault(row["scenario"].split()[0], []).append(row)
    for group in groups.values():
        columns = []
        for row in group:
            columns += [key for key in row if key not in columns]
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in group:
            print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
        print()


def main():
    command, args = sys.argv[1], sys.argv[2:]
    {"ports": ports, "get": get, "flatten": flatten, "latency": latency, "table": table}[command](*args)


if __name__ == "__main__":
    main()
