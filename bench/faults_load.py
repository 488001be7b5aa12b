#!/usr/bin/env python3
"""Load generator for bench/faults: POSTs generic events ({"keys": [...]}) to a running
`eso-updater serve` from a bounded number of threads and records, for every request, the keys it
named, when it was sent and answered (wall clock, ns), and the HTTP status or the connection
error. One JSON object per line in --out. Credentials come from BASIC_AUTH_USER and
BASIC_AUTH_PASSWORD and are never printed.

Besides the --concurrency threads that send back to back, --slow-senders threads send one event
every --slow-interval seconds on a kept-alive connection, as a webhook forwarder does. A thread
that gets a Retry-After waits that long (capped) before its next event, as a sender
would. The port is re-read from --port-file after every connection error, so the server may be stopped
and started again on another port while the load runs. Stops at --max-requests, after
--max-seconds, or when --stop-file exists, whichever comes first.
"""
import argparse
import base64
import http.client
import json
import os
import random
import ssl
import sys
import threading
import time


def patched_directly(es):
    """Whether serve patches this object itself for its keys: not a ClusterExternalSecret's child
    (the parent is patched), no generatorRef (skipped without --force), and a refresh policy ESO
    honours (others are skipped without --force). A reused cluster may hold such objects."""
    owners = es["metadata"].get("ownerReferences") or []
    if any(o.get("kind") == "ClusterExternalSecret" for o in owners):
        return False
    spec = es.get("spec", {})
    if any("sourceRef" in d for d in (spec.get("data") or []) + (spec.get("dataFrom") or [])):
        return False
    return spec.get("refreshPolicy") != "CreatedOnce" and spec.get("refreshInterval") not in ("0", "0s")


def unique_keys(objects_json):
    """Keys referenced by exactly one ExternalSecret, which serve patches itself, so each event
    maps to one known object."""
    with open(objects_json) as f:
        items = json.load(f)["items"]
    count = {}
    direct = set()
    for es in items:
        spec = es.get("spec", {})
        keys = {d["remoteRef"]["key"] for d in spec.get("data") or [] if "remoteRef" in d}
        keys |= {d["extract"]["key"] for d in spec.get("dataFrom") or [] if "extract" in d}
        for k in keys:
            count[k] = count.get(k, 0) + 1
            if patched_directly(es):
                direct.add(k)
    return sorted(k for k, n in count.items() if n == 1 and k in direct)


def read_port(port_file):
    try:
        with open(port_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class Load:
    def __init__(self, args, keys):
        self.args = args
        self.keys = keys
        credentials = f"{os.environ['BASIC_AUTH_USER']}:{os.environ['BASIC_AUTH_PASSWORD']}"
        self.auth = "Basic " + base64.b64encode(credentials.encode()).decode()
        self.lock = threading.Lock()
        self.issued = 0
        self.deadline = time.monotonic() + args.max_seconds
        self.out = open(args.out, "w", buffering=1)
        self.tls = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None

    def next_id(self):
        with self.lock:
            if self.issued >= self.args.max_requests:
                return None
            self.issued += 1
            return self.issued

    def running(self):
        return time.monotonic() < self.deadline and not os.path.exists(self.args.stop_file)

    def sleep(self, seconds):
        """Sleeps, but wakes within 0.1 s of a stop."""
        until = time.monotonic() + seconds
        while self.running() and time.monotonic() < until:
            time.sleep(min(0.1, max(0.0, until - time.monotonic())))

    def record(self, entry):
        line = json.dumps(entry, separators=(",", ":"))
        with self.lock:
            self.out.write(line + "\n")

    def worker(self, n, pause=0.0):
        rng = random.Random(self.args.seed * 1000 + n)
        conn, port = None, None
        # --rate: this thread's share of the events per second, at even intervals (a late
        # request is sent at once, but no burst makes up for more than one missed slot).
        interval = pause == 0.0 and self.args.rate > 0 and self.args.concurrency / self.args.rate
        slot = time.monotonic() + (interval * n / self.args.concurrency if interval else 0.0)
        while self.running():
            if interval:
                self.sleep(slot - time.monotonic())
                slot = max(slot + interval, time.monotonic() - interval)
            if conn is None:
                port = read_port(self.args.port_file)
                if port is None:
                    time.sleep(0.05)
                    continue
                if self.tls is not None:
                    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=self.args.timeout,
                                                       context=self.tls)
                else:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.args.timeout)
            request_id = self.next_id()
            if request_id is None:
                break
            keys = rng.sample(self.keys, rng.randint(1, self.args.keys_per_event))
            entry = {"id": request_id, "thread": n, "port": port, "keys": keys}
            body = json.dumps({"keys": keys})
            entry["t0"] = time.time_ns()
            retry_after = None
            try:
                conn.request("POST", "/webhook", body, {
                    "Content-Type": "application/json", "Authorization": self.auth})
                response = conn.getresponse()
                payload = response.read()
                entry["t1"] = time.time_ns()
                entry["status"] = response.status
                if response.will_close:
                    conn.close()
                    conn = None
                entry.update(summarise(payload))
                retry_after = response.getheader("Retry-After")
            except (OSError, http.client.HTTPException) as e:
                entry["t1"] = time.time_ns()
                entry["status"] = None
                entry["error"] = type(e).__name__
                conn.close()
                conn = None
                time.sleep(0.1)  # a stopped server refuses at once: do not spin
            self.record(entry)
            if pause:
                self.sleep(pause)
            if retry_after is not None and self.args.honour_retry_after:
                # As a sender does; capped, and the stop conditions are checked right after.
                self.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0,
                               self.args.max_retry_after))
        if conn is not None:
            conn.close()


def summarise(payload):
    """What the response says was patched (namespace/name → annotation value) and failed."""
    try:
        report = json.loads(payload)
    except ValueError:
        return {"body": "unparsable"}
    if "error" in report:
        return {"body": report["error"][:200]}
    patched = {f"{p.get('namespace', '')}/{p['name']}": p["value"] for p in report.get("patched", [])}
    failed = [f"{p.get('namespace', '')}/{p['name']}" for p in report.get("failed", [])]
    return {"patched": patched, "failed": failed}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--objects", required=True, help="kubectl get externalsecrets -A -o json")
    p.add_argument("--port-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--slow-senders", type=int, default=1,
                   help="extra threads that keep their connection and send every --slow-interval")
    p.add_argument("--slow-interval", type=float, default=2.0)
    p.add_argument("--keys-per-event", type=int, default=3)
    p.add_argument("--max-requests", type=int, default=200000)
    p.add_argument("--max-seconds", type=float, default=900)
    p.add_argument("--rate", type=float, default=0,
                   help="events per second over all threads (0: back to back)")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--ca-file", help="serve speaks HTTPS with a certificate of this CA")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--honour-retry-after", type=int, default=1, help="1: wait as a 503 asks")
    p.add_argument("--max-retry-after", type=float, default=2.0)
    args = p.parse_args()
    keys = unique_keys(args.objects)
    if len(keys) < args.keys_per_event:
        sys.exit(f"faults_load: only {len(keys)} keys are referenced by exactly one object")
    load = Load(args, keys)
    threads = [threading.Thread(target=load.worker, args=(n,), daemon=True)
               for n in range(args.concurrency)]
    threads += [threading.Thread(target=load.worker, args=(args.concurrency + n, args.slow_interval),
                                 daemon=True) for n in range(args.slow_senders)]
    for t in threads:
        t.start()
    for t in threads:
        # Bounded: a request ends within --timeout, and the loop ends at the deadline.
        t.join(args.max_seconds + 2 * args.timeout)
    load.out.close()


if __name__ == "__main__":
    main()
