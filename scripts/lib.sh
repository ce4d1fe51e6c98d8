# Shared by scripts/test, scripts/sanitizers, scripts/faults, scripts/demo and bench/ingest. Source it; do not run it.
# Everything here is idempotent: running it twice installs and starts nothing twice.

SLUICE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLUICE_PACKAGES=(
  bazel-bootstrap bazel-platforms bazel-rules-java
  g++ libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  librdkafka-dev libpqxx-dev libpq-dev prometheus-cpp-dev libcivetweb-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev libmurmurhash-dev
  libgoogle-glog-dev
  postgresql-15 postgresql-client-15 kcat python3 python3-yaml curl
  libdigest-murmurhash3-pureperl-perl prometheus gdb tmux
  clang-14 libclang-rt-14-dev pkg-config
)
# Bazel's disk cache lives under $HOME so a fresh clone (as in CI) reuses earlier actions.
SLUICE_BAZEL_CACHE="${HOME}/.cache/sluice-bazel"
SLUICE_BAZEL_FLAGS=(--disk_cache="${SLUICE_BAZEL_CACHE}")

log() { printf '\033[1m[sluice]\033[0m %s\n' "$*" >&2; }

# Installs the Debian packages that are missing (apt-get update only if needed).
ensure_packages() {
  local missing=()
  for p in "${SLUICE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then return 0; fi
  log "installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The OpenFeature JavaScript SDK and providers the tests check Sluice against
# (tests/openfeature/package.json, exact versions in its package-lock.json), from
# the npm registry into a cache under $HOME; tests find them through
# SLUICE_NODE_MODULES. Installed again only when the lock file changes.
SLUICE_NPM_DIR="${HOME}/.cache/sluice-npm"
ensure_npm_clients() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing Node.js and npm (Debian's)"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || return 1
  fi
  local src="$SLUICE_ROOT/tests/openfeature"
  if [ -d "$SLUICE_NPM_DIR/node_modules/@openfeature/server-sdk" ] &&
    cmp -s "$src/package-lock.json" "$SLUICE_NPM_DIR/package-lock.json"; then
    return 0
  fi
  log "installing the OpenFeature JavaScript SDK and providers (npm ci) into $SLUICE_NPM_DIR"
  mkdir -p "$SLUICE_NPM_DIR"
  cp "$src/package.json" "$src/package-lock.json" "$SLUICE_NPM_DIR/"
  # No install scripts: none of these packages needs one to run.
  (cd "$SLUICE_NPM_DIR" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null) || return 1
}

# A TCP port free on 127.0.0.1 now (scripts/free_port.py says which and why).
free_port() {
  python3 "$SLUICE_ROOT/scripts/free_port.py"
}

# Starts a throwaway PostgreSQL 15 cluster in a temp dir on a free port, as the
# postgres user when run as root (PostgreSQL refuses root). Sets SLUICE_PG_DIR,
# SLUICE_PG_PORT; stop it with stop_postgres.
start_postgres() {
  local bin=/usr/lib/postgresql/15/bin
  SLUICE_PG_DIR=$(mktemp -d /tmp/sluice-pg-XXXXXX)
  SLUICE_PG_PORT=$(free_port)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$SLUICE_PG_DIR"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$SLUICE_PG_DIR/data" -U postgres -A trust --no-sync >"$SLUICE_PG_DIR/initdb.log" 2>&1 \
    || { cat "$SLUICE_PG_DIR/initdb.log" >&2; return 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$SLUICE_PG_DIR/data" -l "$SLUICE_PG_DIR/server.log" -w -t 60 \
    -o "-p $SLUICE_PG_PORT -k $SLUICE_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 ${SLUICE_PG_EXTRA_OPTS:-}" \
    start >/dev/null || { cat "$SLUICE_PG_DIR/server.log" >&2; return 1; }
  export SLUICE_PG_DIR SLUICE_PG_PORT
  log "PostgreSQL 15 on 127.0.0.1:$SLUICE_PG_PORT (data in $SLUICE_PG_DIR)"
}

stop_postgres() {
  [ -n "${SLUICE_PG_DIR:-}" ] && [ -d "$SLUICE_PG_DIR/data" ] || return 0
  local as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  "${as[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$SLUICE_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$SLUICE_PG_DIR"
  SLUICE_PG_DIR=""
}

# Benchmarks: reserves COUNT 2 MiB huge pages for PostgreSQL's shared memory (its
# huge_pages=try default uses them when the kernel has enough), so that each new
# backend maps the shared buffers 2 MiB at a time rather than faulting them in
# 4 KiB at a time (docs/BENCHMARKS.md, "Huge pages"). release_huge_pages puts
# the old count back. A kernel setting: root only.
reserve_huge_pages() {
  if [ "$(id -u)" != 0 ]; then log "huge pages need root (vm.nr_hugepages)"; return 1; fi
  SLUICE_HUGE_PAGES_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
  # Never fewer than the machine already had.
  if (($1 > SLUICE_HUGE_PAGES_BEFORE)); then echo "$1" >/proc/sys/vm/nr_hugepages; fi
}
release_huge_pages() {
  [ -n "${SLUICE_HUGE_PAGES_BEFORE:-}" ] || return 0
  echo "$SLUICE_HUGE_PAGES_BEFORE" >/proc/sys/vm/nr_hugepages
  SLUICE_HUGE_PAGES_BEFORE=""
}
# "yes" when some huge pages are in use or reserved (by the PostgreSQL started
# after reserve_huge_pages), else "no".
huge_pages_in_use() {
  awk '/^HugePages_Total/ {t = $2} /^HugePages_Free/ {f = $2} /^HugePages_Rsvd/ {r = $2}
       END {print (t - f + r > 0) ? "yes" : "no"}' /proc/meminfo
}

# bazel with the project's cache flags; stays quiet unless something fails.
sluice_bazel() {
  local cmd=$1
  shift
  (cd "$SLUICE_ROOT" && bazel "$cmd" "${SLUICE_BAZEL_FLAGS[@]}" "$@")
}

# After CI, no Bazel server may linger.
shutdown_bazel_if_ci() {
  if [ -n "${CI:-}" ]; then (cd "$SLUICE_ROOT" && bazel shutdown >/dev/null 2>&1 || true); fi
}

# Runs `bazel test` (with the cache flags) against the PostgreSQL from start_postgres,
# then counts the JUnit test cases of every test target asked for with
# scripts/count_test_cases.py, which prints a FAILED line for each failure.
# Usage: bazel_test_and_count EXCLUDED_TAG [bazel flags...] -- TARGET...
#   EXCLUDED_TAG: a tag the flags filter out (--test_tag_filters), so its targets
#   are not expected to have results; "" for none.
# Sets SLUICE_BAZEL_RC, SLUICE_PASSED and SLUICE_FAILED.
bazel_test_and_count() {
  local excluded_tag=$1
  shift
  local flags=()
  while (($#)) && [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  local targets=("$@") started events
  started=$(date +%s)
  events=$(mktemp)
  sluice_bazel test "${flags[@]}" \
    --build_event_json_file="$events" \
    --nocache_test_results \
    --test_env=SLUICE_TEST_PGHOST=127.0.0.1 \
    --test_env=SLUICE_TEST_PGPORT="$SLUICE_PG_PORT" \
    --test_env=SLUICE_TEST_PGUSER=postgres \
    --test_env=SLUICE_NODE_MODULES="$SLUICE_NPM_DIR/node_modules" \
    "${targets[@]}"
  SLUICE_BAZEL_RC=$?
  local query="tests(set(${targets[*]}))"
  if [ -n "$excluded_tag" ]; then query="$query except attr(tags, '\\b$excluded_tag\\b', $query)"; fi
  local test_targets counts
  mapfile -t test_targets < <(cd "$SLUICE_ROOT" && bazel query "$query" 2>/dev/null)
  counts=$(mktemp)
  # bazel-testlogs points at the configuration the last `bazel test` used.
  python3 "$SLUICE_ROOT/scripts/count_test_cases.py" "$SLUICE_ROOT/bazel-testlogs" \
    "$started" "$events" "$counts" "${test_targets[@]}"
  read -r SLUICE_PASSED SLUICE_FAILED <"$counts"
  rm -f "$counts" "$events"
}

# The sanitizer stage: every test target asked for (default //...) but those tagged
# no_sanitizer, built and run under `--config=asan` (ASan + UBSan + LSan, see
# .bazelrc) against the PostgreSQL from start_postgres. Prints its budget and the
# time it took. Sets SLUICE_BAZEL_RC, SLUICE_PASSED and SLUICE_FAILED.
SLUICE_SANITIZER_BUDGET_SECONDS=$((25 * 60))
run_sanitizer_stage() {
  local targets=("$@")
  if ((${#targets[@]} == 0)); then targets=(//...); fi
  local started
  started=$(date +%s)
  log "sanitizer stage (bazel test --config=asan): budget $((SLUICE_SANITIZER_BUDGET_SECONDS / 60)) min"
  bazel_test_and_count no_sanitizer --config=asan -- "${targets[@]}"
  local took=$(($(date +%s) - started))
  log "sanitizer stage: $SLUICE_PASSED passed, $SLUICE_FAILED failed in ${took} s (budget ${SLUICE_SANITIZER_BUDGET_SECONDS} s)"
  if ((took > SLUICE_SANITIZER_BUDGET_SECONDS)); then
    log "sanitizer stage: over its budget by $((took - SLUICE_SANITIZER_BUDGET_SECONDS)) s"
  fi
}
