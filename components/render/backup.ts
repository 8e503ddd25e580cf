// Backups with restic, as pure functions of plain values: the settings a
// stack gives (mail-system:backup), checked field by field, and the files of
// mail-backup (files/common/backup), the small program each server runs on a
// schedule: the mail server backs up the maildirs, the queue, the DKIM keys,
// the certificates and the filter's state; the database server a dump of the
// mail database, made where the database is. Both write to one repository,
// each under its own host name (<zone>-<role>), so a new stack of the same
// zone finds the old one's snapshots.
import * as fs from "fs";
import * as path from "path";
import { jobPaths, renderJobFiles } from "./job";
import { FILES_DIR, shellAssignments } from "./template";
import { RenderedFile } from "./types";

/** How long restic keeps snapshots (`forget --keep-*`). */
export interface BackupRetention {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

/** The SSH login restic's sftp: backend uses. */
export interface SftpLogin {
  /** The private key (PEM/OpenSSH), secret. */
  readonly privateKey: string;
  /** The repository host's known_hosts line(s): the host key is checked, never trusted on first use. */
  readonly knownHosts: string;
}

/** What a stack asks of its backups. */
export interface BackupSettings {
  /**
   * The restic repository, as the servers see it: an absolute path (on a
   * Docker engine's machine, mounted into the servers; on SSH hosts, each
   * host's own directory), `sftp:user@host:/path`, or another restic
   * backend (`s3:`, `rest:`, `b2:`, `azure:`, `gs:`, `swift:`) with its
   * credentials in `environment`.
   */
  readonly repository: string;
  /** The repository's password (secret): without it no snapshot can be read. */
  readonly password: string;
  /** Minutes between two backups. */
  readonly intervalMinutes: number;
  /** Minutes after the last success before health says the backup is stale. */
  readonly staleMinutes: number;
  readonly keep: BackupRetention;
  /** For sftp: repositories. */
  readonly sftp?: SftpLogin;
  /** Environment restic runs with (a backend's credentials, e.g. AWS_ACCESS_KEY_ID); secret. */
  readonly environment: Readonly<Record<string, string>>;
}

export const DEFAULT_BACKUP_INTERVAL_MINUTES = 1440;
export const DEFAULT_BACKUP_RETENTION: BackupRetention = { daily: 7, weekly: 4, monthly: 12 };
/** Two missed runs and an hour: one failure (a repository briefly away) is not yet stale. */
export const defaultStaleMinutes = (intervalMinutes: number) => 2 * intervalMinutes + 60;

/** One problem with a field of the settings. */
export interface BackupProblem {
  readonly field: string;
  readonly message: string;
}

const FIELDS = ["repository", "password", "intervalMinutes", "staleMinutes", "keep", "sftp", "environment"] as const;
const REMOTE_BACKENDS = ["s3", "rest", "b2", "azure", "gs", "swift"] as const;
/** Characters a repository never needs, and a shell or restic's option parsing would misread. */
const UNSAFE = /[\s'"`$\\;&|<>(){}*?!#]/;

/** An sftp: repository's parts (restic's two spellings: sftp:user@host:/path and sftp://user@host:port//path). */
export function sftpParts(repository: string): { user: string; host: string; port: number; path: string } | undefined {
  const url = /^sftp:\/\/([a-z_][a-z0-9_.-]*)@([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?\/(\/?[^:]*)$/.exec(repository);
  if (url) return { user: url[1], host: url[2].replace(/^\[|\]$/g, ""), port: url[3] ? Number(url[3]) : 22, path: url[4] };
  const short = /^sftp:([a-z_][a-z0-9_.-]*)@([A-Za-z0-9.-]+):(\/[^:]*)$/.exec(repository);
  if (short) return { user: short[1], host: short[2], port: 22, path: short[3] };
  return undefined;
}

const isCount = (v: unknown, max: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;

/** The settings' problems, each with its field; none means `backupSettings` accepts them. */
export function backupProblems(v: Readonly<Record<string, unknown>>): BackupProblem[] {
  const problems: BackupProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ field, message });
  for (const k of Object.keys(v)) if (!(FIELDS as readonly string[]).includes(k)) bad(k, `is not a field of backup (${FIELDS.join(", ")})`);
  const repo = v.repository;
  const kind = typeof repo === "string" ? repositoryKind(repo) : undefined;
  if (typeof repo !== "string" || repo === "") {
    bad("repository", "is required: an absolute path, sftp:user@host:/path, or s3:/rest:/b2:/azure:/gs:/swift: URL");
  } else if (UNSAFE.test(repo)) {
    bad("repository", `must not hold spaces, quotes or shell characters: ${JSON.stringify(repo)}`);
  } else if (kind === undefined) {
    bad("repository", `must be an absolute path, sftp:user@host:/path, or a restic ${REMOTE_BACKENDS.join(":/")}: URL, not ${JSON.stringify(repo)}`);
  } else if (kind === "local" && (repo.split("/").includes("..") || repo === "/")) {
    bad("repository", `must be a directory of its own, not ${JSON.stringify(repo)}`);
  } else if (kind === "sftp" && !sftpParts(repo)) {
    bad("repository", `is not an sftp repository restic reads (sftp:user@host:/path or sftp://user@host:port//path): ${JSON.stringify(repo)}`);
  }
  if (typeof v.password !== "string" || v.password.length < 8) {
    bad("password", "is required, at least 8 characters (set it as a secret: pulumi config set --secret --path mail-system:backup.password ...)");
  }
  const interval = v.intervalMinutes ?? DEFAULT_BACKUP_INTERVAL_MINUTES;
  if (!isCount(interval, 10080) || interval < 1) bad("intervalMinutes", `must be a whole number of minutes from 1 to 10080 (a week), not ${JSON.stringify(interval)}`);
  if (v.staleMinutes !== undefined && (!isCount(v.staleMinutes, 100800) || v.staleMinutes < 1)) {
    bad("staleMinutes", `must be a whole number of minutes from 1 to 100800, not ${JSON.stringify(v.staleMinutes)}`);
  }
  if (v.keep !== undefined) {
    if (typeof v.keep !== "object" || v.keep === null || Array.isArray(v.keep)) bad("keep", "must be an object { daily, weekly, monthly }");
    else {
      const keep = v.keep as Record<string, unknown>;
      for (const k of Object.keys(keep)) if (!["daily", "weekly", "monthly"].includes(k)) bad(`keep.${k}`, "is not a field of keep (daily, weekly, monthly)");
      for (const k of ["daily", "weekly", "monthly"] as const) {
        if (keep[k] !== undefined && !isCount(keep[k], 10000)) bad(`keep.${k}`, `must be a whole number of snapshots from 0, not ${JSON.stringify(keep[k])}`);
      }
      if (["daily", "weekly", "monthly"].every((k) => (keep[k] ?? 1) === 0)) bad("keep", "keeps no snapshot at all: forget would delete every backup");
    }
  }
  if (v.sftp !== undefined) {
    const s = v.sftp as Record<string, unknown>;
    if (typeof s !== "object" || s === null || Array.isArray(s)) bad("sftp", "must be an object { privateKey, knownHosts }");
    else {
      for (const k of Object.keys(s)) if (!["privateKey", "knownHosts"].includes(k)) bad(`sftp.${k}`, "is not a field of sftp (privateKey, knownHosts)");
      if (typeof s.privateKey !== "string" || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s.privateKey)) bad("sftp.privateKey", "must be an SSH private key (PEM or OpenSSH), set as a secret");
      if (typeof s.knownHosts !== "string" || !/^\S+ (ssh-|ecdsa-)\S+ \S+/m.test(s.knownHosts)) {
        bad("sftp.knownHosts", "must be the repository host's known_hosts line(s), e.g. from ssh-keyscan: its key is checked, never trusted on first use");
      }
    }
  }
  if (kind === "sftp" && v.sftp === undefined) bad("sftp", "is required for an sftp: repository: { privateKey, knownHosts }");
  if (kind !== undefined && kind !== "sftp" && v.sftp !== undefined) bad("sftp", "is only for an sftp: repository");
  if (v.environment !== undefined) {
    const e = v.environment as Record<string, unknown>;
    if (typeof e !== "object" || e === null || Array.isArray(e)) bad("environment", "must be an object of variable names and values");
    else {
      for (const [k, val] of Object.entries(e)) {
        if (!/^[A-Z][A-Z0-9_]*$/.test(k) || /^(RESTIC_|BACKUP_)/.test(k)) bad(`environment.${k}`, "must be a variable name in capitals, not RESTIC_* or BACKUP_* (the program sets those)");
        else if (typeof val !== "string" || /[\n\0]/.test(val)) bad(`environment.${k}`, "must be a one-line string");
      }
    }
  }
  return problems;
}

function repositoryKind(repository: string): "local" | "sftp" | "remote" | undefined {
  if (repository.startsWith("/")) return "local";
  if (repository.startsWith("sftp:")) return "sftp";
  return (REMOTE_BACKENDS as readonly string[]).some((b) => repository.startsWith(`${b}:`)) ? "remote" : undefined;
}

/** The settings with their defaults; throws with every problem when there are any. */
export function backupSettings(v: Readonly<Record<string, unknown>>): BackupSettings {
  const problems = backupProblems(v);
  if (problems.length > 0) throw new Error(`backup: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`);
  const interval = (v.intervalMinutes ?? DEFAULT_BACKUP_INTERVAL_MINUTES) as number;
  const keep = (v.keep ?? {}) as Partial<BackupRetention>;
  return {
    repository: v.repository as string,
    password: v.password as string,
    intervalMinutes: interval,
    staleMinutes: (v.staleMinutes ?? defaultStaleMinutes(interval)) as number,
    keep: { ...DEFAULT_BACKUP_RETENTION, ...keep },
    ...(v.sftp ? { sftp: v.sftp as SftpLogin } : {}),
    environment: (v.environment ?? {}) as Record<string, string>,
  };
}

/** A local repository: a directory of the machine, which a container gets mounted. */
export const localRepository = (s: BackupSettings): string | undefined => (repositoryKind(s.repository) === "local" ? s.repository : undefined);

/** Where mail-backup and its state live on a server. */
export const BACKUP = {
  program: "/usr/local/lib/mail-system/mail-backup",
  restoreMaildirs: "/usr/local/lib/mail-system/mail-restore-maildirs",
  config: "/etc/mail-system/backup.env",
  password: "/etc/mail-system/backup.password",
  sshKey: "/etc/mail-system/backup-ssh-key",
  knownHosts: "/etc/mail-system/backup-known-hosts",
  /** The status, the cache, the database dump: kept across a container's replacement. */
  state: "/var/lib/mail-backup",
  status: "/var/lib/mail-backup/status",
  ...jobPaths("mail-backup"),
} as const;

/** The mail server's data a backup holds. */
export const MAIL_BACKUP_PATHS = {
  maildirs: "/var/mail/vhosts",
  /** Postfix's queue directories, not its sockets. */
  queue: ["incoming", "active", "deferred", "hold", "maildrop", "corrupt"].map((d) => `/var/spool/postfix/${d}`),
} as const;

/** What one server backs up, and how it reaches the repository. */
export interface BackupClientSettings {
  readonly backup: BackupSettings;
  /** The snapshots' host name: the zone and the server's role. */
  readonly snapshotHost: string;
  /** Paths backed up (absolute, no spaces). */
  readonly paths: readonly string[];
  /** restic's exclude patterns under those paths (absolute, no spaces): what the server makes again by itself. */
  readonly exclude?: readonly string[];
  /** The mail database to dump first, on the database server. */
  readonly database?: string;
  /** The mail server: maildirs restored under this root. */
  readonly mailRoot?: string;
  /** The mail server: where the DKIM signing keys are (<dir>/<domain>/<selector>.private), for `mail-backup dkim-keys`. */
  readonly dkimKeyDir?: string;
  /** A host (its systemd unit and init script are written) rather than a container (the supervisor runs it). */
  readonly host: boolean;
}


/** The ssh command restic's sftp backend runs: the key and the known host, nothing from ~/.ssh. */
function sftpCommand(repository: string): string {
  const p = sftpParts(repository)!;
  return [
    "ssh", "-i", BACKUP.sshKey, "-F", "/dev/null", "-p", String(p.port),
    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${BACKUP.knownHosts}`,
    "-o", "ServerAliveInterval=30", "-o", "ServerAliveCountMax=4",
    `${p.user}@${p.host}`, "-s", "sftp",
  ].join(" ");
}

/** mail-backup's program, its configuration, its password (secret) and SSH login, and on a host its unit and init script. */
export function renderBackupFiles(s: BackupClientSettings): RenderedFile[] {
  const b = backupSettings(s.backup as unknown as Record<string, unknown>);
  if (!/^[a-z0-9.-]+$/.test(s.snapshotHost)) throw new Error(`backup: ${JSON.stringify(s.snapshotHost)} is not a snapshot host name`);
  if (s.paths.length === 0 && !s.database) throw new Error("backup: nothing to back up");
  for (const p of s.paths) if (!/^\/[A-Za-z0-9._/-]+$/.test(p)) throw new Error(`backup: ${JSON.stringify(p)} is not a path mail-backup takes`);
  for (const p of s.exclude ?? []) if (!/^\/[A-Za-z0-9._/*-]+$/.test(p)) throw new Error(`backup: ${JSON.stringify(p)} is not an exclude pattern mail-backup takes`);
  if (s.database !== undefined && !/^[A-Za-z0-9_]+$/.test(s.database)) throw new Error(`backup: ${JSON.stringify(s.database)} is not a database name`);
  const env: [string, string][] = [
    ["RESTIC_REPOSITORY", b.repository],
    ["RESTIC_PASSWORD_FILE", BACKUP.password],
    ["RESTIC_CACHE_DIR", `${BACKUP.state}/cache`],
    ["BACKUP_HOST", s.snapshotHost],
    ["BACKUP_PATHS", s.paths.join(" ")],
    ...(s.exclude?.length ? ([["BACKUP_EXCLUDE", s.exclude.join(" ")]] as [string, string][]) : []),
    ["BACKUP_STATE", BACKUP.state],
    ["BACKUP_INTERVAL_SECONDS", String(b.intervalMinutes * 60)],
    ["BACKUP_STALE_SECONDS", String(b.staleMinutes * 60)],
    ["BACKUP_KEEP_DAILY", String(b.keep.daily)],
    ["BACKUP_KEEP_WEEKLY", String(b.keep.weekly)],
    ["BACKUP_KEEP_MONTHLY", String(b.keep.monthly)],
    ...(s.database ? ([["BACKUP_DATABASE", s.database]] as [string, string][]) : []),
    ...(s.mailRoot ? ([["BACKUP_MAIL_ROOT", s.mailRoot], ["BACKUP_RESTORE_MAILDIRS", BACKUP.restoreMaildirs]] as [string, string][]) : []),
    ...(s.dkimKeyDir ? ([["BACKUP_DKIM_KEYS", s.dkimKeyDir]] as [string, string][]) : []),
    ...(b.sftp ? ([["BACKUP_SFTP_COMMAND", sftpCommand(b.repository)]] as [string, string][]) : []),
    ...Object.entries(b.environment),
  ];
  const config = `# Rendered by mail-system: mail-backup's settings (secret: a backend's credentials).\n${shellAssignments(env)}`;
  const root = (p: string, content: string, mode: string, secret = false): RenderedFile => ({ path: p, content, owner: "root", group: "root", mode, ...(secret ? { secret } : {}) });
  const program = (name: string) => fs.readFileSync(path.join(FILES_DIR, "common", "backup", name), "utf8");
  return [
    root(BACKUP.program, program("mail-backup.sh"), "0755"),
    ...(s.mailRoot ? [root(BACKUP.restoreMaildirs, fs.readFileSync(path.join(FILES_DIR, "mail", "backup", "mail-restore-maildirs.py"), "utf8"), "0755")] : []),
    root(BACKUP.config, config, "0600", true),
    root(BACKUP.password, `${b.password}\n`, "0600", true),
    ...(b.sftp ? [root(BACKUP.sshKey, b.sftp.privateKey.trimEnd() + "\n", "0600", true), root(BACKUP.knownHosts, b.sftp.knownHosts.trimEnd() + "\n", "0644")] : []),
    ...(s.host ? renderJobFiles({ name: "mail-backup", description: "encrypted backups with restic on a schedule", program: BACKUP.program }) : []),
  ];
}
