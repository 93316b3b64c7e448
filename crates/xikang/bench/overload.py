#!/usr/bin/env python3
"""Overload bars of issue 14 (Trust), measured with an external generator (wrk).

Starts `xikang serve` on a generated city, then:
  1. 40 stalled `POST /web/login` bodies (and 140 stalled `POST /api/v1/scans`): do login,
     the API, scans, codes and the probes still answer?
  2. single scans from 64 and from 2,000 connections (wrk + scans.lua): accepted scans/s;
  3. a 2,000-connection flood of made-up tokens (wrk + bogus.lua) while one real device
     scans over one connection (wrk + scans.lua): the device's success rate.

Usage (release build, wrk installed, run from the repository root):
    python3 crates/xikang/bench/overload.py --exe $CARGO_TARGET_DIR/release/xikang \\
        --data /tmp/xk-overload [--people 100000] [--duration 10]
Standard library only. Raises its own open-file limit (and its children's) to 65,536 or
the hard limit, whichever is lower (2,000 connections need about 2,100 on each side).
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def call(base, method, path, token=None, body=None):
    """One request: (status, body bytes, seconds)."""
    req = urllib.request.Request(base + path, method=method, data=body)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), time.perf_counter() - start
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.perf_counter() - start


def stall(port, n, path, token=None):
    """n sockets announcing 1,000 body bytes, sending a few, then silent."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{\"sc").encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(head)
        socks.append(s)
    time.sleep(0.5)  # let the server read the heads (the bar holds for any wait)
    return socks


def probe(base, label, method, path, token=None, body=None, times=20):
    statuses, worst = {}, 0.0
    for _ in range(times):
        s, _, secs = call(base, method, path, token, body)
        statuses[s] = statuses.get(s, 0) + 1
        worst = max(worst, secs)
    print(f"  {label:<34} statuses {statuses}  slowest {worst * 1000:.1f} ms")
    return statuses


def wrk(base, conns, secs, script, env, threads=2):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--timeout", "5s",
           "-s", str(HERE / script), base]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    return out.stdout


def last_line(text, prefix):
    return next((l for l in text.splitlines() if l.startswith(prefix)), "(no summary)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--port", type=int, default=8091)
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    data = Path(args.data)
    if not (data.exists() and any(data.iterdir())):
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run([args.exe, "gen", "--data", str(data), "--people", str(args.people),
                        "--days", "2"], check=True)
    admin = "xk_overload_admin_" + os.urandom(12).hex()
    base = f"http://127.0.0.1:{args.port}"
    # One device token stands for the city's devices: per-token limit lifted, as in `xikang bench`.
    server = subprocess.Popen(
        [args.exe, "serve", "--data", str(data), "--listen", f"127.0.0.1:{args.port}",
         "--admin-token", admin, "--token-rate", "0"],
        env={**os.environ, "XIKANG_LOG": os.environ.get("XIKANG_LOG", "warn")},
        stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        run(base, args, admin)
    finally:
        server.terminate()
        server.wait()


def run(base, args, admin):
    port = args.port
    _, body, _ = call(base, "POST", "/api/v1/tokens", admin, json.dumps(
        {"name": "overload-device", "role": "venue_device", "area": "320200"}).encode())
    device = json.loads(body)["token"]
    _, body, _ = call(base, "POST", "/api/v1/tokens", admin, json.dumps(
        {"name": "real-device", "role": "venue_device", "area": "320200"}).encode())
    real = json.loads(body)["token"]
    places = []
    _, body, _ = call(base, "GET", "/api/v1/venues?limit=500", admin)
    for v in json.loads(body)["items"]:
        if v["category"] not in ("train_station", "airport", "coach_station"):
            places.append(v["place_code"])
    codes = []
    for i in range(0, min(args.people, 4000)):
        s, body, _ = call(base, "GET", f"/api/v1/people/P{i}/code", admin)
        if s == 200:
            codes.append(json.loads(body)["token"])
    scans = Path(args.data) / "scans.txt"
    with open(scans, "w") as f:
        for k in range(4096):
            f.write(json.dumps({"place_code": places[k % len(places)],
                                "token": codes[(k * 31) % len(codes)]}) + "\n")
    one_scan = json.dumps({"place_code": places[0], "token": codes[0]}).encode()
    print(f"xikang overload — {args.people} people, {args.duration} s per wrk phase, "
          f"{os.cpu_count()} CPUs")

    print("1a. 40 stalled POST /web/login bodies (Content-Length 1000, 4 bytes sent):")
    socks = stall(port, 40, "/web/login")
    probe(base, "GET /web/login", "GET", "/web/login")
    probe(base, "GET /api/v1/people (admin)", "GET", "/api/v1/people?area=320200&limit=5", admin)
    for s in socks:
        s.close()
    print("1b. 140 stalled POST /api/v1/scans bodies:")
    socks = stall(port, 140, "/api/v1/scans", device)
    probe(base, "POST /api/v1/scans (device)", "POST", "/api/v1/scans", device, one_scan)
    probe(base, "GET /api/v1/people/P7/code (admin)", "GET", "/api/v1/people/P7/code", admin)
    probe(base, "GET /healthz", "GET", "/healthz")
    probe(base, "GET /readyz", "GET", "/readyz")
    for s in socks:
        s.close()

    env = {"SCANS": str(scans), "TOKEN": device}
    print("2. single scans, wrk -t2, same run:")
    for conns in (64, 2000):
        out = wrk(base, conns, args.duration, "scans.lua", env)
        print(f"  {conns:>5} connections: {last_line(out, 'accepted')}")
        lat = last_line(out, "    Latency")
        print(f"        {lat.strip()}")

    print("3. 2,000-connection flood of made-up tokens; one real device, one connection:")
    # The device is in service before the flood: its token is known to the server.
    assert call(base, "POST", "/api/v1/scans", real, one_scan)[0] == 200
    flood = subprocess.Popen(
        ["wrk", "-t2", "-c2000", f"-d{args.duration + 4}s", "--timeout", "5s",
         "-s", str(HERE / "bogus.lua"), base],
        stdout=subprocess.PIPE, text=True)
    time.sleep(2)
    out = wrk(base, 1, args.duration, "scans.lua", {"SCANS": str(scans), "TOKEN": real}, 1)
    flood_out, _ = flood.communicate()
    print(f"  real device: {last_line(out, 'accepted')}")
    print(f"        {last_line(out, '    Latency').strip()}")
    print(f"  flood: {last_line(flood_out, 'bogus answers')}; "
          f"{last_line(flood_out, 'Requests/sec').strip()}")


if __name__ == "__main__":
    sys.exit(main())
