#!/bin/sh
# Healthy when the server that accepts network connections is up. The check
# uses the server's default unix socket as root (unix_socket authentication
# on MariaDB), which needs no password and, unlike a TCP probe, logs no
# failed login. MariaDB calls its client mariadb-admin; MySQL, mysqladmin.
for admin in mariadb-admin mysqladmin; do
  if command -v "$admin" >/dev/null 2>&1; then
    exec "$admin" --connect-timeout=3 ping --silent
  fi
done
echo "db-healthcheck: neither mariadb-admin nor mysqladmin is installed" >&2
exit 1
