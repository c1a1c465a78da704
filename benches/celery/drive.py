"""Drives one Celery run: enqueue N no-op tasks, wait until all ran, print JSON timings.

Usage: python drive.py N   (a worker must already be consuming the queue)
"""
import json
import sys
import time

import redis

from tasks import app, noop

n = int(sys.argv[1])
r = redis.Redis.from_url("redis://127.0.0.1:6379/14")
r.delete("argus_bench_done")
start = time.perf_counter()
with app.producer_or_acquire() as producer:
    for i in range(n):
        noop.apply_async((i,), producer=producer)
enqueued = time.perf_counter()
deadline = start + 3600
while int(r.get("argus_bench_done") or 0) < n:
    if time.perf_counter() > deadline:
        print(json.dumps({"error": "timeout", "done": int(r.get("argus_bench_done") or 0)}))
        sys.exit(1)
    time.sleep(0.05)
end = time.perf_counter()
print(json.dumps({"tasks": n, "enqueue_s": enqueued - start, "total_s": end - start, "tasks_per_s": n / (end - start)}))
