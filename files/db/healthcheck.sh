#!/bin/sh
# Healthy when the server that accepts network connections is up. The check
# uses the server's default unix socket as root (unix_socket authentication
# on MariaDB), which needs no password and, unlike a TCP probe, logs no
# failed login. MariaDB calls its client mariadb-admin; MySQL, mysqladmin.
# With backups (mail-backup), a stale one fails it too, saying how old it is.
for admin in mariadb-admin mysqladmin; do
  if command -v "$admin" >/dev/null 2>&1; then
    "$admin" --connect-timeout=3 ping --silent || exit 1
    [ -z "${BACKUP_PROGRAM:-}" ] || "$BACKUP_PROGRAM" health || exit 1
    exit 0
  fi
done
echo "db-healthcheck: neither mariadb-admin nor mysqladmin is installed" >&2
exit 1
