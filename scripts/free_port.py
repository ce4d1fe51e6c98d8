#!/usr/bin/env python3
"""A TCP port free on 127.0.0.1 now: a random one below Linux's ephemeral range
(32768-60999), as tests/fixtures/subprocess.cc's PickFreePort. The kernel's own
pick (bind to port 0) can hand a just-closed port out again, so two calls in a
row (a controller's gRPC and HTTP ports, bench/scaleout's workers) could get the
same port. scripts/lib.sh's free_port runs this file; bench/bench_lib.py imports
it."""
import random
import socket


def free_port():
    for port in random.sample(range(20000, 32000), 12000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise RuntimeError("no free port in 20000-31999")


if __name__ == "__main__":
    print(free_port())
