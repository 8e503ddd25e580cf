#!/bin/sh
# Initializes the data directory on first start, sets the administrator's
# password from a file, then runs mariadbd in the foreground.
#   DB_ADMIN_PASSWORD_FILE  file holding the administrator password (required)
#   DB_ADMIN_USER           administrator account name (default: root)
#   DB_ADMIN_HOST           host part allowed to log in over TCP (default: %)
set -eu
: "${DB_ADMIN_PASSWORD_FILE:?DB_ADMIN_PASSWORD_FILE must name the password file}"
user="${DB_ADMIN_USER:-root}"
host="${DB_ADMIN_HOST:-%}"
datadir=/var/lib/mysql
[ -s "$DB_ADMIN_PASSWORD_FILE" ] || { echo "$DB_ADMIN_PASSWORD_FILE is missing or empty" >&2; exit 1; }

# SQL string literal: single quotes and backslashes escaped.
sql_quote() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }

if [ ! -d "$datadir/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db >/dev/null
fi

# Apply the password on every start so a changed secret takes effect; done
# with networking off so nothing can connect before it is set.
mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
pid=$!
i=0
until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -le 60 ] || { echo "mariadbd did not start" >&2; exit 1; }
  sleep 1
done
secret="$(cat "$DB_ADMIN_PASSWORD_FILE")"
pw="$(sql_quote "$secret")"
u="$(sql_quote "$user")"
h="$(sql_quote "$host")"
mariadb --socket=/run/mysqld/init.sock <<SQL
CREATE USER IF NOT EXISTS $u@$h IDENTIFIED BY $pw;
ALTER USER $u@$h IDENTIFIED BY $pw;
GRANT ALL PRIVILEGES ON *.* TO $u@$h WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
mariadb-admin --socket=/run/mysqld/init.sock shutdown
wait "$pid" || true

exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306
