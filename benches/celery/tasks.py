"""No-op Celery tasks for the side-by-side queue benchmark.

Each task does nothing but count itself done in Redis (INCR), which is how the driver knows
when all tasks ran with the result backend off. Broker: the local Redis (or RabbitMQ, later).
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
)

_counter = None


def counter():
    global _counter
    if _counter is None:
        import redis

        _counter = redis.Redis.from_url(os.environ.get("CELERY_COUNTER", "redis://127.0.0.1:6379/14"))
    return _counter


@app.task(name="noop")
def noop(i):
    counter().incr("argus_bench_done")
