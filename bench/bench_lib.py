"""Helpers the bench/ harnesses share: psql, free ports, /metrics and CPU time.

Each harness is a bash script that starts PostgreSQL (scripts/lib.sh) and exports
SLUICE_PG_PORT (and SLUICE_PG_DIR for postgres_cpu) before its Python part
imports this module.
"""
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from free_port import free_port  # noqa: E402,F401  (re-exported for the benches)

_TICK = os.sysconf("SC_CLK_TCK")


def psql(db, *statements):
    """Runs each statement with `psql -c` in database `db`; returns the unaligned output."""
    args = [arg for statement in statements for arg in ("-c", statement)]
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                           "-p", os.environ["SLUICE_PG_PORT"], "-U", "postgres", "-d", db, *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def fresh_database(db):
    """Drops `db` if it exists and creates it empty."""
    psql("postgres", f"DROP DATABASE IF EXISTS {db}", f"CREATE DATABASE {db}")




def get(url):
    """(HTTP status, body), or (None, "") when nothing answers within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status, r.read().decode()
    except Exception:
        return None, ""


def metric(mport, name):
    """The first sample of metric `name` with labels on the worker's /metrics; 0 when absent or unreachable."""
    _, body = get(f"http://127.0.0.1:{mport}/metrics")
    for line in body.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def ready(mport):
    status, _ = get(f"http://127.0.0.1:{mport}/ready")
    return status == 200


def cpu_of(pid, children=False):
    """CPU seconds of `pid` (user + system), with its reaped children's if asked."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def postgres_cpu():
    """CPU seconds of the whole server: postmaster, exited backends, live ones."""
    with open(os.path.join(os.environ["SLUICE_PG_DIR"], "data", "postmaster.pid")) as f:
        postmaster = int(f.readline())
    total = cpu_of(postmaster, children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if ppid == postmaster:
            total += cpu_of(int(entry))
    return total
