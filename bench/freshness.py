#!/usr/bin/env python3
"""DESIGN.md §9 freshness, against the real ESO controller (driven by bench/freshness).

Staleness = from the secret server's write until the Kubernetes Secret holds the new value, seen
through a watch (`kubectl get -w`). Three ways to get there:
  floor    the annotation PATCH straight to the API server (ESO's own sync time)
  push     a webhook event to `eso-updater serve`, which patches
  poll     nothing: ESO's own refreshInterval (POLL_INTERVAL, 10s)
and the provider reads each costs, counted from the secret server's requests.log.
"""
import base64
import json
import os
import random
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

KUBECTL = os.environ["KUBECTL"]
NS = os.environ["NS"]
SECRETS_DIR = os.environ["SECRETS_DIR"]
SERVE_URL = os.environ["SERVE_URL"]
AUTH = base64.b64encode(os.environ["SERVE_AUTH"].encode()).decode()
CHANGES = int(os.environ.get("CHANGES", "50"))
POLLERS = int(os.environ.get("POLLERS", "10"))
POLL_INTERVAL = float(os.environ.get("POLL_INTERVAL", "10"))
TIMEOUT = 60.0


def file_name(key):
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    return "".join(c if c in ok else "_" for c in key)


def write_value(key, value):
    path = os.path.join(SECRETS_DIR, "values", file_name(key))
    with open(path + ".tmp", "w") as f:
        f.write(value)
    os.rename(path + ".tmp", path)
    return time.monotonic()


def reads(key):
    name = file_name(key)
    with open(os.path.join(SECRETS_DIR, "requests.log")) as f:
        return sum(1 for line in f if line.split()[1] == name)


class SecretWatch:
    """Follows data.value of one Secret; wait_for(value) returns when it was first seen."""

    def __init__(self, name):
        self.seen = {}
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [KUBECTL, "get", "secrets", "-n", NS, "--field-selector", "metadata.name=" + name,
             "--watch", "-o", 'jsonpath={.data.value}{"\\n"}'],
            stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            value = base64.b64decode(line.strip()).decode() if line.strip() else ""
            with self.cond:
                self.seen.setdefault(value, now)
                self.cond.notify_all()

    def wait_for(self, value, timeout=TIMEOUT):
        with self.cond:
            self.cond.wait_for(lambda: value in self.seen, timeout)
            return self.seen.get(value)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


def post_event(key):
    body = json.dumps({"keys": [key]}).encode()
    req = urllib.request.Request(SERVE_URL + "/webhook/generic", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Basic " + AUTH})
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


class ApiServer:
    """The annotation PATCH straight to the API server (no process start in the measurement)."""

    def __init__(self):
        config = json.loads(subprocess.run([KUBECTL, "config", "view", "--raw", "--minify",
                                            "-o", "json"], check=True, capture_output=True,
                                           text=True).stdout)
        self.dir = tempfile.mkdtemp()
        paths = {}
        for name, data in (("ca", config["clusters"][0]["cluster"]["certificate-authority-data"]),
                           ("cert", config["users"][0]["user"]["client-certificate-data"]),
                           ("key", config["users"][0]["user"]["client-key-data"])):
            paths[name] = os.path.join(self.dir, name)
            with open(paths[name], "wb") as f:
                f.write(base64.b64decode(data))
        self.server = config["clusters"][0]["cluster"]["server"]
        self.context = ssl.create_default_context(cafile=paths["ca"])
        self.context.load_cert_chain(paths["cert"], paths["key"])

    def patch_annotation(self, name, value):
        body = json.dumps({"metadata": {"annotations": {"force-sync": value}}}).encode()
        req = urllib.request.Request(
            f"{self.server}/apis/external-secrets.io/v1/namespaces/{NS}/externalsecrets/{name}",
            data=body, method="PATCH", headers={"Content-Type": "application/merge-patch+json"})
        with urllib.request.urlopen(req, context=self.context, timeout=30) as resp:
            resp.read()

    def close(self):
        shutil.rmtree(self.dir)


def percentile(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def run_sequential(label, name, key, nudge):
    watch = SecretWatch(name)
    samples = []
    try:
        for i in range(CHANGES):
            value = f"{label}-{i}-{random.random()}"
            t0 = write_value(key, value)
            t_nudge = time.monotonic()
            nudge(value)
            seen = watch.wait_for(value)
            if seen is None:
                sys.exit(f"{label}: the Secret never held change {i}")
            samples.append((seen - t0, seen - t_nudge))
    finally:
        watch.close()
    return samples


def run_polling():
    samples = []
    lock = threading.Lock()

    def one(i):
        name, key = f"poll-{i}", f"/fresh/poll-{i}"
        watch = SecretWatch(name)
        rounds = max(1, CHANGES // POLLERS)
        try:
            for r in range(rounds):
                time.sleep(random.uniform(0, POLL_INTERVAL))  # a write at a random phase
                value = f"poll-{i}-{r}"
                t0 = write_value(key, value)
                seen = watch.wait_for(value, TIMEOUT + POLL_INTERVAL)
                if seen is not None:
                    with lock:
                        samples.append(seen - t0)
        finally:
            watch.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(POLLERS)]
    started = time.monotonic()
    before = sum(reads(f"/fresh/poll-{i}") for i in range(POLLERS))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    polled = sum(reads(f"/fresh/poll-{i}") for i in range(POLLERS)) - before
    return samples, polled / POLLERS / elapsed * 3600.0


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def main():
    api = ApiServer()
    floor = run_sequential("floor", "floor", "/fresh/floor",
                           lambda v: api.patch_annotation("floor", v))
    api.close()
    floor_reads = reads("/fresh/floor")
    push_before = reads("/fresh/push")
    push = run_sequential("push", "push", "/fresh/push", lambda v: post_event("/fresh/push"))
    push_reads = reads("/fresh/push") - push_before
    poll, poll_reads_per_hour = run_polling()

    floor_sync = [s[1] for s in floor]
    push_stale = [s[0] for s in push]
    print(f"changes: {CHANGES} (floor, push), {len(poll)} (poll, {POLLERS} objects "
          f"at refreshInterval {POLL_INTERVAL:g}s)")
    print(f"floor  (PATCH -> Secret written):      p50 {ms(percentile(floor_sync, 50))}, "
          f"p99 {ms(percentile(floor_sync, 99))}")
    print(f"push   (write -> Secret, via serve):   p50 {ms(percentile(push_stale, 50))}, "
          f"p99 {ms(percentile(push_stale, 99))}")
    if poll:
        print(f"poll   (write -> Secret, {POLL_INTERVAL:g}s interval):  "
              f"p50 {ms(percentile(poll, 50))}, p99 {ms(percentile(poll, 99))}")
    # A 1m interval polls 6x less often than 10s; its staleness is that interval's phase:
    # on average half of it, at worst all of it, plus one sync.
    sync = percentile(floor_sync, 50)
    print(f"poll   at 1m (computed):               p50 {ms(30 + sync)}, p99 {ms(59.4 + sync)}")
    target = percentile(floor_sync, 99) + 0.1
    verdict = "meets" if percentile(push_stale, 99) <= target else "MISSES"
    print(f"push p99 {verdict} the target floor p99 + 100 ms = {ms(target)}")
    print(f"provider reads per change: push {push_reads / CHANGES:.2f}, floor "
          f"{floor_reads / max(1, CHANGES):.2f} (incl. the first sync)")
    print(f"provider reads measured per object-hour at {POLL_INTERVAL:g}s: "
          f"{poll_reads_per_hour:.0f} (ideal {3600 / POLL_INTERVAL:.0f})")
    per_hour_1m = 1000 * 60.0
    per_change = push_reads / CHANGES
    for label, changes_per_hour in (("1 change/day", 1 / 24.0), ("1 change/h", 1.0)):
        per_hour_push = 1000 / 24.0 + 1000 * per_change * changes_per_hour
        print(f"1,000 ExternalSecrets, {label} each: polling at 1m = {per_hour_1m:,.0f} reads/h; "
              f"push with a 24h safety interval = {per_hour_push:,.0f} reads/h: "
              f"{per_hour_1m / per_hour_push:.0f}x fewer")

if __name__ == "__main__":
    main()
