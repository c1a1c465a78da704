#!/usr/bin/env python3
"""The peer of `argus-bench sinks`: a minimal forwarder doing what Argus's sinks do with the
same batching, over events already in a file (one JSON object per line), so it measures
encoding and delivery only.

    forwarder.py hec HOST:PORT FILE      # Splunk HEC, 100 events per request, kept-alive
    forwarder.py syslog HOST:PORT FILE   # syslog over TCP, RFC 5424 + RFC 6587 octet counting,
                                         # one socket write per 500 messages

Token for HEC from $HEC_TOKEN. Exits non-zero when the receiver refuses anything.
"""
import datetime
import http.client
import json
import os
import socket
import sys

HEC_BATCH = 100
SYSLOG_BATCH = 500


def events(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)


def hec(addr, path):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))
    headers = {
        "Authorization": "Splunk " + os.environ["HEC_TOKEN"],
        "Content-Type": "application/json",
    }
    batch = []

    def flush():
        if not batch:
            return
        conn.request("POST", "/services/collector/event", body="".join(batch).encode(), headers=headers)
        res = conn.getresponse()
        body = res.read()
        if res.status != 200:
            sys.exit(f"HEC answered {res.status}: {body[:200]!r}")
        batch.clear()

    for e in events(path):
        t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
        batch.append(json.dumps({
            "time": round(t, 3), "host": "bench", "source": "argus",
            "sourcetype": "argus:event", "event": e,
        }, separators=(",", ":")))
        if len(batch) >= HEC_BATCH:
            flush()
    flush()


SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}


def syslog(addr, path):
    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    hostname = socket.gethostname()
    batch = []
    for e in events(path):
        pri = 16 * 8 + SEVERITY.get(e.get("severity", "info"), 6)
        msg = "<%d>1 %s %s argus - %s - %s" % (
            pri, e["time"], hostname, e.get("kind", "-"),
            json.dumps(e, separators=(",", ":")),
        )
        data = msg.encode()
        batch.append(b"%d %s" % (len(data), data))
        if len(batch) >= SYSLOG_BATCH:
            sock.sendall(b"".join(batch))
            batch.clear()
    if batch:
        sock.sendall(b"".join(batch))
    sock.close()


if __name__ == "__main__":
    kind, addr, path = sys.argv[1:4]
    {"hec": hec, "syslog": syslog}[kind](addr, path)
