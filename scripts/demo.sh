#!/usr/bin/env bash
# make demo: cronguard's main job against a throwaway local ZooKeeper.
# Two simulated hosts (box-a, box-b) share one job; watch the lock refuse a
# second concurrent run, and an assignment flip stop the running job.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

BIN=$PWD/bin/cronguard
work=$(mktemp -d)
zkpid=""
cleanup() {
  [ -n "$zkpid" ] && kill "$zkpid" 2>/dev/null && wait "$zkpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Starting a throwaway ZooKeeper (Debian's package, as a plain process)"
go build -o "$work/zkserver" ./internal/tools/zkserver
"$work/zkserver" -addr-file "$work/addr" >"$work/zk.out" 2>&1 &
zkpid=$!
for _ in $(seq 1 300); do [ -s "$work/addr" ] && break; sleep 0.1; done
[ -s "$work/addr" ] || { echo "ZooKeeper did not start:"; cat "$work/zk.out"; exit 1; }
export CRONGUARD_ZK=$(cat "$work/addr") CRONGUARD_PREFIX=/demo
export CRONGUARD_LOG_FILE=- CRONGUARD_LOG_FORMAT=console
echo "ZooKeeper is listening on $CRONGUARD_ZK; cronguard uses prefix $CRONGUARD_PREFIX"

say "The fleet config: group 'reports' is assigned to box-a and box-b"
run "$BIN" config init
run "$BIN" assign --create reports box-a box-b
run "$BIN" config get

job='echo "    [job] nightly-report running (fence token $CRONGUARD_FENCE)"; trap "echo \"    [job] got SIGTERM, cleaning up\"; exit 143" TERM; while :; do sleep 0.2; done'

say "box-a starts the job (its crontab line: cronguard --group reports --lock nightly-report -- sh -c ...)"
"$BIN" --hostname box-a run --group reports --lock nightly-report -- sh -c "$job" &
a=$!
sleep 1.5

say "box-b's cron fires the same job at the same time: the lock is busy, so it skips"
set +e
"$BIN" --hostname box-b run --group reports --lock nightly-report -- sh -c "$job"
echo "box-b exit code: $? (0 = skipped, as cron expects)"
set -e

say "The operator moves the job off box-a: cronguard unassign reports box-a"
run "$BIN" unassign reports box-a
set +e
wait "$a"
code=$?
set -e
echo "box-a's cronguard exited with $code (143 = the job was stopped with SIGTERM)"

say "box-a is no longer eligible: its next run skips without touching the lock"
"$BIN" --hostname box-a --log-level debug run --group reports --lock nightly-report -- true
echo "box-a exit code: $?"

say "box-b's next run takes the lock and runs the job (stopped here by --timeout 1s: exit 124)"
set +e
"$BIN" --hostname box-b run --group reports --lock nightly-report --timeout 1s -- sh -c "$job"
echo "box-b exit code: $?"
set -e

say "What the operator sees: cronguard status (groups, held locks, last runs)"
run "$BIN" status

say "Done. ZooKeeper and its data are removed."
