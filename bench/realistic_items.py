#!/usr/bin/python3
"""Realistic error-tracker items for bench/ingest: "key<TAB>json" lines.

Each item is a nested JSON event of the kind an error tracker ingests: an
exception with a stack of frames, a title with non-ASCII text, tags, a request
with headers, and strings holding quotes, backslashes and tabs (escaped in the
JSON, so a line never holds a raw tab besides the separator). About 0.2% of the
items carry a body of 8-12 KB. The average line is ~600 bytes. Deterministic for
a given seed, so every round and every bench run loads the same rows.

Usage: bench/realistic_items.py COUNT [--seed N]
"""
import json
import random
import sys

TITLES = [
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "KeyError: 'user_id'",
    "Ошибка соединения с базой данных",
    "接続がタイムアウトしました",
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "NullPointerException in OrderService.submit",
    "Échec de l'authentification: jeton expiré",
    "panic: runtime error: index out of range [3] with length 3",
    "ZeroDivisionError: division by zero 🙈",
]
FILES = ["app/models/order.py", "src/components/Cart.tsx", "lib/payments/stripe.rb",
         "internal/http/handler.go", "C:\\Users\\build\\src\\Main.cs", "vendor/db/pool.js"]
FUNCS = ["submit", "render", "handle_request", "charge", "<lambda>", "connect", "parse_row"]
LEVELS = ["error", "warning", "fatal", "info"]
BROWSERS = ["Chrome 131", "Firefox 133", "Safari 18.1", "Edge 131"]


def frame(rng):
    f = {
        "filename": rng.choice(FILES),
        "function": rng.choice(FUNCS),
        "lineno": rng.randint(1, 4000),
        "in_app": rng.random() < 0.6,
    }
    if rng.random() < 0.4:
        f["context_line"] = rng.choice([
            "    return self._orders[\"id\"]",
            "\tif (user == null) throw new Error('no user');",
            "path = \"C:\\\\tmp\\\\upload\"",
            "  total = sum(x.price for x in items) / len(items)",
        ])
    return f


def item(i, rng):
    project = rng.randint(1, 500)
    event = {
        "event_id": f"{rng.getrandbits(128):032x}",
        "project_id": project,
        "timestamp": 1764000000.0 + i / 1000,
        "level": rng.choice(LEVELS),
        "platform": rng.choice(["python", "javascript", "go", "ruby", "csharp"]),
        "title": rng.choice(TITLES),
        "exception": {"values": [{
            "type": rng.choice(["TypeError", "KeyError", "ValueError", "RuntimeError"]),
            "value": rng.choice(TITLES),
            "stacktrace": {"frames": [frame(rng) for _ in range(rng.randint(1, 2))]},
        }]},
        "tags": {"browser": rng.choice(BROWSERS), "release": f"web@{rng.randint(1, 40)}.{rng.randint(0, 9)}",
                 "environment": rng.choice(["production", "staging"])},
        "user": {"id": str(rng.randint(1, 10**6))},
    }
    if rng.random() < 0.002:
        size = rng.randint(8 * 1024, 12 * 1024)
        event["request"] = {"body": "".join(rng.choice("abcdefghij \"\\\t\n") for _ in range(size))}
    return project, event


def main():
    count = int(sys.argv[1])
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    rng = random.Random(seed)
    out = sys.stdout
    for i in range(count):
        project, event = item(i, rng)
        out.write(f"project-{project}\t{json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n")


if __name__ == "__main__":
    main()
