#!/usr/bin/env python3
"""A/B benchmark of the bar's heaviest read: POST /api/v1/tracked-emails/state with 500
messages x 20 ids (the request's limits), against two release binaries of the server (for
example before and after a change), alternating requests between them in one run; each
server is seeded with the same 2,000 tracked emails on SQLite. Prints medians and the ratio.

    crates/server/bench/tracked-state-ab.py BEFORE_BIN AFTER_BIN [ROUNDS]

Figures: BENCHMARKS.md ("Tracked state").
"""
import json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request, statistics

def start(binary, extra):
    d = tempfile.mkdtemp(prefix="state-bench-")
    p = subprocess.Popen([binary, "serve", "--data-dir", d, "--listen", "127.0.0.1:0"] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    token = url = None
    while url is None:
        line = p.stdout.readline()
        if not line: raise SystemExit("server died")
        m = re.search(r"THREADLINE_TOKEN=(\S+)", line)
        if m: token = m.group(1)
        m = re.search(r"listening on (http://\S+)", line)
        if m: url = m.group(1)
    return p, url, token, d

def lifted(binary):
    """The flags that lift the per-token rate limit, if the binary has one: the seeding
    would otherwise measure the limiter."""
    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
    if "--rate-limit-per-second" in help_text:
        return ["--rate-limit-per-second", "1000000", "--rate-limit-burst", "1000000"]
    return []

def call(url, token, path, body=None, method=None):
    req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                 method=method or ("POST" if body is not None else "GET"),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")

def seed(url, token):
    c = call(url, token, "/api/v1/contacts", {"first_name": "Bob", "emails": [{"address": "bob@acme.com"}]})
    for i in range(2000):
        call(url, token, "/api/v1/tracked-emails", {
            "gmail_message_id": "%016x" % (0xabc0000000000000 + i),
            "alt_message_ids": ["<m%d@example.test>" % i],
            "direction": "incoming", "subject": "Email %d" % i,
            "contact_ids": [c["id"]]})

def state_body():
    msgs = []
    for m in range(500):
        ids = ["%016x" % (0xabc0000000000000 + m * 4 + k) for k in range(10)]
        ids += ["<m%d@example.test>" % (m * 4 + k) for k in range(10)]
        msgs.append({"ids": ids})
    return {"messages": msgs}

def main():
    a, b = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    servers = [start(a, lifted(a)), start(b, lifted(b))]
    for _, url, token, _ in servers: seed(url, token)
    body = state_body()
    times = [[], []]
    for _ in range(2):  # warm-up
        for s in servers: call(s[1], s[2], "/api/v1/tracked-emails/state", body)
    for r in range(rounds):
        for i, s in enumerate(servers):
            t = time.perf_counter()
            out = call(s[1], s[2], "/api/v1/tracked-emails/state", body)
            times[i].append(time.perf_counter() - t)
            assert sum(1 for m in out["messages"] if m.get("tracked_email")) == 500
    for p, _, _, d in servers:
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
    ma, mb = statistics.median(times[0]), statistics.median(times[1])
    print(f"A (before): median {ma*1000:.0f} ms (min {min(times[0])*1000:.0f}, max {max(times[0])*1000:.0f})")
    print(f"B (after):  median {mb*1000:.0f} ms (min {min(times[1])*1000:.0f}, max {max(times[1])*1000:.0f})")
    print(f"ratio B/A: {mb/ma:.2f}; load: {os.getloadavg()}")

main()
