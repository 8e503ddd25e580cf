#!/usr/bin/env bash
# Runs a command (e.g. `pulumi up`) with the project's toolchain, after making
# sure it is set up: scripts/with-toolchain.sh pulumi preview --stack dev
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh" >&2
# shellcheck source=env.sh
. "$here/env.sh"
cd "$MAIL_SYSTEM_ROOT"
exec "$@"
