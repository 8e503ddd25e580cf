#!/bin/sh
# Initializes the data directory on first start, then runs mariadbd in the
# foreground with the uploaded configuration (bind-address: MysqlServer's
# rendered server.cnf). root logs in only over the unix socket; the program
# makes its administrator account with the server's own client once it is up.
set -eu
datadir=/var/lib/mysql
if [ ! -d "$datadir/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db >/dev/null
fi
exec mariadbd --user=mysql --datadir="$datadir"
