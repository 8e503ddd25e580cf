#!/bin/bash
# mail-system-supervisor: PID 1 of every server container, and the service
# manager the program's scripts talk to there, as they talk to systemd or the
# init scripts on a host (the `svc` function of components/targets/hostScripts.ts).
#   mail-system-supervisor                  start the enabled units in the
#                                           manifest's order, then watch them
#   mail-system-supervisor ctl ACTION UNIT  ACTION: enable disable start stop
#                                           restart reload running
# The manifest (/etc/mail-system/services, rendered from the server's spec)
# says, per unit, how to run its daemon in the foreground, how to reload it
# and how to stop it. It holds no knowledge of any daemon itself. Enabled units
# are recorded in the container, so a restarted container starts them again
# (a replaced one is set up again by the program). A daemon that exits unasked
# stops the container with an error, so Docker's restart policy acts.
set -u
manifest=/etc/mail-system/services
enabled=/var/lib/mail-system/enabled
rundir=/run/mail-system

declare -a order=()
declare -A run=() reload=() stop=()
# shellcheck source=/dev/null
[ ! -r "$manifest" ] || . "$manifest"

say() { echo "mail-system-supervisor: $*" >&2; }
# The container's log: PID 1's standard output and error, which the
# supervisor keeps on fds 3 and 4 for the daemons.
log_out=/proc/1/fd/3
log_err=/proc/1/fd/4
pidfile() { echo "$rundir/$1.pid"; }
known() { [ -n "${run[$1]:-}" ] || { say "no unit $1 in $manifest"; return 1; }; }

# Whether the unit's daemon runs (a zombie does not count). Bash builtins
# only: the watcher asks this for every unit every second, and a fork or
# two per unit was most of an idle container's CPU.
alive() {
  local p="" stat=""
  { read -r p || [ -n "$p" ]; } 2>/dev/null <"$rundir/$1.pid" || return 1
  [[ "$p" =~ ^[0-9]+$ ]] || return 1
  { read -r stat || [ -n "$stat" ]; } 2>/dev/null <"/proc/$p/stat" || return 1
  stat="${stat##*) }"
  [ -n "$stat" ] && [ "${stat:0:1}" != Z ]
}

start_unit() {
  known "$1" || return 1
  alive "$1" && return 0
  # The daemon writes to the container's log (PID 1's output, as kept on fds 3
  # and 4, which nothing redirects), never to the caller's: a `docker exec`
  # would not end while a daemon holds its output. It gets no descriptor of
  # ours (the locks).
  setsid bash -c "${run[$1]}" </dev/null >"$log_out" 2>"$log_err" 8>&- 9>&- &
  echo "$!" >"$(pidfile "$1")"
  local i
  for i in 1 2 3 4 5; do
    sleep 0.2
    alive "$1" || { rm -f "$(pidfile "$1")"; say "$1 exited at once (its messages are in the container's log)"; return 1; }
  done
}

stop_unit() {
  known "$1" || return 1
  if alive "$1"; then
    local p i
    p="$(cat "$(pidfile "$1")")"
    if [ -n "${stop[$1]:-}" ]; then
      bash -c "${stop[$1]}" </dev/null >"$log_out" 2>"$log_err" 8>&- 9>&- || kill -TERM "$p" || true
    else
      kill -TERM "$p" || true
    fi
    for i in $(seq 1 150); do alive "$1" || break; sleep 0.2; done
    if alive "$1"; then say "$1 did not stop in 30 s; killing it"; kill -KILL "$p" || true; fi
  fi
  rm -f "$(pidfile "$1")"
}

reload_unit() {
  known "$1" || return 1
  alive "$1" || { say "$1 is not running"; return 1; }
  if [ -n "${reload[$1]:-}" ]; then
    bash -c "${reload[$1]}" </dev/null 8>&- 9>&-
  else
    kill -HUP "$(cat "$(pidfile "$1")")"
  fi
}

# Every change of a unit's state, and the watcher's look at them, under one lock.
lock() { exec 8>"$rundir/lock"; flock -w 120 8 || { say "the supervisor's lock is held"; exit 1; }; }

ctl() {
  local action="${1:-}" unit="${2:-}"
  [ -n "$unit" ] || { say "usage: mail-system-supervisor ctl ACTION UNIT"; exit 2; }
  mkdir -p "$rundir" "$enabled"
  lock
  case "$action" in
    enable) known "$unit" && touch "$enabled/$unit" ;;
    disable) rm -f "$enabled/$unit" ;;
    start) start_unit "$unit" ;;
    stop) stop_unit "$unit" ;;
    restart) stop_unit "$unit" && start_unit "$unit" ;;
    reload) reload_unit "$unit" ;;
    running) alive "$unit" ;;
    *) say "unknown action $action"; exit 2 ;;
  esac
}

shutdown() {
  local code="$1" i
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do stop_unit "${order[$i]}"; done
  exit "$code"
}

supervise() {
  exec 3>&1 4>&2
  mkdir -p "$rundir" "$enabled"
  # After a restart the recorded PIDs belong to nothing (or to someone else).
  rm -f "$rundir"/*.pid
  echo "$$" >"$rundir/supervisor.pid"
  trap 'lock; shutdown 0' TERM INT
  lock
  local u
  for u in "${order[@]}"; do
    if [ -e "$enabled/$u" ] && ! start_unit "$u"; then shutdown 1; fi
  done
  flock -u 8
  while :; do
    # In the background, so a TERM is handled at once.
    sleep 1 &
    wait $! || true
    lock
    for u in "${order[@]}"; do
      if [ -e "$rundir/$u.pid" ] && ! alive "$u"; then
        say "$u exited; stopping the others"
        rm -f "$(pidfile "$u")"
        shutdown 1
      fi
    done
    flock -u 8
  done
}

case "${1:-}" in
  ctl) shift; ctl "$@" ;;
  "") supervise ;;
  *) say "usage: mail-system-supervisor [ctl ACTION UNIT]"; exit 2 ;;
esac
