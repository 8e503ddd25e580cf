#!/usr/bin/env bash
# Brings a stack made by an earlier version of the program up to this one,
# before `pulumi up`: scripts/upgrade-state.sh STACK (npm run deploy runs it
# for dev). Idempotent; prints what it changed, nothing when nothing is due.
#
# 1. Earlier versions managed the mail database, its application user and the
#    grant with @pulumi/mysql. This version makes them itself (same names, same
#    password), so those resources and their provider only leave the state
#    (scripts/upgrade-state.js): deleting them through the provider would drop
#    the database and the user the new resources now hold. The administrator
#    account they used is dropped by the new db-database resource on the next
#    `up`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
cd "$MAIL_SYSTEM_ROOT"
stack="${1:?usage: scripts/upgrade-state.sh STACK}"

# A stack that does not exist yet has nothing to upgrade.
pulumi stack ls --json 2>/dev/null | node -e '
  const stacks = JSON.parse(require("fs").readFileSync(0, "utf8"));
  process.exit(stacks.some((s) => s.name === process.argv[1] || s.name.endsWith("/" + process.argv[1])) ? 0 : 1);
' "$stack" || exit 0

state="$(mktemp)"
trap 'rm -f "$state" "$state.new"' EXIT
pulumi stack export --stack "$stack" --file "$state"
node "$here/upgrade-state.js" "$state" "$state.new"
if [ -s "$state.new" ]; then
  pulumi stack import --stack "$stack" --file "$state.new" >&2
fi
