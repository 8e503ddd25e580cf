#!/usr/bin/env bash
# The project's test command (README): set-up, static checks, the providers'
# Go tests, then jest (unit tests and end-to-end tests on throwaway stacks).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
# shellcheck source=env.sh
. "$here/env.sh"
cd "$MAIL_SYSTEM_ROOT"

t0=$SECONDS
# The command plugin's Go tests start a throwaway OpenSSH server of their own
# (on 127.0.0.1) from Debian's package.
if ! [ -x /usr/sbin/sshd ]; then
  echo "test: installing test dependencies (openssh-server)"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
  else
    echo "test: cannot install them here (not root on Debian); those Go tests will be skipped" >&2
  fi
fi

# The end-to-end tests verify DKIM signatures with dkimpy and dnspython, and
# DNSSEC with dnspython, which needs cryptography 50 or newer for it (PyPI).
if ! python3 -c 'import dkim, dns.resolver, cryptography; assert int(cryptography.__version__.split(".")[0]) >= 50' 2>/dev/null; then
  echo "test: installing test dependencies (dkimpy, dnspython, cryptography)"
  python3 -m pip install --quiet dkimpy==1.1.8 dnspython==2.9.2 cryptography==51.0.1
fi

echo "test: typecheck"
npx tsc --noEmit -p .

# The plugins and the module they share (toolchain/providers/shared).
echo "test: provider plugins (go vet, go test)"
for p in $PROVIDERS shared; do
  d="toolchain/providers/$p"
  unformatted="$(gofmt -l "$d")"
  [ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
  (cd "$d" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go vet ./... && GOFLAGS="${GOFLAGS:-} -mod=readonly" go test -count=1 ./...)
done

echo "test: jest"
npx jest --ci "$@"
echo "test: done in $((SECONDS - t0))s after set-up"
