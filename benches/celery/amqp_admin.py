"""Small RabbitMQ helper for the distributed benchmark (py-amqp, installed with Celery).

Usage:
  python amqp_admin.py URL consumers QUEUE   prints the queue's consumer count (-1: no queue)
  python amqp_admin.py URL delete NAME...    deletes queues (missing ones are ignored)
URL: amqp://user:pass@host:port/vhost (vhost percent-encoded, %2f for "/").
"""
import sys
from urllib.parse import unquote, urlparse

import amqp


def connect(url):
    u = urlparse(url)
    vhost = unquote(u.path[1:]) if len(u.path) > 1 else "/"
    c = amqp.Connection(
        host=f"{u.hostname}:{u.port or 5672}",
        userid=unquote(u.username or "guest"),
        password=unquote(u.password or "guest"),
        virtual_host=vhost,
    )
    c.connect()
    return c


def main():
    url, cmd, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    conn = connect(url)
    try:
        if cmd == "consumers":
            ch = conn.channel()
            try:
                _, _, consumers = ch.queue_declare(names[0], passive=True)
                print(consumers)
            except amqp.exceptions.NotFound:
                print(-1)
        elif cmd == "delete":
            for name in names:
                ch = conn.channel()
                try:
                    ch.queue_delete(name)
                    ch.close()
                except amqp.exceptions.NotFound:
                    pass
        else:
            sys.exit(f"unknown command {cmd}")
    finally:
        conn.close()


main()
