#!/usr/bin/env bash
# Issue 13: the bucketing vectors in flagd's form, evaluated by the official flagd
# evaluator (@openfeature/flagd-core, what the JavaScript flagd provider runs
# in-process). Every vector whose salt and key are ASCII must agree with Sluice;
# with non-ASCII text the JavaScript evaluator hashes UTF-16 code units, and
# docs/OPENFEATURE.md says it disagrees: the test checks that it still does, so the
# docs are changed when a new version agrees.
set -euo pipefail
if [ -z "${SLUICE_NODE_MODULES:-}" ] || [ ! -d "$SLUICE_NODE_MODULES/@openfeature/flagd-core" ]; then
  echo "SLUICE_NODE_MODULES does not hold the OpenFeature packages: run scripts/test (ensure_npm_clients)" >&2
  exit 1
fi
here="$TEST_SRCDIR/$TEST_WORKSPACE"
result=$(NODE_PATH="$SLUICE_NODE_MODULES" node "$here/tests/openfeature/flagd_vectors_check.js" \
  "$here/flags/testdata/bucketing_vectors.flagd.json" "$here/flags/testdata/bucketing_vectors.cases.json")
echo "$result"
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok &= cond
check(r["ascii_disagree"] == 0, "every ASCII vector agrees (%d)" % r["ascii_agree"])
check(r["ascii_agree"] >= 200, "at least 200 ASCII vectors were evaluated")
check(r["non_ascii_disagree"] > 0,
      "flagd-core 4.0.1 still disagrees on non-ASCII text (%d of %d), as docs/OPENFEATURE.md says"
      % (r["non_ascii_disagree"], r["non_ascii_disagree"] + r["non_ascii_agree"]))
sys.exit(0 if ok else 1)
PY
