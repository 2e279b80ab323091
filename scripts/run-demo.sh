#!/usr/bin/env bash
# Serve the demo: one Celery worker, Celery beat (periodic jobs) and the web server,
# side by side, until Ctrl-C.
#
# `make run` calls this after migrating and seeding. Each child runs in its own process
# group (job control on), so Ctrl-C reaches only this script, which asks both children to
# stop (SIGTERM: the worker finishes its current task, gunicorn its requests), waits for
# them and exits 0. A second Ctrl-C, or 30 seconds without an exit, kills them outright.
# If either child ends on its own (say the port is taken), the other is stopped too and
# the script exits with the child's status.
set -uo pipefail
set -m

BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
GRACE=${GRACE:-30}

pids=()

force() {
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
}

stop() {
  local status=$1
  trap force INT TERM ALRM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  (sleep "$GRACE" && kill -ALRM $$ 2>/dev/null) &
  local watchdog=$!
  # `wait` returns early when a trapped signal arrives; go on until both are gone.
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do wait "$pid" 2>/dev/null; done
  done
  # The watchdog is a process group of its own (job control): end it and its sleep.
  kill -- "-$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  echo "Placement has stopped."
  exit "$status"
}

trap 'echo; echo "Stopping the server and the worker..."; stop 0' INT TERM

echo ""
echo "  Placement is starting at http://$HOST:$PORT"
echo "  Demo logins (role  email  password):"
"$BIN/python" -c 'from placement.demo import DEMO_LOGINS
for role, email, password in DEMO_LOGINS:
    print(f"    {role:<12} {email:<28} {password}")'
echo "  Press Ctrl-C to stop the server, the worker and beat."
echo ""

"$BIN/placement" worker --loglevel=WARNING &
pids+=("$!")
"$BIN/placement" beat --loglevel=WARNING &
pids+=("$!")
"$BIN/placement" serve --host "$HOST" --port "$PORT" &
pids+=("$!")

# Either child ending on its own ends the demo.
wait -n
status=$?
# A trapped signal also ends `wait -n`, but then the trap has already exited the script.
echo "A process of the demo ended (status $status); stopping the other."
stop "$((status == 0 ? 1 : status))"
