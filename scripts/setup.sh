#!/usr/bin/env bash
# Provides everything `pulumi up` needs, from a fresh clone, idempotently:
# Node dependencies, the Pulumi CLI and Node.js language host, the provider
# plugins, a running Docker engine and the base image. Each step prints one
# line with the time it took; a warm re-run only checks and takes seconds.
#
# Preference order for each binary: already provided (cache or PATH) at the
# right version; else the official download when reachable; else a build from
# the published Go modules (toolchain/*), which is what happens on machines
# that reach only the npm registry, the Go module proxy and Debian's packages.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
cd "$MAIL_SYSTEM_ROOT"

logs="$MAIL_SYSTEM_CACHE_DIR/logs"
# The local state backend of Pulumi.yaml must exist before pulumi opens it.
mkdir -p "$MAIL_SYSTEM_TOOLCHAIN/bin" "$PULUMI_HOME" "$logs" "$MAIL_SYSTEM_ROOT/.pulumi-state"
setup_started=$SECONDS

# step NAME FUNCTION: runs FUNCTION, prints "setup: NAME: <what it said> (Ns)".
# A function reports what it did by echoing one short line on stdout; its
# noisy output goes to a log file whose tail is shown if it fails. It runs in a
# subshell with errexit on (a plain command, so errexit really applies inside).
step() {
  local name="$1" fn="$2" t0=$SECONDS rc out
  set +e
  (set -e; "$fn") >"$logs/$name.out" 2>>"$logs/$name.log"
  rc=$?
  set -e
  out="$(cat "$logs/$name.out")"
  if [ "$rc" -ne 0 ]; then
    echo "setup: $name: FAILED after $((SECONDS - t0))s${out:+ ($out)}; last lines of $logs/$name.log:" >&2
    tail -n 25 "$logs/$name.log" >&2 || true
    exit "$rc"
  fi
  echo "setup: $name: ${out:-ok} ($((SECONDS - t0))s)"
}

# Hash of the files that determine a Go build (sources, go.mod, go.sum).
source_hash() {
  (cd "$1" && find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

# The local modules the Go module in DIR uses through a `replace M => ../dir`
# of its go.mod (the plugins' ../shared), as paths relative to DIR.
local_replacements() {
  awk '/^replace[ \t]*\(/ { block = 1; next } block && /^\)/ { block = 0 }
    (block || /^replace[ \t]/) && $NF ~ /^\.\.?\// { print $NF }' "$1/go.mod"
}

official_reachable() {
  if [ -z "${_official_reachable:-}" ]; then
    if [ "${MAIL_SYSTEM_OFFLINE_TOOLCHAIN:-}" != 1 ] &&
      curl -fsS --connect-timeout 5 --max-time 10 -o /dev/null -I https://get.pulumi.com/ 2>/dev/null; then
      _official_reachable=yes
    else
      _official_reachable=no
    fi
  fi
  [ "$_official_reachable" = yes ]
}

go_build() { # go_build DIR OUTPUT PACKAGE LDFLAGS [TAGS]
  local dir="$1" out="$2" pkg="$3" ldflags="$4" tags="${5:-}"
  command -v go >/dev/null || { echo "Go is required to build $pkg (go 1.25+)" >&2; return 1; }
  mkdir -p "$(dirname "$out")"
  (cd "$dir" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -trimpath ${tags:+-tags "$tags"} \
    -ldflags "$ldflags" -o "$out.tmp" "$pkg") >&2
  mv -f "$out.tmp" "$out"
}

link_bin() { ln -sfn "$1" "$MAIL_SYSTEM_TOOLCHAIN/bin/$(basename "$2")"; }

node_deps() {
  local want have
  want="$(sha256sum package-lock.json | cut -c1-16)"
  have="$(cat node_modules/.mail-system-lock 2>/dev/null || true)"
  if [ "$want" = "$have" ]; then echo "node_modules up to date"; return; fi
  npm ci --no-audit --no-fund >&2
  echo "$want" >node_modules/.mail-system-lock
  echo "installed from package-lock.json"
}

pulumi_cli() {
  local key dir how=cached
  key="cli-$PULUMI_VERSION-$(source_hash toolchain/cli)-nodejs-$NODEJS_HOST_VERSION-$(source_hash toolchain/nodejs)"
  dir="$MAIL_SYSTEM_CACHE_DIR/toolchain/$key"
  # The dynamic-provider host is a script shipped in the SDK package.
  link_bin "$MAIL_SYSTEM_ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" pulumi-resource-pulumi-nodejs
  if [ ! -x "$dir/pulumi" ] || [ ! -x "$dir/pulumi-language-nodejs" ]; then
    local other
    other="$(PATH="${PATH//$MAIL_SYSTEM_TOOLCHAIN\/bin:/}" command -v pulumi || true)"
    if [ -n "$other" ] && [ "$("$other" version 2>/dev/null)" = "v$PULUMI_VERSION" ] &&
      [ -x "$(dirname "$other")/pulumi-language-nodejs" ]; then
      dir="$(dirname "$other")"
      how="already installed at $dir"
    elif official_reachable; then
      mkdir -p "$dir"
      curl -fsSL --max-time 600 "https://get.pulumi.com/releases/sdk/pulumi-v$PULUMI_VERSION-linux-x64.tar.gz" |
        tar -xz -C "$dir" --strip-components=1 pulumi/pulumi pulumi/pulumi-language-nodejs
      how=downloaded
    else
      go_build toolchain/cli "$dir/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
        "-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" osusergo,grpcnotrace
      go_build toolchain/nodejs "$dir/pulumi-language-nodejs" \
        github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
        "-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$NODEJS_HOST_VERSION"
      how="built from Go modules"
    fi
  fi
  link_bin "$dir/pulumi" pulumi
  # A host built from sdk/v3 (the stand-in, v3.68.0) takes the project's
  # runtime options only as flags: toolchain/nodejs/language-host.sh passes
  # them. The official host (its own module) reads them itself. The wrapper
  # takes the host's place next to the CLI, where the CLI looks for the host
  # it ships with: a host on PATH that resolves elsewhere makes every command
  # warn "using pulumi-language-nodejs from $PATH at ... expected ...".
  # The directory is keyed by toolchain/nodejs, the script included.
  local host="$dir/pulumi-language-nodejs" standin="$dir/pulumi-language-nodejs-sdk-v3"
  if [ "$dir" = "$MAIL_SYSTEM_CACHE_DIR/toolchain/$key" ] && command -v go >/dev/null &&
    go version -m "$host" 2>/dev/null |
    grep -q "path[[:space:]]github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs$"; then
    cp "$MAIL_SYSTEM_ROOT/toolchain/nodejs/language-host.sh" "$dir/language-host.sh"
    printf '#!/bin/sh\nexec /bin/sh %s %s "$@"\n' "$dir/language-host.sh" "$standin" >"$host.new"
    chmod 0755 "$host.new"
    # Renames: a checkout running the old host meanwhile keeps its file.
    mv -f "$host" "$standin"
    mv -f "$host.new" "$host"
  fi
  link_bin "$host" pulumi-language-nodejs
  [ "$(pulumi version)" = "v$PULUMI_VERSION" ] || { echo "pulumi version is $(pulumi version)" >&2; return 1; }
  echo "pulumi v$PULUMI_VERSION ($how)"
}

# The version of a provider plugin that its npm package asks for.
npm_plugin_version() {
  node -p "require('./node_modules/@pulumi/$1/package.json').pulumi.version"
}

# check_standin NAME VERSION: fails unless our stand-in for plugin NAME
# implements VERSION (STANDIN_VERSIONS), so that a routine bump of an npm
# package never silently relabels ours as the new version.
check_standin() {
  local name="$1" version="$2" pair implements=""
  for pair in $STANDIN_VERSIONS; do
    if [ "${pair%%=*}" = "$name" ]; then implements="${pair#*=}"; fi
  done
  [ "$implements" = "$version" ] && return 0
  echo "@pulumi/$name in package-lock.json asks for plugin $name $version, but our stand-in" \
    "(toolchain/providers/$name) implements ${implements:-no version} (STANDIN_VERSIONS in" \
    "toolchain/versions.env). Check it against $version's SDK and docs before changing that line," \
    "or keep @pulumi/$name at ${implements:-the version it implements}." >&2
  return 1
}

installed_plugin_dir() { # NAME VERSION: the plugin cache entry, if any
  local d="$PULUMI_HOME/plugins/resource-$1-v$2"
  [ -x "$d/pulumi-resource-$1" ] && [ ! -e "$d.partial" ] && echo "$d"
}

provider() { # provider NAME
  local name="$1" version label key r bin d
  version="$(npm_plugin_version "$name")"
  if installed_plugin_dir "$name" "$version" >/dev/null; then
    echo "$name $version (official) installed"
    return
  fi
  if official_reachable && pulumi plugin install resource "$name" "$version" >&2; then
    echo "$name $version (official) downloaded"
    return
  fi
  check_standin "$name" "$version"
  label="$version+$LOCAL_BUILD_LABEL"
  key="$name-$version-$(source_hash "toolchain/providers/$name")"
  # The modules it replaces with local directories are part of its build.
  for r in $(local_replacements "toolchain/providers/$name"); do
    key="$key-$(source_hash "toolchain/providers/$name/$r")"
  done
  bin="$MAIL_SYSTEM_CACHE_DIR/toolchain/$key/pulumi-resource-$name"
  local built=cached
  if [ ! -x "$bin" ]; then
    go_build "toolchain/providers/$name" "$bin" . "-w -s -X main.version=$label"
    built=built
  fi
  d="$(installed_plugin_dir "$name" "$label" || true)"
  if [ -n "$d" ] && cmp -s "$bin" "$d/pulumi-resource-$name"; then
    echo "$name $label ($built) installed"
    return
  fi
  pulumi plugin install resource "$name" "$label" --file "$bin" --reinstall >&2
  echo "$name $label ($built) installed"
}

providers() {
  local p out=""
  for p in $PROVIDERS; do out="${out:+$out; }$(provider "$p")"; done
  out="$out$(remove_unused_plugins)"
  echo "$out"
}

# Plugins the program no longer uses (mysql, since it stopped using
# @pulumi/mysql) leave the project's own plugin cache: with them gone, a stack
# that still holds such resources fails before touching them, and
# scripts/upgrade-state.sh says what to do, instead of the old plugin deleting
# what the new program now manages itself (the mail database).
remove_unused_plugins() {
  [ "$PULUMI_HOME" = "$MAIL_SYSTEM_TOOLCHAIN/pulumi-home" ] || return 0
  local d name removed=""
  for d in "$PULUMI_HOME"/plugins/resource-*; do
    [ -d "$d" ] || continue
    name="${d##*/resource-}"
    name="${name%%-v*}"
    case " $PROVIDERS " in *" $name "*) continue ;; esac
    rm -rf "$d" "$d.partial" "$d.lock"
    removed="$removed ${d##*/}"
  done
  [ -z "$removed" ] || echo "; removed unused plugins:$removed"
}

docker_engine() {
  if timeout 20 docker info >/dev/null 2>&1; then echo "running"; return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "no Docker engine answers, and this is not root on Debian: start one (docker info must work)" >&2
    return 1
  fi
  if ! command -v dockerd >/dev/null; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
  fi
  # Nothing supervises services on these machines: start dockerd detached.
  setsid nohup dockerd >>/var/log/mail-system-dockerd.log 2>&1 </dev/null &
  local i
  for i in $(seq 1 60); do
    if timeout 5 docker info >/dev/null 2>&1; then echo "started dockerd"; return; fi
    sleep 1
  done
  echo "dockerd did not come up in 60s; see /var/log/mail-system-dockerd.log" >&2
  return 1
}

base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then echo "$BASE_IMAGE present"; return; fi
  if timeout 60 docker pull "$BASE_IMAGE" >&2; then echo "$BASE_IMAGE pulled"; return; fi
  case "$BASE_IMAGE" in
    debian:*) ;;
    *) echo "cannot pull $BASE_IMAGE and can only make debian:* images locally" >&2; return 1 ;;
  esac
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  local suite="${BASE_IMAGE#debian:}" rootfs
  suite="${suite%-slim}"
  rootfs="$(mktemp -d)"
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" \
    "${MAIL_SYSTEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2
  # Same tag as the registry's, so Dockerfiles stay unchanged for users who can pull.
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >&2
  rm -rf "$rootfs"
  echo "$BASE_IMAGE made with debootstrap"
}

# Sourced (by tests) for its functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

step node-deps node_deps
step pulumi-cli pulumi_cli
step providers providers
step docker-engine docker_engine
step base-image base_image
echo "setup: done in $((SECONDS - setup_started))s"
