#!/bin/bash
# mail-acme: keeps the mail server's certificate from an ACME CA current,
# with lego. Rendered by components/render/acme.ts; settings in the file below.
#   mail-acme prepare  before the daemons start: a chain for the server's key
#                      is served (the last one issued, else the bootstrap one)
#   mail-acme ensure   `pulumi up`: issues now unless the served certificate is
#                      the CA's for these names, key and CA; fails when it cannot
#   mail-acme loop     the service: every ACME_CHECK_SECONDS, renews once a
#                      third of the certificate's lifetime is left
#   mail-acme renew    renews now, due or not (after changing the challenge,
#                      or to test the CA); a failure is recorded as the loop's
#   mail-acme status   prints the last attempt's outcome
# The key is the server's own and stays: a renewal changes no TLSA record. A
# failed renewal leaves the served certificate in place and says so in the
# status file, which the health check reads, and in the log.
set -u
config=/etc/mail-system/acme.env
set -a
# shellcheck source=/dev/null
. "$config" || { echo "mail-acme: cannot read $config" >&2; exit 1; }
set +a
lock=/run/mail-acme.lock
lego_dir="$ACME_STATE/lego"
issued="$lego_dir/certificates/mail.crt"
request="$ACME_STATE/request"

say() { echo "mail-acme: $*" >&2; }

# The public key's digest: the one thing a served chain must share with the key file.
key_digest() { openssl pkey -in "$ACME_KEY" -pubout -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }
chain_digest() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }
# What the served certificate must have been asked for: the CA, the names, the key.
wanted() { printf '%s\n%s\n%s\n' "$ACME_DIRECTORY" "$ACME_NAMES" "$(key_digest)"; }

# ok|failed, when, the served certificate's end, a message: one file, replaced whole.
set_status() {
  local tmp end
  end="$(openssl x509 -in "$ACME_SERVED" -noout -enddate 2>/dev/null | cut -d= -f2)"
  tmp="$(mktemp "$ACME_STATE/.status.XXXXXX")"
  printf 'state=%s\nat=%s\nnotAfter=%s\nmessage=%s\n' "$1" "$(date -u +%s)" "$end" "$2" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$ACME_STATUS"
}

# Serves a chain (atomically: the daemons never read half a file).
serve() {
  local tmp
  tmp="$(mktemp "$ACME_STATE/.served.XXXXXX")"
  cat "$1" >"$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$ACME_SERVED"
}

# Makes the daemons that serve the certificate read it again; none restarts.
reload_daemons() {
  local u
  for u in $ACME_RELOAD_UNITS; do
    if [ -s /run/mail-system/supervisor.pid ] && [ -x /usr/local/sbin/mail-system-supervisor ]; then
      /usr/local/sbin/mail-system-supervisor ctl running "$u" && /usr/local/sbin/mail-system-supervisor ctl reload "$u"
    elif [ -d /run/systemd/system ]; then
      systemctl is-active --quiet "$u" && systemctl reload "$u"
    else
      service "$u" status >/dev/null 2>&1 && service "$u" reload </dev/null >/dev/null 2>&1
    fi || say "could not reload $u"
  done
}

prepare() {
  install -d -m 0755 "$ACME_STATE"
  if [ ! -s "$ACME_SERVED" ] || [ "$(chain_digest "$ACME_SERVED")" != "$(key_digest)" ]; then
    say "serving the bootstrap certificate until the CA's arrives"
    serve "$ACME_BOOTSTRAP"
    rm -f "$ACME_STATE/issued-for"
  fi
}

# Whether the served certificate is the CA's answer to what is wanted now.
current() { [ -s "$ACME_STATE/issued-for" ] && [ "$(cat "$ACME_STATE/issued-for")" = "$(wanted)" ]; }

# Whether a renewal is due: less than a third of the lifetime left.
due() {
  local start end now
  start="$(date -d "$(openssl x509 -in "$ACME_SERVED" -noout -startdate | cut -d= -f2)" +%s)" || return 0
  end="$(date -d "$(openssl x509 -in "$ACME_SERVED" -noout -enddate | cut -d= -f2)" +%s)" || return 0
  now="$(date -u +%s)"
  [ $(((end - now) * 3)) -lt $((end - start)) ]
}

# Asks the CA for a certificate of the server's key for ACME_NAMES; on
# success serves it and reloads the daemons. Its messages on stderr.
issue() {
  local first san n out
  # shellcheck disable=SC2086 # ACME_NAMES is a list of host names
  set -- $ACME_NAMES
  first="$1"
  san="$(printf 'DNS:%s,' "$@")"
  install -d -m 0700 "$lego_dir"
  openssl req -new -key "$ACME_KEY" -subj "/CN=$first" -addext "subjectAltName=${san%,}" -outform PEM -out "$request.csr" 2>/dev/null ||
    { say "cannot make a request for $ACME_NAMES with $ACME_KEY"; return 1; }
  rm -f "$issued"
  local how=()
  case "$ACME_CHALLENGE" in
    dns-01) how=(--dns rfc2136 --dns.resolvers "$ACME_RESOLVER") ;;
    http-01) how=(--http --http.port :80) ;;
    *) say "unknown challenge $ACME_CHALLENGE"; return 1 ;;
  esac
  if ! out="$(lego --accept-tos --server "$ACME_DIRECTORY" --email "$ACME_EMAIL" --path "$lego_dir" \
    --csr "$request.csr" --filename mail "${how[@]}" run 2>&1)"; then
    printf '%s\n' "$out" | tail -n 5 >&2
    LAST_ERROR="$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -n 1 | cut -c1-300)"
    return 1
  fi
  # What came back must be for our key and every name, or it is not served.
  [ "$(chain_digest "$issued")" = "$(key_digest)" ] || { LAST_ERROR="the CA's certificate is not for the server's key"; say "$LAST_ERROR"; return 1; }
  for n in "$@"; do
    openssl x509 -in "$issued" -noout -checkhost "$n" | grep -q 'does match' || { LAST_ERROR="the CA's certificate does not name $n"; say "$LAST_ERROR"; return 1; }
  done
  serve "$issued"
  wanted >"$ACME_STATE/issued-for"
  say "serving a new certificate for $ACME_NAMES, serial $(openssl x509 -in "$ACME_SERVED" -noout -serial | cut -d= -f2), valid until $(openssl x509 -in "$ACME_SERVED" -noout -enddate | cut -d= -f2)"
  reload_daemons
}

# One look: renew when the served certificate is not the CA's for what is
# wanted, or due, or when forced (the first argument). A failure keeps the
# served one and is recorded.
check() {
  LAST_ERROR=""
  if [ "${1:-}" != force ] && current && ! due; then
    # A failed renewal stays in the status (and the health check) until one succeeds.
    grep -qsx 'state=failed' "$ACME_STATUS" || set_status ok "serving the CA's certificate"
    return 0
  fi
  if issue; then
    set_status ok "renewed"
    return 0
  fi
  set_status failed "${LAST_ERROR:-lego failed}; still serving the certificate valid until $(openssl x509 -in "$ACME_SERVED" -noout -enddate 2>/dev/null | cut -d= -f2)"
  say "renewal failed: ${LAST_ERROR:-lego failed}; the served certificate stays"
  return 1
}

case "${1:-}" in
  prepare)
    prepare
    ;;
  ensure)
    exec 9>"$lock"
    flock 9
    prepare
    if check; then exit 0; fi
    # A renewal failing while the CA's certificate for these names is still
    # served is the loop's to retry (health shows it); a certificate never
    # issued fails the deploy.
    current && exit 0
    echo "mail-acme: could not get a certificate for $ACME_NAMES from $ACME_DIRECTORY: ${LAST_ERROR:-see the log}" >&2
    exit 1
    ;;
  renew)
    exec 9>"$lock"
    flock 9
    prepare
    check force
    ;;
  loop)
    while :; do
      (
        flock 9
        check
      ) 9>"$lock"
      sleep "$ACME_CHECK_SECONDS" &
      wait $!
    done
    ;;
  status)
    cat "$ACME_STATUS" 2>/dev/null || echo "state=none"
    ;;
  *)
    echo "usage: mail-acme prepare|ensure|renew|loop|status" >&2
    exit 2
    ;;
esac
