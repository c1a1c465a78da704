"""No-op Celery tasks for the side-by-side queue benchmark.

Each task does nothing but count itself done, which is how the driver knows when all tasks ran
with the result backend off. The counter is Redis (INCR) by default, or, when CELERY_COUNTER is
`file:PATH`, one byte appended to PATH (O_APPEND: atomic across prefork children, a syscall per
task, no extra service on the path). Broker, queue, prefetch and acks-late come from the
environment (see benches/src/main.rs and benches/src/distributed.rs).
"""
import os

from celery import Celery

broker = os.environ.get("CELERY_BROKER", "redis://127.0.0.1:6379/15")
app = Celery("argus_bench", broker=broker)
app.conf.update(
    task_ignore_result=True,
    result_backend=None,
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=int(os.environ.get("CELERY_PREFETCH", "4")),
    task_acks_late=os.environ.get("CELERY_ACKS_LATE", "0") == "1",
    broker_connection_retry_on_startup=True,
    task_default_queue=os.environ.get("CELERY_QUEUE", "celery"),
)

COUNTER = os.environ.get("CELERY_COUNTER", "redis://127.0.0.1:6379/14")
_counter = None


def counter():
    global _counter
    if _counter is None:
        if COUNTER.startswith("file:"):
            fd = os.open(COUNTER[len("file:"):], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _counter = lambda: os.write(fd, b"1")  # noqa: E731
        else:
            import redis

            r = redis.Redis.from_url(COUNTER)
            _counter = lambda: r.incr("argus_bench_done")  # noqa: E731
    return _counter


@app.task(name="noop")
def noop(i):
    counter()()
