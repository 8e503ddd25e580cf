#!/bin/sh
# Healthy when named answers, authoritatively, an SOA query on 127.0.0.1 for
# every zone it serves.
#   DNS_ZONES   space-separated zone names (optional; default: every zone of
#               NAMED_CONF, as listed by named-checkconf -l)
#   NAMED_CONF  default /etc/bind/named.conf
set -eu
conf="${NAMED_CONF:-/etc/bind/named.conf}"
zones="${DNS_ZONES:-$(named-checkconf -l "$conf" | awk '{print $1}')}"
[ -n "$zones" ] || { echo "no zones to check" >&2; exit 1; }
for z in $zones; do
  z="${z%.}"
  # +norec: the answer must come from the zone itself. The flags must show
  # "aa" and the answer section an SOA for the zone, else it did not load.
  out="$(dig +norec +time=2 +tries=1 @127.0.0.1 "$z." SOA)" || { echo "$z: no answer from named" >&2; exit 1; }
  printf '%s\n' "$out" | grep -q '^;; flags:.* aa[ ;]' || { echo "$z: answer is not authoritative" >&2; exit 1; }
  printf '%s\n' "$out" | awk -v z="$z." 'tolower($1) == tolower(z) && $4 == "SOA" { found = 1 } END { exit !found }' \
    || { echo "$z: no SOA in the answer" >&2; exit 1; }
done
