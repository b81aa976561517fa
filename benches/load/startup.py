"""Start-up to the first 200, for scripts/bench.

Starts `milepost serve` as a second replica on the demo's running (warm) Postgres, with the
demo's secrets and its simulator as Strava, and times from the exec to the first 200 of
/strava/stats/ytd (polled every millisecond). It then reads the new replica's own
milepost_strava_requests_total (its calls to Strava) and stops it with SIGTERM. Repeats
RUNS times and prints one line per run and the median:

  startup.py MILEPOST_BIN DATABASE_URL SECRETS_ENV STRAVA_BASE_URL WORK_DIR RUNS
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def secrets(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                out[key] = value
    return out


def status(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return None, b""


def strava_calls(metrics_text):
    total = 0
    for line in metrics_text.decode().splitlines():
        if line.startswith("milepost_strava_requests_total"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def one_run(binary, env, work, log):
    port = free_port()
    env = dict(env, PORT=str(port))
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = subprocess.Popen([binary, "serve"], env=env, cwd=work, stdout=log, stderr=log)
    try:
        while True:
            code, _ = status(url + "/strava/stats/ytd")
            if code == 200:
                took_ms = (time.monotonic() - started) * 1000
                break
            if proc.poll() is not None:
                raise SystemExit(f"milepost serve exited ({proc.returncode}) before a 200")
            if time.monotonic() - started > 30:
                raise SystemExit("no 200 within 30 s")
            time.sleep(0.001)
        _, metrics = status(url + "/metrics")
        return took_ms, strava_calls(metrics)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    binary, database_url, secrets_env, strava, work, runs = sys.argv[1:]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": database_url,
        "BIND_ADDR": "127.0.0.1",
        "STRAVA_API_BASE_URL": f"{strava}/api/v3",
        "STRAVA_OAUTH_BASE_URL": f"{strava}/oauth",
        "SHUTDOWN_DRAIN_SECS": "0",
        **secrets(secrets_env),
    }
    times = []
    with open(os.path.join(work, "startup.log"), "ab") as log:
        for i in range(int(runs)):
            took_ms, calls = one_run(binary, env, work, log)
            times.append(took_ms)
            print(f"  run {i + 1}: first 200 after {took_ms:.0f} ms, {calls} Strava calls")
    print(f"  median: {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
