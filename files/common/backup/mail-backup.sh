#!/bin/bash
# mail-backup: encrypted, deduplicated backups of a server's data with restic.
# Rendered by components/render/backup.ts; settings in the file below.
#   mail-backup ensure     `pulumi up`: the repository exists (made if not)
#                          and the password opens it; fails saying why
#   mail-backup run        backs up now (the database dumped first, where
#                          there is one), then forgets what the retention
#                          does not keep
#   mail-backup loop       the service: runs when the last success is older
#                          than BACKUP_INTERVAL_SECONDS (a failure is retried
#                          sooner)
#   mail-backup health     fails, saying how old it is, when the last success
#                          is older than BACKUP_STALE_SECONDS
#   mail-backup status     the last run's outcome
#   mail-backup snapshots  this server's snapshots (restic's arguments follow)
#   mail-backup dkim-keys  mail: the DKIM signing keys of a snapshot
#                          (--snapshot ID), one JSON object a line
#   mail-backup restore    mail: maildirs into the live ones, the live copy of
#                          a message winning (mail-restore-maildirs);
#                          database: the dump loaded into the database.
#                          Options: --snapshot ID, --user ADDRESS (repeatable),
#                          --dry-run, --overwrite
# Snapshots carry the host name BACKUP_HOST (the zone and the server's role),
# not the machine's: a new stack of the same zone restores the old one's.
set -u
config=/etc/mail-system/backup.env
set -a
# shellcheck source=/dev/null
. "$config" || { echo "mail-backup: cannot read $config" >&2; exit 1; }
set +a
lock=/run/mail-backup.lock
status_file="$BACKUP_STATE/status"
dump_dir="$BACKUP_STATE/dump"

say() { echo "mail-backup: $*" >&2; }

# restic with the repository's options (the SFTP command, when there is one).
rs() {
  if [ -n "${BACKUP_SFTP_COMMAND:-}" ]; then
    restic -o "sftp.command=$BACKUP_SFTP_COMMAND" "$@"
  else
    restic "$@"
  fi
}

# A status field of the last run, or "".
field() { sed -n "s/^$1=//p" "$status_file" 2>/dev/null | head -n 1; }

# state, message, and the last success's fields when this run is one: one file, replaced whole.
set_status() {
  local tmp now success snapshot added total
  now="$(date -u +%s)"
  if [ "$1" = ok ]; then
    success="$now" snapshot="$3" added="$4" total="$5"
  else
    success="$(field lastSuccess)" snapshot="$(field snapshot)" added="$(field added)" total="$(field total)"
  fi
  tmp="$(mktemp "$BACKUP_STATE/.status.XXXXXX")"
  printf 'state=%s\nat=%s\nlastSuccess=%s\nsnapshot=%s\nadded=%s\ntotal=%s\nmessage=%s\n' \
    "$1" "$now" "$success" "$snapshot" "$added" "$total" "$2" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$status_file"
}

prepare() {
  install -d -m 0700 "$BACKUP_STATE" "$BACKUP_STATE/cache"
  # When the server started backing up: a stale health counts from here until a first success.
  [ -s "$BACKUP_STATE/since" ] || date -u +%s >"$BACKUP_STATE/since"
  case "$RESTIC_REPOSITORY" in /*) install -d -m 0700 "$RESTIC_REPOSITORY" ;; esac
}

# The first line of $1 saying why ssh could not log in; fails when none does.
# (ssh ends its lines with CR LF when it has no terminal.)
ssh_reason() {
  local pattern
  for pattern in 'Host key verification failed' 'Permission denied' 'Connection (refused|timed out)' 'No route to host' 'Could not resolve'; do
    printf '%s\n' "$1" | tr -d '\r' | grep -E -m 1 "$pattern" && return 0
  done
  return 1
}

# What ssh says logging in as restic's sftp backend does, without restic
# (the subsystem sees end of input at once and ends).
ssh_login() {
  # shellcheck disable=SC2086 # words without spaces (components/render/backup.ts's sftpCommand)
  timeout 30 $BACKUP_SFTP_COMMAND </dev/null 2>&1 >/dev/null
}

# Opens the repository, making it when there is none. Its reason on stderr.
open_repository() {
  local out
  out="$(rs cat config 2>&1 >/dev/null)" && return 0
  case "$out" in
    *"wrong password"* | *"no key found"*)
      say "the password does not open the repository at $RESTIC_REPOSITORY (mail-system:backup.password is not the one it was made with)"
      return 1
      ;;
    *"Is there a repository at the following location?"* | *"does not exist"* | *"unable to open config file"*)
      out="$(rs init 2>&1)" && { say "made a new repository at $RESTIC_REPOSITORY"; return 0; }
      # The other server may have made it at the same moment.
      rs cat config >/dev/null 2>&1 && return 0
      ;;
  esac
  # ssh says why an sftp: repository is out of reach before restic's own "EOF";
  # restic may exit before it has passed that on, so ssh is asked again alone.
  local why
  why="$(ssh_reason "$out")" ||
    { [ -n "${BACKUP_SFTP_COMMAND:-}" ] && why="$(ssh_reason "$(ssh_login)")"; } ||
    why="$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -n 1)"
  why="${why#subprocess ssh: }"
  say "cannot open the repository at $RESTIC_REPOSITORY: $(printf '%s' "$why" | cut -c1-300)"
  return 1
}

# The database, dumped consistently (one transaction) where it runs.
dump_database() {
  local tmp
  install -d -m 0700 "$dump_dir"
  tmp="$(mktemp "$dump_dir/.dump.XXXXXX")"
  if ! mysqldump --single-transaction --routines --triggers --databases "$BACKUP_DATABASE" >"$tmp" 2>"$tmp.err"; then
    LAST_ERROR="mysqldump failed: $(tail -n 1 "$tmp.err" | cut -c1-300)"
    rm -f "$tmp" "$tmp.err"
    return 1
  fi
  rm -f "$tmp.err"
  mv -f "$tmp" "$dump_dir/$BACKUP_DATABASE.sql"
}

# The paths that exist (a queue directory Postfix has not made yet is no error).
present_paths() {
  local p
  # shellcheck disable=SC2086 # a list of paths without spaces
  for p in $BACKUP_PATHS; do [ -e "$p" ] && printf '%s\n' "$p"; done
}

# One number of restic's JSON summary line.
summary_number() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }

# Backs up now; records the outcome. Runs under the lock.
run() {
  local out summary snapshot added total paths
  LAST_ERROR=""
  prepare
  if ! open_repository 2>"$BACKUP_STATE/.open.err"; then
    LAST_ERROR="$(cat "$BACKUP_STATE/.open.err")"
    LAST_ERROR="${LAST_ERROR#mail-backup: }"
  elif [ -n "${BACKUP_DATABASE:-}" ] && ! dump_database; then
    :
  else
    mapfile -t paths < <(present_paths; [ -n "${BACKUP_DATABASE:-}" ] && printf '%s\n' "$dump_dir")
    local rc=0 note="" pattern patterns excludes=()
    # Split on spaces, never globbed here: restic matches them.
    read -r -a patterns <<<"${BACKUP_EXCLUDE:-}"
    for pattern in "${patterns[@]}"; do excludes+=(--exclude "$pattern"); done
    out="$(rs backup --json --host "$BACKUP_HOST" --tag mail-system "${excludes[@]}" "${paths[@]}" 2>"$BACKUP_STATE/.backup.err")" || rc=$?
    summary="$(grep '"message_type":"summary"' <<<"$out" | tail -n 1)"
    snapshot="$(sed -n 's/.*"snapshot_id":"\([0-9a-f]*\)".*/\1/p' <<<"$summary")"
    # 3: the snapshot is made, but some files went away while it was read (a
    # message moved from new/ to cur/, or expunged): the next one has them.
    if [ "$rc" -eq 3 ] && [ -n "$snapshot" ]; then
      note="; $(grep -c . "$BACKUP_STATE/.backup.err") files changed while read (the next backup has them)"
      rc=0
    fi
    if [ "$rc" -eq 0 ]; then
      added="$(summary_number data_added "$summary")"
      total="$(summary_number total_bytes_processed "$summary")"
      set_status ok "snapshot ${snapshot:0:8}: ${total:-0} bytes backed up, ${added:-0} bytes added to the repository$note" "${snapshot:0:8}" "${added:-0}" "${total:-0}"
      say "snapshot ${snapshot:0:8} of ${paths[*]}: ${total:-0} bytes, ${added:-0} bytes added to the repository$note"
      forget
      return 0
    fi
    LAST_ERROR="restic backup failed: $(grep -v '^\s*$' "$BACKUP_STATE/.backup.err" | tail -n 1 | cut -c1-300)"
  fi
  set_status failed "$LAST_ERROR"
  say "backup failed: $LAST_ERROR"
  return 1
}

# Forgets the snapshots the retention does not keep; prunes their data at most once a day.
forget() {
  local prune=() now pruned
  now="$(date -u +%s)"
  pruned="$(cat "$BACKUP_STATE/pruned" 2>/dev/null || echo 0)"
  [ $((now - pruned)) -ge 86400 ] && prune=(--prune)
  if rs forget --host "$BACKUP_HOST" --keep-daily "$BACKUP_KEEP_DAILY" --keep-weekly "$BACKUP_KEEP_WEEKLY" \
    --keep-monthly "$BACKUP_KEEP_MONTHLY" "${prune[@]}" >/dev/null 2>"$BACKUP_STATE/.forget.err"; then
    [ ${#prune[@]} -gt 0 ] && echo "$now" >"$BACKUP_STATE/pruned"
  else
    say "forgetting old snapshots failed (the backup itself is kept): $(tail -n 1 "$BACKUP_STATE/.forget.err")"
  fi
}

# Seconds until the next run is due: the interval after a success, a quarter
# of it (at most an hour) after a failure. The first is an interval after
# backups began: a new server does not make its empty mailboxes the latest
# snapshot before the old one's are restored (`mail-backup run` takes one now).
due_in() {
  local now last state wait
  now="$(date -u +%s)"
  state="$(field state)"
  last="$(field at)"
  [ -n "$last" ] || last="$(cat "$BACKUP_STATE/since" 2>/dev/null || echo "$now")"
  wait="$BACKUP_INTERVAL_SECONDS"
  if [ "$state" = failed ]; then
    wait=$((BACKUP_INTERVAL_SECONDS / 4))
    [ "$wait" -gt 3600 ] && wait=3600
  fi
  echo $((last + wait - now))
}

health() {
  local now since last age
  now="$(date -u +%s)"
  last="$(field lastSuccess)"
  since="$(cat "$BACKUP_STATE/since" 2>/dev/null || echo "$now")"
  if [ -z "$last" ]; then
    age=$((now - since))
    [ "$age" -le "$BACKUP_STALE_SECONDS" ] && return 0
    echo "no backup has succeeded in the $((age / 3600)) h since backups began$(msg_suffix)" >&2
    return 1
  fi
  age=$((now - last))
  [ "$age" -le "$BACKUP_STALE_SECONDS" ] && return 0
  echo "the last successful backup is $((age / 3600)) h $((age % 3600 / 60)) min old ($(date -u -d "@$last" '+%F %T UTC'))$(msg_suffix)" >&2
  return 1
}
# The last failure's reason, where the last run failed.
msg_suffix() { [ "$(field state)" = failed ] && printf '; the last attempt failed: %s' "$(field message)"; }

restore() {
  local snapshot=latest dry=() overwrite=() users=() staging include=() u
  while [ $# -gt 0 ]; do
    case "$1" in
      --snapshot) snapshot="${2:?--snapshot needs an ID}"; shift 2 ;;
      --user) users+=("${2:?--user needs an address}"); shift 2 ;;
      --dry-run) dry=(--dry-run); shift ;;
      --overwrite) overwrite=(--overwrite); shift ;;
      *) say "restore: unknown option $1"; return 2 ;;
    esac
  done
  [[ "$snapshot" =~ ^(latest|[0-9a-f]{8,64})$ ]] || { say "restore: $snapshot is not a snapshot ID"; return 2; }
  open_repository || return 1
  staging="$(mktemp -d "$BACKUP_STATE/restore.XXXXXX")"
  # shellcheck disable=SC2064 # the path is fixed now
  trap "rm -rf '$staging'" EXIT
  if [ -n "${BACKUP_DATABASE:-}" ]; then
    [ ${#users[@]} -eq 0 ] || { say "restore: --user is for the mail server"; return 2; }
    rs restore "$snapshot" --host "$BACKUP_HOST" --target "$staging" --include "$dump_dir" >/dev/null || return 1
    local dump="$staging$dump_dir/$BACKUP_DATABASE.sql"
    [ -s "$dump" ] || { say "snapshot $snapshot holds no dump of $BACKUP_DATABASE"; return 1; }
    if [ ${#dry[@]} -gt 0 ]; then
      echo "would load the dump of $BACKUP_DATABASE ($(wc -c <"$dump") bytes, $(grep -c '^INSERT' "$dump") INSERT statements) from snapshot $snapshot"
      return 0
    fi
    mysql <"$dump" || { say "loading the dump failed"; return 1; }
    echo "loaded the dump of $BACKUP_DATABASE from snapshot $snapshot"
    return 0
  fi
  if [ ${#users[@]} -eq 0 ]; then
    include=(--include "$BACKUP_MAIL_ROOT")
  else
    for u in "${users[@]}"; do
      [[ "$u" =~ ^[a-z0-9._%+=-]+@[a-z0-9.-]+$ ]] && [[ "$u" != *..* ]] || { say "restore: $u is not a mailbox address"; return 2; }
      include+=(--include "$BACKUP_MAIL_ROOT/${u#*@}/${u%@*}")
    done
  fi
  rs restore "$snapshot" --host "$BACKUP_HOST" --target "$staging" "${include[@]}" >/dev/null 2>"$staging.err" ||
    { say "restic restore failed: $(tail -n 1 "$staging.err")"; rm -f "$staging.err"; return 1; }
  rm -f "$staging.err"
  local user_args=() report
  for u in "${users[@]}"; do user_args+=(--user "$u"); done
  report="$(python3 "$BACKUP_RESTORE_MAILDIRS" --source "$staging$BACKUP_MAIL_ROOT" --target "$BACKUP_MAIL_ROOT" \
    "${user_args[@]}" "${dry[@]}" "${overwrite[@]}" --json)" || return $?
  python3 -c 'import json,sys; r=json.load(sys.stdin); print("\n".join(m["address"] for m in r["mailboxes"]))' <<<"$report" >"$staging/restored" || return 1
  printf '%s\n' "$report"
  [ ${#dry[@]} -gt 0 ] && return 0
  # Dovecot indexes what it finds; the quota counts it.
  local failed=0
  while IFS= read -r u; do
    [ -n "$u" ] || continue
    doveadm force-resync -u "$u" '*' || { say "doveadm force-resync failed for $u: its restored mail shows once Dovecot next syncs the folders"; failed=1; }
    doveadm quota recalc -u "$u" || say "doveadm quota recalc failed for $u"
  done <"$staging/restored"
  return "$failed"
}

# The DKIM signing keys in a snapshot (<dir>/<domain>/<selector>.private), one
# JSON object a line, for a new stack to sign with (mail-system:dkimKeys).
dkim_keys() {
  local snapshot=latest staging
  if [ "${1:-}" = --snapshot ]; then snapshot="${2:?--snapshot needs an ID}"; fi
  [[ "$snapshot" =~ ^(latest|[0-9a-f]{8,64})$ ]] || { say "dkim-keys: $snapshot is not a snapshot ID"; return 2; }
  [ -n "${BACKUP_DKIM_KEYS:-}" ] || { say "dkim-keys: this server keeps no DKIM keys"; return 2; }
  open_repository || return 1
  staging="$(mktemp -d "$BACKUP_STATE/keys.XXXXXX")"
  # shellcheck disable=SC2064 # the path is fixed now
  trap "rm -rf '$staging'" EXIT
  rs restore "$snapshot" --host "$BACKUP_HOST" --target "$staging" --include "$BACKUP_DKIM_KEYS" >/dev/null || return 1
  python3 - "$staging$BACKUP_DKIM_KEYS" <<'KEYS'
import json, os, sys
root = sys.argv[1]
for domain in sorted(os.listdir(root)) if os.path.isdir(root) else []:
    for name in sorted(os.listdir(os.path.join(root, domain))):
        if name.endswith(".private"):
            with open(os.path.join(root, domain, name)) as f:
                print(json.dumps({"domain": domain, "selector": name[: -len(".private")], "privateKey": f.read()}))
KEYS
}

case "${1:-}" in
  prepare) prepare ;;
  ensure)
    prepare
    open_repository
    ;;
  run)
    exec 9>"$lock"
    flock 9
    run
    ;;
  loop)
    prepare
    while :; do
      wait_for="$(due_in)"
      if [ "$wait_for" -le 0 ]; then
        (
          flock 9
          # Another run (a `mail-backup run`) may have just finished.
          [ "$(due_in)" -le 0 ] && run
        ) 9>"$lock"
        continue
      fi
      [ "$wait_for" -gt 60 ] && wait_for=60
      sleep "$wait_for" &
      wait $!
    done
    ;;
  health) health ;;
  status) cat "$status_file" 2>/dev/null || echo "state=none" ;;
  snapshots)
    shift
    rs snapshots --host "$BACKUP_HOST" "$@"
    ;;
  dkim-keys)
    shift
    dkim_keys "$@"
    ;;
  restore)
    shift
    exec 9>"$lock"
    flock 9
    restore "$@"
    ;;
  *)
    echo "usage: mail-backup ensure|run|loop|health|status|snapshots|dkim-keys|restore" >&2
    exit 2
    ;;
esac
