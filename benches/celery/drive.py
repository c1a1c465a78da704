"""Drives one Celery run: enqueue N no-op tasks, wait until all ran, print JSON timings.

Usage: python drive.py N   (a worker must already be consuming the queue)
The clock starts before the first publish and stops when the counter (see tasks.py) reaches N.
"""
import json
import os
import sys
import time

from tasks import COUNTER, app, noop

n = int(sys.argv[1])
if COUNTER.startswith("file:"):
    path = COUNTER[len("file:"):]
    open(path, "wb").close()

    def done():
        return os.path.getsize(path)
else:
    import redis

    r = redis.Redis.from_url(COUNTER)
    r.delete("argus_bench_done")

    def done():
        return int(r.get("argus_bench_done") or 0)

start = time.perf_counter()
with app.producer_or_acquire() as producer:
    for i in range(n):
        noop.apply_async((i,), producer=producer)
enqueued = time.perf_counter()
deadline = start + 3600
while done() < n:
    if time.perf_counter() > deadline:
        print(json.dumps({"error": "timeout", "done": done()}))
        sys.exit(1)
    time.sleep(0.02)
end = time.perf_counter()
print(json.dumps({"tasks": n, "enqueue_s": enqueued - start, "total_s": end - start, "tasks_per_s": n / (end - start)}))
