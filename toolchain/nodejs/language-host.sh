#!/bin/sh
# Runs the stand-in Node.js language host (sdk/v3 v3.68.0, built from Go
# modules: README "Toolchain") with the project's runtime options, as the
# official 3.248 host takes them. The 3.248 engine sends Pulumi.yaml's
# `runtime.options` over gRPC; the 3.68 host reads them only as flags, which
# the engine no longer passes, so they are read here from the Pulumi.yaml of
# the directory the engine starts the host in (the project's) and passed as
# -typescript, -tsconfig and -nodeargs.
#   language-host.sh REAL_HOST [engine arguments...]
real="$1"
shift
options="$(awk '
  /^[^ #]/ { in_runtime = ($1 == "runtime:"); in_options = 0; next }
  in_runtime && /^  [^ #]/ { in_options = ($1 == "options:"); next }
  in_runtime && in_options && /^    (typescript|tsconfig|nodeargs):/ {
    key = $1; sub(/:$/, "", key)
    value = $0; sub(/^    [a-z]+:[ ]*/, "", value); sub(/[ ]+#.*$/, "", value)
    gsub(/^["'\'']|["'\'']$/, "", value)
    print key "=" value
  }
' Pulumi.yaml 2>/dev/null)"
# The flags first (Go's flag package stops at the first argument that is not
# one), each option one argument whatever its value holds, then the engine's.
engine_args=$#
while IFS= read -r option; do
  [ -n "$option" ] && set -- "$@" "-$option"
done <<OPTIONS
$options
OPTIONS
i=0
while [ "$i" -lt "$engine_args" ]; do
  set -- "$@" "$1"
  shift
  i=$((i + 1))
done
exec "$real" "$@"
