#!/bin/bash
# Runs Dovecot, Postfix and (when /etc/opendkim.conf was uploaded) OpenDKIM
# in the foreground under this small supervisor and exits non-zero as soon as
# any of them dies, so Docker's restart policy acts. Postfix and Dovecot log to
# stdout/stderr (main.cf: maillog_file = /dev/stdout; dovecot.conf:
# log_path = /dev/stderr); OpenDKIM reports start-up errors on stderr. Reads no environment variables: every setting is in
# the rendered files uploaded before the container starts.
set -euo pipefail

for f in /etc/postfix/main.cf /etc/postfix/master.cf /etc/dovecot/dovecot.conf; do
  [ -s "$f" ] || { echo "mail-entrypoint: $f is missing or empty (upload the rendered files first)" >&2; exit 1; }
done

# Owners of the uploaded files: uploads carry none (the accounts exist only in
# this image), so they are set by name from the table the program uploads.
if [ -r /etc/mail-system/ownership ]; then
  while read -r owner group path; do chown "$owner:$group" "$path"; done </etc/mail-system/ownership
fi
dkim=0
if [ -e /etc/opendkim.conf ]; then
  dkim=1
  if ! opendkim -n -x /etc/opendkim.conf; then
    echo "mail-entrypoint: opendkim -n: /etc/opendkim.conf is invalid" >&2
    exit 1
  fi
fi

# A mounted volume may arrive empty and root-owned.
install -d -o vmail -g vmail -m 0770 /var/mail /var/mail/vhosts
# After a restart the old PID files name processes that no longer exist, but
# their numbers may belong to new ones: Dovecot would refuse to start.
rm -f /run/dovecot/master.pid /var/spool/postfix/pid/master.pid /run/opendkim/opendkim.pid
install -d -o opendkim -g opendkim -m 0750 /run/opendkim

# Postfix's commands print their messages only to a terminal (or to syslog,
# which a container lacks): run the check under script(1) so that a broken
# configuration is explained in the container's log, not just "exit 1".
if ! script -qec "postfix check" /dev/null </dev/null | tr -d '\r'; then
  echo "mail-entrypoint: postfix check failed (messages above)" >&2
  exit 1
fi

# Dovecot first, so its auth and LMTP sockets in Postfix's spool exist when
# smtpd first needs them; OpenDKIM before Postfix, so the first message is
# signed (Postfix accepts mail unsigned while the milter does not answer).
dovecot -F &
dovecot_pid=$!
opendkim_pid=
if [ "$dkim" = 1 ]; then
  opendkim -f -x /etc/opendkim.conf &
  opendkim_pid=$!
fi
postfix start-fg &
postfix_pid=$!

stopping=0
stop() {
  stopping=1
  # postfix-script runs master as its child: stop master itself.
  postfix stop >/dev/null 2>&1 || kill -TERM "$postfix_pid" 2>/dev/null || true
  kill -TERM "$dovecot_pid" 2>/dev/null || true
  [ -z "$opendkim_pid" ] || kill -TERM "$opendkim_pid" 2>/dev/null || true
}
trap stop TERM INT

status=0
# shellcheck disable=SC2086 # opendkim_pid is empty or one number
wait -n "$dovecot_pid" "$postfix_pid" $opendkim_pid || status=$?
if [ "$stopping" = 0 ]; then
  who=postfix
  if ! kill -0 "$dovecot_pid" 2>/dev/null; then who=dovecot
  elif [ -n "$opendkim_pid" ] && ! kill -0 "$opendkim_pid" 2>/dev/null; then who=opendkim; fi
  echo "mail-entrypoint: $who exited (status $status); stopping the others" >&2
  stop
  stopping=0
fi
wait "$dovecot_pid" 2>/dev/null || true
wait "$postfix_pid" 2>/dev/null || true
[ -z "$opendkim_pid" ] || wait "$opendkim_pid" 2>/dev/null || true
if [ "$stopping" = 1 ]; then exit 0; fi
[ "$status" -ne 0 ] || status=1
exit "$status"
