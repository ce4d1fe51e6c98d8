#!/bin/bash
# Runs check_deploy.py with the built binaries (a sh_test: Bazel 4 here has no
# offline Python rules; the system python3 and python3-yaml run it).
set -euo pipefail
cd "${TEST_SRCDIR}/${TEST_WORKSPACE}"
exec python3 tests/deploy/check_deploy.py worker/sluice-worker controller/sluice-controller \
  cli/sluicectl
