# Sourced by the project's scripts: the environment in which `pulumi` runs the
# program with the toolchain that scripts/setup.sh provides. No side effects
# beyond exporting variables.

MAIL_SYSTEM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MAIL_SYSTEM_ROOT
# shellcheck source=../toolchain/versions.env
. "$MAIL_SYSTEM_ROOT/toolchain/versions.env"

# Built binaries live in a per-user cache keyed by name, version and source hash,
# so fresh clones on the same machine reuse them; .toolchain/bin links to them.
export MAIL_SYSTEM_CACHE_DIR="${MAIL_SYSTEM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mail-system}"
export MAIL_SYSTEM_TOOLCHAIN="$MAIL_SYSTEM_ROOT/.toolchain"
case ":$PATH:" in
  *":$MAIL_SYSTEM_TOOLCHAIN/bin:"*) ;;
  *) export PATH="$MAIL_SYSTEM_TOOLCHAIN/bin:$PATH" ;;
esac

# A project-local Pulumi home: its plugin cache holds exactly the plugins setup
# installed, whatever else the user has in ~/.pulumi.
export PULUMI_HOME="${PULUMI_HOME:-$MAIL_SYSTEM_TOOLCHAIN/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The dev lab's documented default passphrase (see README "State and secrets"),
# for the dev stack and the tests' throwaway stacks only: set
# PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to use your own.
# MAIL_SYSTEM_LAB_PASSPHRASE=1 marks that the default was taken, so the
# program (components/stackPassphrase.ts) refuses to run any other stack on it.
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE="mail-system-dev-lab"
  export MAIL_SYSTEM_LAB_PASSPHRASE=1
fi
export BASE_IMAGE="${MAIL_SYSTEM_BASE_IMAGE:-$BASE_IMAGE}"
