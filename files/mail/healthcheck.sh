#!/bin/bash
# Healthy when SMTP (25) and IMAP (143) accept a connection on 127.0.0.1 and
# answer with their greeting, and Rspamd's milter (11332) takes a connection:
# Postfix greets on 25 while Rspamd still starts, but defers every message. It only reads the greeting and quits, so it
# never logs a failed login.
greets() { # port, expected start of the greeting, command that ends the session
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r line <&3 || exit 1
    printf "%s\r\n" "$3" >&3
    case "$line" in "$2"*) exit 0 ;; *) echo "port $1 answered: $line" >&2; exit 1 ;; esac
  ' greets "$1" "$2" "$3"
}
# Rspamd first: until its milter listens, each connection to 25 would log a
# milter warning. (The milter speaks only when spoken to: a connection is the proof.)
timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/11332' 2>/dev/null || { echo "Rspamd's milter (11332) does not accept connections" >&2; exit 1; }
greets 25 "220 " "QUIT" || { echo "SMTP (25) does not greet" >&2; exit 1; }
greets 143 "* OK" "a LOGOUT" || { echo "IMAP (143) does not greet" >&2; exit 1; }
# The web server (clients' autoconfiguration), where the server has one: its port takes connections.
if [ -n "${WEB_PORT:-}" ]; then
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' port "$WEB_PORT" 2>/dev/null ||
    { echo "the web server ($WEB_PORT) does not accept connections" >&2; exit 1; }
fi
# mail-acme, where the certificate comes from an ACME CA: its last attempt
# failed (the CA unreachable, a challenge refused), or what is served has
# expired. The old certificate keeps serving; this makes it seen.
if [ -n "${ACME_STATUS:-}" ] && [ -r "$ACME_STATUS" ]; then
  state="$(sed -n 's/^state=//p' "$ACME_STATUS")"
  if [ "$state" = failed ]; then
    echo "certificate renewal failed at $(date -u -d "@$(sed -n 's/^at=//p' "$ACME_STATUS")" '+%F %T UTC'): $(sed -n 's/^message=//p' "$ACME_STATUS")" >&2
    exit 1
  fi
fi
if [ -n "${ACME_STATUS:-}" ] && [ -r "${ACME_STATUS%/*}/fullchain.pem" ] && ! openssl x509 -in "${ACME_STATUS%/*}/fullchain.pem" -noout -checkend 0 >/dev/null; then
  echo "the served certificate has expired ($(openssl x509 -in "${ACME_STATUS%/*}/fullchain.pem" -noout -enddate | cut -d= -f2))" >&2
  exit 1
fi
# mail-backup, where backups are on: the last success is too old (the
# repository unreachable, a wrong password, a full disk); it says since when.
if [ -n "${BACKUP_PROGRAM:-}" ]; then
  "$BACKUP_PROGRAM" health || exit 1
fi
