#!/bin/bash
# Healthy when SMTP (25) and IMAP (143) accept a connection on 127.0.0.1 and
# answer with their greeting. It only reads the greeting and quits, so it
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
greets 25 "220 " "QUIT" || { echo "SMTP (25) does not greet" >&2; exit 1; }
greets 143 "* OK" "a LOGOUT" || { echo "IMAP (143) does not greet" >&2; exit 1; }
