// The shell scripts that put a server on a Linux host over SSH, as pure
// functions of plain values (tests read them and run them). Every script
// arrives on stdin, never in the command line, so secrets in it stay out of
// `ps` and the SSH server's logs; the command line only says which phase to
// run. Each script runs as root (directly, or through `sudo -n`), under one
// lock per host, so roles sharing a host never run the package manager at
// the same time, and is written to be run again safely.
import { createHash } from "crypto";
import { RHEL_REPOSITORIES } from "../packages";
import { shq } from "../render/template";
import { RenderedFile } from "../render/types";
import { OsFamily, ServiceSpec } from "./server";

/** Where the program keeps its records on a host (what it installed, wrote and created). */
export const STATE_DIR = "/var/lib/mail-system";
/**
 * The program's own run-time directory on a host (and the containers'
 * supervisor's): root's alone (0700), for the lock and temporary files, so
 * no other user can plant them or a link in their place (as in the
 * world-writable /run/lock or /tmp).
 */
export const RUN_DIR = "/run/mail-system";
/** The lock every script of the program takes on a host (the supervisor's own is RUN_DIR/lock). */
export const LOCK_FILE = `${RUN_DIR}/scripts.lock`;
/** Suffix of the copy of a file the program replaced, put back on destroy. */
export const ORIGINAL_SUFFIX = ".mail-system-orig";
/** Where health checks are installed (a directory every family has, so nothing shared is made). */
export const HEALTHCHECK_DIR = "/usr/local/sbin";
/** The containers' supervisor (files/common/supervisor.sh) and where it keeps its state. */
export const SUPERVISOR_PATH = "/usr/local/sbin/mail-system-supervisor";
export const SUPERVISOR_RUN_DIR = RUN_DIR;
/** The supervisor's manifest: the units it may run, in start order. */
export const SERVICES_MANIFEST = "/etc/mail-system/services";

export type Phase = "create" | "update" | "delete";

/**
 * The command line of a phase: reads the script from stdin whole (so nothing
 * the script runs can eat the rest of it), then runs it as root with the
 * phase as $1.
 */
export function rootCommand(phase: Phase): string {
  return (
    `sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"; ` +
    `$sudo sh -c 'script="$(cat)"; eval "$script"' mail-system ${phase}`
  );
}

/**
 * The command line of a phase in a container (`docker exec`, as root), with
 * the container's ID in $CONTAINER. A container that is gone has nothing
 * left to undo, so its delete phase does nothing.
 */
export function containerCommand(phase: Phase): string {
  const exec = `docker exec -i "$CONTAINER" sh -c 'script="$(cat)"; eval "$script"' mail-system ${phase}`;
  return phase === "delete" ? `if docker container inspect "$CONTAINER" >/dev/null 2>&1; then ${exec}; fi` : exec;
}

/** A script with an apply part (create, update) and a revert part (delete), under the host's lock. */
export function phasedScript(title: string, apply: string, revert = ":"): string {
  return [
    "set -eu",
    `# mail-system: ${title.replace(/\n/g, " ")}`,
    "umask 022",
    `mkdir -p ${STATE_DIR}`,
    // Made 0700 if missing; refused if it is a link or not root's (only
    // root can create it in /run: someone else's means a tampered host).
    `[ -d ${RUN_DIR} ] || mkdir -m 0700 ${RUN_DIR} 2>/dev/null || :`,
    `if [ -L ${RUN_DIR} ] || [ ! -d ${RUN_DIR} ] || [ ! -O ${RUN_DIR} ]; then echo "mail-system: ${RUN_DIR} is not a directory owned by root (a link, or another user's): refusing to use it" >&2; exit 1; fi`,
    `chmod 0700 ${RUN_DIR}`,
    // One lock per host for every script of the program (10 minutes at most);
    // in /run, so nothing of it outlives the last destroy.
    `exec 9>${LOCK_FILE}`,
    "flock -w 600 9 || { echo 'mail-system: another run holds the host lock' >&2; exit 1; }",
    // The phase, for scripts that do less when run again than when first run.
    'phase="$1"',
    `mail_system_apply() {\n${indent(apply)}\n}`,
    `mail_system_revert() {\n${indent(revert)}\n}`,
    'case "$1" in create|update) mail_system_apply ;; delete) mail_system_revert ;; *) echo "unknown phase $1" >&2; exit 2 ;; esac',
    // The records directory goes with the last record in it.
    `[ "$1" != delete ] || rmdir ${STATE_DIR} 2>/dev/null || true`,
    "",
  ].join("\n");
}

// Not indented: bodies hold here-documents and multi-line quoted strings.
function indent(body: string): string {
  return body.trim() === "" ? ":" : body.trimEnd();
}

// ------------------------------------------------------------------ facts

/** What the program learns about a host before rendering anything for it. */
export interface HostFacts {
  readonly family: OsFamily;
  /** e.g. "debian 12", "rocky 8.9". */
  readonly os: string;
  /** Whether systemd is PID 1 (else the distribution's service scripts are used). */
  readonly systemd: boolean;
  /** The address the SSH client (the Pulumi engine's host) connects from. */
  readonly clientAddress: string;
}

/** Run as the SSH user (no root needed): prints key=value lines for parseFacts. */
export const FACTS_SCRIPT = [
  "set -eu",
  ". /etc/os-release",
  'case " ${ID:-} ${ID_LIKE:-} " in',
  "  *' debian '*|*' ubuntu '*) family=debian ;;",
  "  *' rhel '*|*' fedora '*|*' centos '*) family=rhel ;;",
  '  *) echo "mail-system: unsupported distribution ${ID:-unknown} (${ID_LIKE:-}): need the debian or rhel family" >&2; exit 1 ;;',
  "esac",
  "if [ -d /run/systemd/system ]; then init=systemd; else init=sysv; fi",
  'echo "family=$family"',
  'echo "os=${ID:-unknown} ${VERSION_ID:-}"',
  'echo "init=$init"',
  'echo "client=${SSH_CLIENT%% *}"',
].join("\n");

/** Parses FACTS_SCRIPT's output; throws with the output when it is not what the script prints. */
export function parseFacts(stdout: string): HostFacts {
  const values = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const family = values.get("family");
  const client = values.get("client") ?? "";
  if (family !== "debian" && family !== "rhel") throw new Error(`host facts: unknown family in ${JSON.stringify(stdout)}`);
  if (!/^[0-9a-fA-F.:]+$/.test(client)) throw new Error(`host facts: no SSH client address in ${JSON.stringify(stdout)}`);
  return { family, os: values.get("os") ?? "", systemd: values.get("init") === "systemd", clientAddress: client };
}

// --------------------------------------------------------------- packages

const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9.+_-]*$/;
const DEBCONF_LINE = /^[a-z0-9.+-]+ [A-Za-z0-9/_.+-]+ (select|string|boolean|note) [^\n'"\\$`]*$/;

/**
 * Installs the packages a role needs that are missing, group by group, and
 * records the ones it installed; the revert removes exactly those (never a
 * package that was there before), then runs the role's own revert.
 */
export function packagesScript(
  role: string,
  family: OsFamily,
  groups: readonly (readonly string[])[],
  options: { debconf?: readonly string[]; prepare?: { apply: string; revert: string } } = {},
): string {
  checkRole(role);
  for (const p of groups.flat()) if (!PACKAGE_NAME.test(p)) throw new Error(`package ${JSON.stringify(p)} is not a package name`);
  for (const d of options.debconf ?? []) if (!DEBCONF_LINE.test(d)) throw new Error(`debconf selection ${JSON.stringify(d)} is not one`);
  const record = `${STATE_DIR}/${role}.packages`;
  const repoRecord = `${STATE_DIR}/${role}.repos`;
  // On RHEL, the publisher's repository of a missing package EPEL lacks,
  // added (and recorded, for the revert) unless already there.
  const addRepos = (g: readonly string[]) =>
    family !== "rhel"
      ? []
      : g.flatMap((p) => {
          const repo = RHEL_REPOSITORIES[p];
          if (!repo) return [];
          const url = repo.url.replace("$releasever", "$(rpm -E %rhel)");
          return [
            `  case " $missing " in *" ${p} "*)`,
            `    if [ ! -f ${repo.file} ]; then`,
            `      if ! curl -fsS --retry 3 -o ${repo.file}.new "${url}"; then`,
            `        rm -f ${repo.file}.new; echo "mail-system: ${p} is not in RHEL or EPEL and its repository (${url}) could not be fetched: add it as ${repo.file} yourself and run again" >&2; exit 1`,
            "      fi",
            `      mv -f ${repo.file}.new ${repo.file}; echo ${repo.file} >>${repoRecord}`,
            "    fi;;",
            "  esac",
          ];
        });
  const apt = "apt-get -o DPkg::Lock::Timeout=600";
  const pm =
    family === "debian"
      ? {
          installed: `dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'`,
          refresh: `${apt} update -qq`,
          // apt may remove installed packages that conflict with new ones:
          // the simulation names them and stops first, and --no-remove makes
          // apt itself refuse should it still want to.
          conflicts: [
            `  removes="$(apt-get -s install --no-install-recommends $missing 2>&1 | sed -n 's/^Remv \\([^ :]*\\).*/\\1/p' | tr '\\n' ' ')"`,
            '  if [ -n "$removes" ]; then',
            `    echo "mail-system: installing$missing would remove \${removes% } (conflicting packages); remove or replace them yourself, or leave this host out" >&2`,
            "    exit 1",
            "  fi",
          ],
          install: `DEBIAN_FRONTEND=noninteractive ${apt} install -y -qq --no-remove --no-install-recommends`,
          // What else removing them would remove (packages that depend on them).
          others: [
            `  if ! plan="$(apt-get -s remove $pkgs 2>&1)"; then`,
            `    echo "mail-system: keeping$pkgs (installed by the program): apt-get cannot plan their removal:" >&2`,
            `    printf '%s\\n' "$plan" >&2`,
            "  else",
            `    others="$(printf '%s\\n' "$plan" | sed -n 's/^Remv \\([^ :]*\\).*/\\1/p' | grep -vxF -f "$record" | tr '\\n' ' ')"`,
            '    if [ -n "$others" ]; then',
            `      echo "mail-system: keeping$pkgs (installed by the program): removing them would also remove \${others% }, which depend on them" >&2`,
            "    else",
            `      DEBIAN_FRONTEND=noninteractive ${apt} remove -y -qq $pkgs </dev/null 9>&-`,
            "    fi",
            "  fi",
          ],
        }
      : {
          installed: `rpm -q "$p" >/dev/null 2>&1`,
          refresh: ":",
          // (dnf never removes a conflicting package without --allowerasing.)
          conflicts: [],
          install: "dnf install -y -q",
          // rpm's own dependency check: fails, naming them, when installed
          // packages outside the set need one of them.
          others: [
            '  if ! plan="$(rpm -e --test $pkgs 2>&1)"; then',
            `    echo "mail-system: keeping$pkgs (installed by the program): other packages need them:" >&2`,
            `    printf '%s\\n' "$plan" >&2`,
            "  else",
            "    dnf remove -y -q $pkgs </dev/null 9>&-",
            "  fi",
          ],
        };
  const apply = [
    `record=${record}`,
    "touch \"$record\"",
    ...(family === "debian" && options.debconf?.length
      ? [`printf '%s\\n' ${options.debconf.map(shq).join(" ")} | debconf-set-selections`]
      : []),
    "refreshed=no",
    ...groups.map((g) =>
      [
        "missing=",
        `for p in ${g.join(" ")}; do ${pm.installed} || missing="$missing $p"; done`,
        'if [ -n "$missing" ]; then',
        `  if [ "$refreshed" = no ]; then ${pm.refresh}; refreshed=yes; fi`,
        ...pm.conflicts,
        ...addRepos(g),
        // (A package may start its daemon: it must not inherit the host's lock.)
        `  ${pm.install} $missing </dev/null 9>&-`,
        '  for p in $missing; do echo "$p"; done >>"$record"',
        "fi",
      ].join("\n"),
    ),
    ...(options.prepare ? [options.prepare.apply] : []),
  ].join("\n");
  // Only the recorded packages still installed; kept, with the reason, when
  // removing them would take others with them (the destroy goes on).
  const revert = [
    ...(options.prepare ? [options.prepare.revert] : []),
    `record=${record}`,
    "pkgs=",
    `if [ -s "$record" ]; then for p in $(sort -u "$record"); do if ${pm.installed}; then pkgs="$pkgs $p"; fi; done; fi`,
    'if [ -n "$pkgs" ]; then',
    ...pm.others,
    "fi",
    'rm -f "$record"',
    // The repositories the program added.
    `if [ -s ${repoRecord} ]; then for f in $(sort -u ${repoRecord}); do rm -f "$f"; done; fi`,
    `rm -f ${repoRecord}`,
  ].join("\n");
  return phasedScript(`packages of ${role}`, apply, revert);
}

// ------------------------------------------------------------------ files

const SAFE_PATH = /^\/(?:[A-Za-z0-9._+@-]+\/)*[A-Za-z0-9._+@-]+$/;
const ACCOUNT = /^[a-z_][a-z0-9_-]*$/;
const MODE = /^0?[0-7]{3}$/;

/**
 * Throws unless every file has a plain absolute path (listed once), account
 * names for owner and group, and an octal mode: what the scripts that place
 * files may put on a shell line unquoted.
 */
export function checkFiles(files: readonly RenderedFile[]): void {
  const seen = new Set<string>();
  for (const f of files) {
    if (!SAFE_PATH.test(f.path) || f.path.split("/").includes("..")) throw new Error(`file path ${JSON.stringify(f.path)} is not a plain absolute path`);
    if (seen.has(f.path)) throw new Error(`file ${f.path} is listed twice`);
    seen.add(f.path);
    if (!ACCOUNT.test(f.owner) || !ACCOUNT.test(f.group)) throw new Error(`file ${f.path}: owner ${f.owner}:${f.group} is not an account name`);
    if (!MODE.test(f.mode)) throw new Error(`file ${f.path}: mode ${f.mode} is not octal`);
  }
}

/**
 * Writes a role's files (each atomically, with its owner, group and mode set
 * before it appears), keeping a copy of any file of the system it replaces.
 * Files the role wrote before and no longer has are removed (or their
 * originals put back); the revert does that for all of them.
 *
 * `set` names one of several sets of the role's files written by steps of
 * their own (e.g. "early": ServerSpec.earlyFiles), each with its own record.
 * A file another set of the role records is the program's, not the
 * system's: it is neither kept as an original nor removed when it moves
 * from one set to the other (the sets' steps run in the order of the sets
 * named, the unnamed last).
 */
export function filesScript(role: string, files: readonly RenderedFile[], set?: string): string {
  checkRole(role);
  if (set !== undefined) checkRole(set);
  checkFiles(files);
  const record = set === undefined ? `${STATE_DIR}/${role}` : `${STATE_DIR}/${role}.${set}`;
  const manifest = `${record}.files`;
  const helpers = [
    `manifest=${manifest}`,
    `dirs=${record}.dirs`,
    `orig=${shq(ORIGINAL_SUFFIX)}`,
    'touch "$manifest" "$dirs"',
    // Whether another set of the role's files records this path. (Role and
    // set names have no dot, so the globs match only this role's records.)
    "elsewhere() {",
    `  for m in ${STATE_DIR}/${role}.files ${STATE_DIR}/${role}.*.files; do`,
    '    [ "$m" != "$manifest" ] && [ -f "$m" ] && grep -qxF "$1" "$m" && return 0',
    "  done",
    "  return 1",
    "}",
    // Remove a file the program wrote, putting back what was there before
    // (a regular file: never a link someone put in its place).
    "unput() {",
    '  if [ -f "$1$orig" ] && [ ! -L "$1$orig" ]; then mv -f "$1$orig" "$1"; else rm -f "$1"; fi',
    "}",
  ];
  const apply = [
    ...helpers,
    // Make a directory and its missing parents, recording each one made.
    "mkdirs() {",
    '  [ -d "$1" ] && return 0',
    '  mkdirs "$(dirname "$1")"',
    '  mkdir -m 0755 "$1"',
    '  echo "$1" >>"$dirs"',
    "}",
    // Whether only root (we) can change what is in a directory (ours, not a
    // link, not writable by group or others): a daemon's own data directory
    // (e.g. /var/lib/bind, group bind) is not.
    "rootonly() {",
    '  [ -d "$1" ] && [ ! -L "$1" ] || return 1',
    '  set -- $(ls -ldn "$1")',
    '  case "$1" in d????-??-*) [ "$3" = "$(id -u)" ] ;; *) return 1 ;; esac',
    "}",
    // Each file is made (mktemp: O_EXCL, 0600), given its content, mode and
    // owner (chown -h: never through a link) in such a directory, the
    // target's or its nearest such parent (the same filesystem, so the
    // final mv is a rename that replaces whatever is at the path, a link
    // included, without following it).
    "put() { # path owner group mode base64",
    '  mkdirs "$(dirname "$1")"',
    '  stage="$(dirname "$1")"',
    '  while [ "$stage" != / ] && ! rootonly "$stage"; do stage="$(dirname "$stage")"; done',
    '  if [ -f "$1" ] && [ ! -L "$1" ] && [ ! -e "$1$orig" ] && ! grep -qxF "$1" "$manifest" && ! elsewhere "$1"; then',
    '    tmp="$(mktemp "$stage/.mail-system-orig.XXXXXX")"',
    '    cp -p "$1" "$tmp"',
    '    mv -f "$tmp" "$1$orig"',
    "  fi",
    '  tmp="$(mktemp "$stage/.mail-system-new.XXXXXX")"',
    '  printf \'%s\' "$5" | base64 -d >"$tmp"',
    // (chmod first: a file root no longer owns needs CAP_FOWNER, which a
    // confined container lacks.)
    '  chmod "$4" "$tmp"',
    '  chown -h "$2:$3" "$tmp"',
    '  mv -f "$tmp" "$1"',
    "}",
    ...files.map((f) => `put ${shq(f.path)} ${f.owner} ${f.group} ${f.mode} ${shq(Buffer.from(f.content).toString("base64"))}`),
    // Files of an earlier run that the role no longer has.
    `wanted=${shq(files.map((f) => f.path).join("\n"))}`,
    'while IFS= read -r p; do',
    '  [ -n "$p" ] || continue',
    '  printf \'%s\\n\' "$wanted" | grep -qxF "$p" || elsewhere "$p" || unput "$p"',
    'done <"$manifest"',
    'printf \'%s\\n\' "$wanted" >"$manifest"',
  ].join("\n");
  const revert = [
    ...helpers,
    'while IFS= read -r p; do [ -z "$p" ] || elsewhere "$p" || unput "$p"; done <"$manifest"',
    // The directories it made, deepest first, as far as they are empty.
    'sort -r "$dirs" | while IFS= read -r d; do [ -z "$d" ] || rmdir "$d" 2>/dev/null || true; done',
    'rm -f "$manifest" "$dirs"',
  ].join("\n");
  return phasedScript(set === undefined ? `files of ${role}` : `${set} files of ${role}`, apply, revert);
}

/** A digest of the files a service reads (path, owner, group, mode and content): in its unit's script (serviceScript). */
export function filesDigest(files: readonly RenderedFile[]): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    h.update(JSON.stringify([f.path, f.owner, f.group, f.mode, f.content]));
  }
  return h.digest("hex");
}

// --------------------------------------------------------------- services

/**
 * A shell function `svc ACTION UNIT`: in a container, the program's
 * supervisor; on a host, systemd when it is PID 1, else the distribution's
 * service scripts.
 */
const SVC = [
  "svc() {",
  `  if [ -s ${SUPERVISOR_RUN_DIR}/supervisor.pid ] && [ -x ${SUPERVISOR_PATH} ]; then`,
  `    ${SUPERVISOR_PATH} ctl "$1" "$2"`,
  "  elif [ -d /run/systemd/system ]; then",
  '    case "$1" in',
  // The program writes units of its own (mail-guard): systemd reads them again first.
  '      enable) systemctl daemon-reload; systemctl enable --quiet "$2" ;;',
  '      start|restart) systemctl daemon-reload; systemctl "$1" "$2" ;;',
  '      disable) systemctl disable --quiet "$2" 2>/dev/null || true ;;',
  '      running) systemctl is-active --quiet "$2" ;;',
  '      *) systemctl "$1" "$2" ;;',
  "    esac",
  "  else",
  '    case "$1" in',
  // Without systemd there is no runlevel to enable a script in; record the
  // wish where the distribution keeps it, when it has the tool for it.
  '      enable) if command -v update-rc.d >/dev/null; then update-rc.d "$2" defaults >/dev/null 2>&1 || true; update-rc.d "$2" enable >/dev/null 2>&1 || true; elif command -v chkconfig >/dev/null; then chkconfig "$2" on || true; fi ;;',
  '      disable) if command -v update-rc.d >/dev/null; then update-rc.d "$2" disable >/dev/null 2>&1 || true; elif command -v chkconfig >/dev/null; then chkconfig "$2" off || true; fi ;;',
  '      running) service "$2" status >/dev/null 2>&1 ;;',
  '      *) [ -x "/etc/init.d/$2" ] || { echo "mail-system: no systemd and no /etc/init.d/$2 to run $2" >&2; return 1; }',
  // A daemon started from an init script inherits its open files: were they
  // the SSH session's, the command would never end (Dovecot keeps them), and
  // with the lock's descriptor it would hold the host's lock forever.
  `         svc_log="$(mktemp ${RUN_DIR}/svc-log.XXXXXX)"`,
  '         if service "$2" "$1" </dev/null >"$svc_log" 2>&1 9>&-; then rm -f "$svc_log"; else cat "$svc_log" >&2; rm -f "$svc_log"; return 1; fi ;;',
  "    esac",
  "  fi",
  "}",
].join("\n");

const UNIT = /^[A-Za-z0-9@._-]+$/;

function unitOf(service: ServiceSpec, family: OsFamily): string {
  const unit = service.unit[family];
  if (!UNIT.test(unit)) throw new Error(`service name ${JSON.stringify(unit)} is not one`);
  return unit;
}

/**
 * Enables a daemon and (re)starts it so the written configuration is live (a
 * package may have started it with its own); the revert stops and disables
 * it. `digest` is filesDigest of the files the daemon reads: it is part of
 * the script, so a change of one of them updates this step, and an update
 * has the running daemon pick them up (its check, then a reload or a
 * restart, as the service says). Which files a running daemon has is
 * recorded in /run/mail-system when it is (re)started or reloaded: run again
 * for any other reason (a new container, new SSH credentials, a new version
 * of this script), the step starts the daemon if it is stopped and touches
 * nothing that runs its current files. After a reboot the record is gone and
 * the next update reloads once.
 */
export function serviceScript(role: string, service: ServiceSpec, family: OsFamily, digest: string): string {
  checkRole(role);
  const unit = unitOf(service, family);
  if (!DIGEST.test(digest)) throw new Error(`files digest ${JSON.stringify(digest)} of ${unit} is not a SHA-256 in hex`);
  const check = service.check?.[family];
  const record = `${RUN_DIR}/${role}.${unit}.files`;
  const action = service.onChange === "reload" ? `svc reload ${unit} || svc restart ${unit}` : `svc restart ${unit}`;
  const apply = [
    SVC,
    `# the files ${unit} reads: sha256 ${digest}`,
    ...(check ? [check] : []),
    `svc enable ${unit}`,
    `if [ "$phase" = create ]; then svc restart ${unit}`,
    `elif ! svc running ${unit}; then svc start ${unit}`,
    `elif [ "$(cat ${record} 2>/dev/null || :)" != ${digest} ]; then ${action}`,
    "fi",
    `echo ${digest} >${record}`,
  ].join("\n");
  const revert = [SVC, `if svc running ${unit}; then svc stop ${unit}; fi`, `svc disable ${unit}`, `rm -f ${record}`].join("\n");
  return phasedScript(`service ${unit} of ${role}`, apply, revert);
}

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * The supervisor's manifest (bash, sourced by it): the container's units in
 * start order, each with its run command and, when the spec has them, its
 * reload and stop commands.
 */
export function servicesManifest(services: readonly ServiceSpec[]): string {
  const units = services.map((s) => unitOf(s, "debian"));
  if (new Set(units).size !== units.length) throw new Error(`services ${units.join(", ")}: a unit is listed twice`);
  const lines = ["# mail-system: the container's units, in start order (read by mail-system-supervisor)", `order=(${units.join(" ")})`];
  services.forEach((s, i) => {
    lines.push(`run[${units[i]}]=${shq(s.container.run)}`);
    if (s.container.reload) lines.push(`reload[${units[i]}]=${shq(s.container.reload)}`);
    if (s.container.stop) lines.push(`stop[${units[i]}]=${shq(s.container.stop)}`);
  });
  return `${lines.join("\n")}\n`;
}

// ----------------------------------------------------------- health, exec

/** Where a role's health check is installed on a host. */
export function healthcheckPath(role: string): string {
  checkRole(role);
  return `${HEALTHCHECK_DIR}/mail-system-${role}-healthcheck`;
}

/** Waits (bounded) until the role's health check passes; fails with its last message. */
export function healthScript(role: string, env: Readonly<Record<string, string>>, timeoutSeconds = 120): string {
  const exports = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`health check variable ${JSON.stringify(k)} is not a name`);
    return `export ${k}=${shq(v)}`;
  });
  const apply = [
    ...exports,
    `deadline=$(( $(date +%s) + ${Math.trunc(timeoutSeconds)} ))`,
    "while :; do",
    `  if out="$(${healthcheckPath(role)} 2>&1)"; then exit 0; fi`,
    '  if [ "$(date +%s)" -ge "$deadline" ]; then',
    `    echo "mail-system: ${role} is not healthy after ${Math.trunc(timeoutSeconds)}s: $out" >&2`,
    "    exit 1",
    "  fi",
    "  sleep 2",
    "done",
  ].join("\n");
  return phasedScript(`health of ${role}`, apply);
}

/** Runs argv as root with `input` on its stdin (a here-document whose delimiter the input cannot contain). */
export function execScript(program: readonly string[], apply: string, revert?: string): string {
  const argv = program.map(shq).join(" ");
  const feed = (input: string) => {
    let tag = "MAIL_SYSTEM_INPUT";
    for (let i = 0; input.split("\n").includes(tag); i++) tag = `MAIL_SYSTEM_INPUT_${i}`;
    return `${argv} <<'${tag}'\n${input}\n${tag}`;
  };
  return phasedScript(`run ${program[0]}`, feed(apply), revert === undefined ? ":" : feed(revert));
}

function checkRole(role: string): void {
  if (!/^[a-z][a-z0-9-]*$/.test(role)) throw new Error(`role ${JSON.stringify(role)} is not a lower-case name`);
}
