#!/bin/sh
# Healthy when the server that accepts network connections is up. The check
# uses its unix socket as root@localhost (unix_socket authentication), which
# needs no password and, unlike a TCP probe, logs no failed login.
exec mariadb-admin --socket=/run/mysqld/mysqld.sock --connect-timeout=3 ping --silent
