#!/bin/sh
# Checks the uploaded configuration, then runs named in the foreground.
#   NAMED_CONF  the uploaded main config (default: /etc/bind/named.conf, the
#               renderer's "debian" layout); its zone files must be uploaded too.
# named-checkconf -z loads every zone, so a bad config or zone file stops the
# container at once with BIND's own message instead of a half-working server.
set -eu
conf="${NAMED_CONF:-/etc/bind/named.conf}"
[ -s "$conf" ] || { echo "dns: $conf is missing or empty (upload it before starting the container)" >&2; exit 1; }
# Owners of the uploaded files: uploads carry none (the accounts exist only in
# this image), so they are set by name from the table the program uploads.
if [ -r /etc/mail-system/ownership ]; then
  while read -r owner group path; do chown "$owner:$group" "$path"; done </etc/mail-system/ownership
fi
named-checkconf -z "$conf" >&2 || { echo "dns: named-checkconf -z $conf failed" >&2; exit 1; }
# named reads the zone files after dropping to the bind user (the checker ran
# as root): a file it cannot read would leave its zone unserved, not stop it.
named-checkconf -p "$conf" | sed -n 's/^[[:space:]]*file "\(\/.*\)";$/\1/p' | while read -r f; do
  runuser -u bind -- test -r "$f" || { echo "dns: $f is not readable by the bind user" >&2; exit 1; }
done || exit 1
# rndc (reloads after a new upload: docker exec ... rndc reload) needs a key;
# one per container, made on first start rather than baked into the image.
if [ ! -s /etc/bind/rndc.key ]; then
  rndc-confgen -a -A hmac-sha256 -c /etc/bind/rndc.key >/dev/null
  chown root:bind /etc/bind/rndc.key
  chmod 0640 /etc/bind/rndc.key
fi
# -g: foreground, all logging to stderr; -4: IPv6 is off in this lab.
exec named -g -4 -u bind -c "$conf"
