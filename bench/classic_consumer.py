#!/usr/bin/env python3
"""The classic design Sluice replaces, as teams write it: a Python consumer
(confluent-kafka) that turns each consumed batch into one batch INSERT with
psycopg2's execute_values, commits the transaction, then commits the Kafka offsets
(at-least-once: a crash between the two commits writes the batch twice).

Consumes `--messages` messages of `--topic` with a new consumer group from the
earliest offset into `--table` (Sluice's row columns), and prints the seconds
from the first message consumed to the last commit, and its CPU seconds:
    classic <seconds> <cpu seconds>
"""
import argparse
import datetime
import sys
import time

import psycopg2
import psycopg2.extras
from confluent_kafka import Consumer

COLUMNS = "topic, kafka_partition, kafka_offset, kafka_key, kafka_timestamp, payload"
UTC = datetime.timezone.utc


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--dsn", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--batch", type=int, default=10000, help="messages per consume() and INSERT")
    p.add_argument("--payload-format", choices=["json", "text", "bytes"], default="json")
    p.add_argument("--page-size", type=int, default=1000,
                   help="rows per INSERT statement inside execute_values (its default is 100)")
    a = p.parse_args()

    consumer = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.subscribe([a.topic])
    db = psycopg2.connect(a.dsn)
    sql = f"INSERT INTO {a.table} ({COLUMNS}) VALUES %s"

    def payload(value):
        if value is None:
            return None
        if a.payload_format == "bytes":
            return psycopg2.Binary(value)
        return value.decode("utf-8")

    written = 0
    first = None
    cpu0 = time.process_time()
    deadline = time.monotonic() + 600
    while written < a.messages:
        if time.monotonic() > deadline:
            sys.exit(f"classic consumer: only {written} of {a.messages} messages in 600 s")
        batch = consumer.consume(num_messages=a.batch, timeout=0.15)
        rows = []
        for m in batch:
            if m.error() is not None:
                continue
            ts_type, ts = m.timestamp()
            rows.append((m.topic(), m.partition(), m.offset(),
                         None if m.key() is None else psycopg2.Binary(m.key()),
                         datetime.datetime.fromtimestamp(ts / 1000, UTC) if ts_type else None,
                         payload(m.value())))
        if not rows:
            continue
        if first is None:
            first = time.perf_counter()
        with db.cursor() as cur:
            psycopg2.extras.execute_values(cur, sql, rows, page_size=a.page_size)
        db.commit()
        consumer.commit(asynchronous=False)
        written += len(rows)
    elapsed = time.perf_counter() - first
    print(f"classic {elapsed:.4f} {time.process_time() - cpu0:.4f}")
    consumer.close()
    db.close()


if __name__ == "__main__":
    main()
