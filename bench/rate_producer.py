#!/usr/bin/env python3
"""Produces the lines of stdin (KEY<TAB>VALUE) to a topic at a fixed rate with
confluent-kafka, linger.ms 5, for freshness measurements: each message's Kafka
timestamp is its produce time. Cycles through the lines until --seconds pass.
Prints "produced N messages in S s"."""
import argparse
import sys
import time

from confluent_kafka import Producer


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--rate", type=float, required=True, help="messages per second")
    p.add_argument("--seconds", type=float, required=True)
    a = p.parse_args()
    lines = [line.rstrip("\n").split("\t", 1) for line in sys.stdin]
    items = [(k.encode(), v.encode()) for k, v in lines]
    producer = Producer({"bootstrap.servers": a.brokers, "linger.ms": 5,
                         "queue.buffering.max.messages": 1000000})
    start = time.perf_counter()
    sent = 0
    while True:
        now = time.perf_counter() - start
        if now >= a.seconds:
            break
        # Catch up to the schedule, in slices of at most 1 ms of messages.
        due = min(int(now * a.rate), sent + max(1, int(a.rate / 1000)))
        while sent < due:
            key, value = items[sent % len(items)]
            while True:
                try:
                    producer.produce(a.topic, value, key)
                    break
                except BufferError:
                    producer.poll(0.001)
            sent += 1
        producer.poll(0)
        time.sleep(0.0005)
    producer.flush(30)
    print(f"produced {sent} messages in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
