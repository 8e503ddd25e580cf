// Backups (components/render/backup.ts, components/serverBackup.ts): the
// settings' checks, what mail-backup is given on each server, and how a
// server's spec changes with backups on.
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BACKUP, backupProblems, backupSettings, MAIL_BACKUP_PATHS, renderBackupFiles, sftpParts } from "../../components/render/backup";
import { BACKUP_SERVICE, withBackup } from "../../components/serverBackup";
import { validateConfig } from "../../components/config";
import { ServerSpec } from "../../components/targets/server";
import { RenderedFile } from "../../components/render/types";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const KNOWN = "10.1.2.3 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx4mHd8Lq0lq1fJb3VYz8b1Yv8m0hQ8w2u3rUyZtQ1d";
const local = { repository: "/var/backups/mail-system", password: "correct horse battery" };

const byPath = (files: RenderedFile[]) => Object.fromEntries(files.map((f) => [f.path, f]));
const envOf = (files: RenderedFile[]) =>
  Object.fromEntries(
    byPath(files)[BACKUP.config].content.split("\n").filter((l) => /^[A-Z]/.test(l)).map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 2, -1).replace(/'\\''/g, "'")];
    }),
  );

describe("backup settings", () => {
  test("a local repository with a password takes the defaults", () => {
    expect(backupSettings(local)).toEqual({
      ...local,
      intervalMinutes: 1440,
      staleMinutes: 2 * 1440 + 60,
      keep: { daily: 7, weekly: 4, monthly: 12 },
      environment: {},
    });
  });

  test.each([
    [{ ...local, repository: "" }, "repository", /is required/],
    [{ ...local, repository: "backups" }, "repository", /must be an absolute path, sftp:/],
    [{ ...local, repository: "/srv/../etc" }, "repository", /a directory of its own/],
    [{ ...local, repository: "/srv/my backups" }, "repository", /spaces, quotes or shell characters/],
    [{ ...local, repository: "/srv/$(reboot)" }, "repository", /shell characters/],
    [{ ...local, repository: "ftp://host/x" }, "repository", /must be an absolute path/],
    [{ ...local, repository: "sftp:host-without-user" }, "repository", /not an sftp repository restic reads/],
    [{ ...local, password: "short" }, "password", /at least 8 characters/],
    [{ repository: "/srv/b" }, "password", /is required/],
    [{ ...local, intervalMinutes: 0 }, "intervalMinutes", /from 1 to 10080/],
    [{ ...local, intervalMinutes: 1.5 }, "intervalMinutes", /whole number/],
    [{ ...local, staleMinutes: -1 }, "staleMinutes", /whole number/],
    [{ ...local, keep: { daily: 0, weekly: 0, monthly: 0 } }, "keep", /keeps no snapshot at all/],
    [{ ...local, keep: { hourly: 3 } }, "keep.hourly", /is not a field of keep/],
    [{ ...local, keep: { daily: -2 } }, "keep.daily", /whole number/],
    [{ ...local, repository: "sftp:backup@10.1.2.3:/srv/restic" }, "sftp", /is required for an sftp: repository/],
    [{ ...local, sftp: { privateKey: KEY, knownHosts: KNOWN } }, "sftp", /only for an sftp: repository/],
    [{ ...local, repository: "sftp:backup@10.1.2.3:/srv/restic", sftp: { privateKey: "x", knownHosts: KNOWN } }, "sftp.privateKey", /SSH private key/],
    [{ ...local, repository: "sftp:backup@10.1.2.3:/srv/restic", sftp: { privateKey: KEY, knownHosts: "10.1.2.3" } }, "sftp.knownHosts", /known_hosts line/],
    [{ ...local, environment: { RESTIC_PASSWORD: "x" } }, "environment.RESTIC_PASSWORD", /not RESTIC_\*/],
    [{ ...local, environment: { aws: "x" } }, "environment.aws", /variable name in capitals/],
    [{ ...local, environment: { AWS_SECRET_ACCESS_KEY: "a\nb" } }, "environment.AWS_SECRET_ACCESS_KEY", /one-line/],
    [{ ...local, schedule: "daily" }, "schedule", /is not a field of backup/],
  ])("%j is refused at %s", (settings, field, message) => {
    const problems = backupProblems(settings as Record<string, unknown>);
    expect(problems).toContainEqual({ field, message: expect.stringMatching(message) });
    expect(() => backupSettings(settings as Record<string, unknown>)).toThrow(`backup: ${field}`);
  });

  test("both sftp spellings restic reads", () => {
    expect(sftpParts("sftp:backup@10.1.2.3:/srv/restic")).toEqual({ user: "backup", host: "10.1.2.3", port: 22, path: "/srv/restic" });
    expect(sftpParts("sftp://backup@10.1.2.3:2222//srv/restic")).toEqual({ user: "backup", host: "10.1.2.3", port: 2222, path: "/srv/restic" });
    expect(sftpParts("sftp://backup@[fd00::5]:2222/restic")).toEqual({ user: "backup", host: "fd00::5", port: 2222, path: "restic" });
    expect(sftpParts("sftp:10.1.2.3:/srv")).toBeUndefined();
  });

  test("the stack's key: path values the CLI sets as strings are numbers, problems are named by key and field", () => {
    const seed = { domain: "rockylinux.me", users: [{ email: "a@rockylinux.me" }] };
    const on = validateConfig({ ...seed, backup: { ...local, intervalMinutes: "60", keep: { daily: "3" } } }, "dev");
    expect(on.problems).toEqual([]);
    expect(on.config.backup).toMatchObject({ intervalMinutes: 60, staleMinutes: 180, keep: { daily: 3, weekly: 4, monthly: 12 } });
    expect(validateConfig(seed, "dev").config.backup).toBeUndefined();
    const bad = validateConfig({ ...seed, backup: { repository: "relative" } }, "dev");
    expect(bad.problems.map((p) => `${p.key}: ${p.message}`)).toEqual([
      expect.stringMatching(/^mail-system:backup\.repository: must be an absolute path/),
      expect.stringMatching(/^mail-system:backup\.password: is required/),
    ]);
  });
});

describe("mail-system:dkimKeys", () => {
  const seed = { domain: "rockylinux.me", users: [{ email: "a@rockylinux.me" }] };
  const pem = (bits: number, type: "rsa" | "ed25519" = "rsa") =>
    (type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: bits }) : generateKeyPairSync("ed25519")).privateKey.export({ type: "pkcs8", format: "pem" }) as string;

  test("a key for a served domain takes dkimSelector when it names none", () => {
    const key = pem(1024);
    const r = validateConfig({ ...seed, dkimSelector: "s1", dkimKeys: [{ domain: "RockyLinux.me", privateKey: key }] }, "dev");
    expect(r.problems).toEqual([]);
    expect(r.config.dkimKeys).toEqual([{ domain: "rockylinux.me", selector: "s1", privateKey: key }]);
  });

  test("a selector of digits, which `pulumi config set --path` makes a number, is the label", () => {
    const key = pem(1024);
    const r = validateConfig({ ...seed, dkimSelector: "2024", dkimKeys: [{ domain: "rockylinux.me", selector: 2024, privateKey: key }] }, "dev");
    expect(r.problems).toEqual([]);
    expect(r.config.dkimKeys).toEqual([{ domain: "rockylinux.me", selector: "2024", privateKey: key }]);
  });

  test.each([
    [[{ domain: "rockylinux.me", privateKey: "nope" }], "mail-system:dkimKeys[0].privateKey: is not a PEM private key"],
    [[{ domain: "rockylinux.me", privateKey: pem(0, "ed25519") }], "mail-system:dkimKeys[0].privateKey: is a ed25519 key: DKIM here signs with RSA (rsa-sha256)"],
    [[{ domain: "rockylinux.me", privateKey: pem(512) }], "mail-system:dkimKeys[0].privateKey: is 512 bits: receivers ignore RSA keys under 1024 bits (RFC 8301)"],
    [[{ domain: "example.org", privateKey: pem(1024) }], 'mail-system:dkimKeys[0].domain: "example.org" is not a domain the server signs for (rockylinux.me)'],
    [[{ domain: "rockylinux.me", selector: "old", privateKey: pem(1024) }], 'mail-system:dkimKeys[0].selector: "old" is neither dkimSelector nor in dkimPublishedSelectors'],
    [[{ domain: "rockylinux.me", privateKey: pem(1024) }, { domain: "rockylinux.me", selector: "mail", privateKey: pem(1024) }], "mail-system:dkimKeys[1]: gives a second key for mail._domainkey.rockylinux.me"],
    [[{ domain: "rockylinux.me", key: "x", privateKey: pem(1024) }], "mail-system:dkimKeys[0].key: is not a field (domain, selector, privateKey)"],
  ])("%# is reported with its key", (dkimKeys, message) => {
    expect(validateConfig({ ...seed, dkimKeys }, "dev").problems.map((p) => `${p.key}: ${p.message}`)).toEqual([message]);
  });
});

describe("mail-backup's files", () => {
  const mail = { backup: backupSettings(local), snapshotHost: "rockylinux.me-mail", paths: [MAIL_BACKUP_PATHS.maildirs, ...MAIL_BACKUP_PATHS.queue], mailRoot: MAIL_BACKUP_PATHS.maildirs, host: false };

  test("the password and the settings are root's alone and secret; the program and the restore tool are there", () => {
    const files = byPath(renderBackupFiles(mail));
    expect(files[BACKUP.password]).toMatchObject({ content: "correct horse battery\n", mode: "0600", owner: "root", secret: true });
    expect(files[BACKUP.config]).toMatchObject({ mode: "0600", secret: true });
    expect(files[BACKUP.config].content).not.toContain("correct horse battery");
    expect(files[BACKUP.program].content).toMatch(/^#!\/bin\/bash/);
    expect(files[BACKUP.restoreMaildirs].content).toMatch(/^#!\/usr\/bin\/env python3/);
    expect(files[BACKUP.systemdUnit]).toBeUndefined();
  });

  test("the environment names the repository, the snapshot host, the paths, the schedule and retention", () => {
    const env = envOf(renderBackupFiles({ ...mail, backup: backupSettings({ ...local, intervalMinutes: 30, keep: { monthly: 0 } }) }));
    expect(env).toMatchObject({
      RESTIC_REPOSITORY: "/var/backups/mail-system",
      RESTIC_PASSWORD_FILE: BACKUP.password,
      BACKUP_HOST: "rockylinux.me-mail",
      BACKUP_PATHS: mail.paths.join(" "),
      BACKUP_INTERVAL_SECONDS: "1800",
      BACKUP_STALE_SECONDS: String((2 * 30 + 60) * 60),
      BACKUP_KEEP_DAILY: "7",
      BACKUP_KEEP_MONTHLY: "0",
      BACKUP_MAIL_ROOT: "/var/mail/vhosts",
    });
    expect(env.BACKUP_DATABASE).toBeUndefined();
    expect(env.BACKUP_SFTP_COMMAND).toBeUndefined();
  });

  test("sftp: the key and the pinned host key, ssh told to use them and nothing else", () => {
    const sftp = backupSettings({ ...local, repository: "sftp://backup@10.1.2.3:2222//srv/restic", sftp: { privateKey: KEY, knownHosts: KNOWN } });
    const files = renderBackupFiles({ ...mail, backup: sftp });
    expect(byPath(files)[BACKUP.sshKey]).toMatchObject({ content: KEY, mode: "0600", secret: true });
    expect(byPath(files)[BACKUP.knownHosts]).toMatchObject({ content: `${KNOWN}\n` });
    expect(envOf(files).BACKUP_SFTP_COMMAND).toBe(
      `ssh -i ${BACKUP.sshKey} -F /dev/null -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${BACKUP.knownHosts} ` +
        "-o ServerAliveInterval=30 -o ServerAliveCountMax=4 backup@10.1.2.3 -s sftp",
    );
  });

  test("a backend's credentials go into the secret environment file; quotes survive", () => {
    const s3 = backupSettings({ ...local, repository: "s3:https://s3.example.org/bucket/mail", environment: { AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "it's secret" } });
    expect(envOf(renderBackupFiles({ ...mail, backup: s3 }))).toMatchObject({ AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "it's secret" });
  });

  test("the database server dumps its database; a host gets the unit and the init script", () => {
    const files = renderBackupFiles({ backup: backupSettings(local), snapshotHost: "rockylinux.me-db", paths: [], database: "mailserver", host: true });
    expect(envOf(files)).toMatchObject({ BACKUP_DATABASE: "mailserver", BACKUP_PATHS: "" });
    expect(byPath(files)[BACKUP.restoreMaildirs]).toBeUndefined();
    expect(byPath(files)[BACKUP.systemdUnit].content).toContain(`ExecStart=${BACKUP.program} loop`);
    expect(byPath(files)[BACKUP.initScript].mode).toBe("0755");
  });

  test.each([
    [{ snapshotHost: "Rocky Linux" }, /not a snapshot host name/],
    [{ paths: ["/var/mail vhosts"] }, /not a path mail-backup takes/],
    [{ paths: [], mailRoot: undefined }, /nothing to back up/],
    [{ paths: [], database: "mail; drop" }, /not a database name/],
  ])("refuses %j", (change, message) => {
    expect(() => renderBackupFiles({ ...mail, ...change } as Parameters<typeof renderBackupFiles>[0])).toThrow(message);
  });
});

// mail-backup itself, run by this machine's bash on its rendered files, with
// restic and ssh played by scripts that say what the real ones say.
let dir: string;
/** Runs mail-backup `command` on the files rendered for `backup` (and `paths`, `exclude`); `stubs` are restic's and ssh's shell bodies. */
function mailBackup(command: string, backup: Record<string, unknown>, stubs: { restic: string; ssh?: string }, content: { paths?: string[]; exclude?: string[] } = {}) {
  const files = byPath(renderBackupFiles({ backup: backupSettings(backup), snapshotHost: "rockylinux.me-mail", paths: ["/var/mail/vhosts"], ...content, host: false }));
  const config = path.join(dir, "backup.env");
  fs.writeFileSync(config, `${files[BACKUP.config].content}BACKUP_STATE='${dir}/state'\n`);
  const program = path.join(dir, "mail-backup");
  fs.writeFileSync(program, files[BACKUP.program].content.replace("config=/etc/mail-system/backup.env", `config=${config}`).replace("lock=/run/mail-backup.lock", `lock=${dir}/lock`));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries({ ssh: "exit 255", ...stubs })) fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "$*" >>${dir}/${name}.calls\n${body}\n`, { mode: 0o755 });
  const r = spawnSync("bash", [program, command], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const calls = (name: string) => (fs.existsSync(path.join(dir, `${name}.calls`)) ? fs.readFileSync(path.join(dir, `${name}.calls`), "utf8").trim().split("\n") : []);
  return { code: r.status, stderr: r.stderr.replace(/\n$/, ""), restic: calls("restic"), ssh: calls("ssh") };
}

describe("mail-backup ensure: why a repository does not open", () => {
  const repository = "sftp:deploy@10.1.2.3:/home/deploy/restic";
  const EOF_LINE = `Fatal: unable to open repository at ${repository}: unable to start the sftp session, error: EOF`;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-backup-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ensure = (backup: Record<string, unknown>, stubs: { restic: string; ssh: string }) => mailBackup("ensure", backup, stubs);
  const sftp = { ...local, repository, sftp: { privateKey: KEY, knownHosts: KNOWN } };

  test("restic gone before it passed on ssh's words: ssh, asked alone, says the host key is wrong", () => {
    const r = ensure(sftp, { restic: `echo '${EOF_LINE}' >&2; exit 1`, ssh: "cat >/dev/null; printf 'Host key verification failed.\\r\\n' >&2; exit 255" });
    expect(r).toMatchObject({ code: 1, stderr: `mail-backup: cannot open the repository at ${repository}: Host key verification failed.` });
    // The same login restic's backend makes, with nothing to say to the subsystem.
    expect(r.ssh).toEqual([`-i ${BACKUP.sshKey} -F /dev/null -p 22 -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${BACKUP.knownHosts} -o ServerAliveInterval=30 -o ServerAliveCountMax=4 deploy@10.1.2.3 -s sftp`]);
  });

  test("restic passed ssh's words on: they are the reason, and ssh is not asked again", () => {
    const r = ensure(sftp, { restic: `echo 'subprocess ssh: deploy@10.1.2.3: Permission denied (publickey).' >&2; echo '${EOF_LINE}' >&2; exit 1`, ssh: "exit 255" });
    expect(r).toMatchObject({ code: 1, stderr: `mail-backup: cannot open the repository at ${repository}: deploy@10.1.2.3: Permission denied (publickey).`, ssh: [] });
  });

  test("ssh logs in, so restic's own last words are the reason", () => {
    const r = ensure(sftp, { restic: "echo 'Fatal: repository is locked' >&2; exit 1", ssh: "cat >/dev/null; exit 0" });
    expect(r).toMatchObject({ code: 1, stderr: `mail-backup: cannot open the repository at ${repository}: Fatal: repository is locked` });
    expect(r.ssh).toHaveLength(1);
  });

  test("a wrong password is said as such; a local repository never runs ssh", () => {
    const r = ensure({ ...local, repository: path.join(os.tmpdir(), "unused-restic") }, { restic: "echo 'Fatal: wrong password or no key found' >&2; exit 1", ssh: "exit 255" });
    expect(r).toMatchObject({ code: 1, ssh: [] });
    expect(r.stderr).toMatch(/^mail-backup: the password does not open the repository at .*mail-system:backup.password is not the one it was made with/);
    expect(r.restic[0]).toBe("cat config");
  });
});

describe("mail-backup run", () => {
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-backup-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const restic = `case "$1" in
    backup) echo '{"message_type":"summary","snapshot_id":"0123456789abcdef","data_added":512,"total_bytes_processed":2048}' ;;
  esac`;

  test("backs up the paths that exist, leaving out the excluded patterns as restic's to match, never the shell's", () => {
    const cache = path.join(dir, "rspamd");
    fs.mkdirSync(cache);
    for (const f of ["a.hs", "b.hsmp", "stats.ucl"]) fs.writeFileSync(path.join(cache, f), "x");
    const exclude = [`${cache}/*.hs`, `${cache}/*.hsmp`];
    const r = mailBackup("run", { ...local, repository: path.join(dir, "repository") }, { restic }, { paths: [cache, path.join(dir, "missing")], exclude });
    expect(r).toMatchObject({ code: 0, stderr: `mail-backup: snapshot 01234567 of ${cache}: 2048 bytes, 512 bytes added to the repository` });
    expect(r.restic).toContain(`backup --json --host rockylinux.me-mail --tag mail-system --exclude ${cache}/*.hs --exclude ${cache}/*.hsmp ${cache}`);
    expect(fs.readFileSync(path.join(dir, "state/status"), "utf8")).toMatch(/^state=ok$/m);
  });

  test("no exclude patterns, no --exclude", () => {
    const r = mailBackup("run", { ...local, repository: path.join(dir, "repository") }, { restic }, { paths: [dir] });
    expect(r.code).toBe(0);
    expect(r.restic).toContain(`backup --json --host rockylinux.me-mail --tag mail-system ${dir}`);
  });

  test("an exclude pattern with a space or a relative one is refused", () => {
    for (const exclude of [["/var/lib/rspamd/a b"], ["*.hs"]]) {
      expect(() => renderBackupFiles({ backup: backupSettings(local), snapshotHost: "h", paths: ["/var/lib/rspamd"], exclude, host: false })).toThrow(/is not an exclude pattern mail-backup takes/);
    }
  });
});

describe("withBackup", () => {
  const spec: ServerSpec = {
    role: "db",
    packages: { debian: [["mariadb-server"]], rhel: [["mysql-server"]] },
    files: () => [{ path: "/etc/x", content: "x", owner: "root", group: "root", mode: "0644" }],
    services: [],
    capabilities: [],
    healthEnv: { debian: { A: "1" }, rhel: { A: "2" } },
    dataDirectories: ["/var/lib/mysql"],
  };
  const args = { settings: backupSettings(local), snapshotHost: "rockylinux.me-db" };

  test("without settings the spec is the same object", () => {
    expect(withBackup(spec, undefined, { paths: [], database: "mailserver" })).toBe(spec);
  });

  test("adds restic (EPEL first on RHEL), the service, the health check's program, kept state and the local repository", async () => {
    const b = withBackup(spec, args, { paths: [], database: "mailserver" });
    expect(b.packages.debian).toEqual([["mariadb-server"], ["restic", "openssh-client"]]);
    expect(b.packages.rhel).toEqual([["mysql-server"], ["epel-release"], ["restic", "openssh-clients"]]);
    expect(b.services).toEqual([BACKUP_SERVICE]);
    expect(b.healthEnv).toEqual({ debian: { A: "1", BACKUP_PROGRAM: BACKUP.program }, rhel: { A: "2", BACKUP_PROGRAM: BACKUP.program } });
    expect(b.stateDirectories).toEqual([BACKUP.state]);
    expect(b.machineDirectories).toEqual(["/var/backups/mail-system"]);
    expect(b.dataDirectories).toEqual(spec.dataDirectories);
    const files = await new Promise<RenderedFile[]>((resolve) => pulumi.output(b.files({ family: "debian", container: true })).apply(resolve));
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(["/etc/x", BACKUP.program, BACKUP.config, BACKUP.password]));
  });

  test("an sftp repository mounts nothing; EPEL is not asked for twice", () => {
    const sftp = { ...args, settings: backupSettings({ ...local, repository: "sftp:b@10.1.2.3:/r", sftp: { privateKey: KEY, knownHosts: KNOWN } }) };
    const b = withBackup({ ...spec, packages: { debian: [["x"]], rhel: [["epel-release"], ["y"]] } }, sftp, { paths: ["/srv"] });
    expect(b.packages.debian).toEqual([["x"], ["restic", "openssh-client"]]);
    expect(b.packages.rhel).toEqual([["epel-release"], ["y"], ["restic", "openssh-clients"]]);
    expect(b.machineDirectories).toBeUndefined();
  });

  test("the service restarts for its own files only", () => {
    expect(BACKUP_SERVICE.reads(BACKUP.config)).toBe(true);
    expect(BACKUP_SERVICE.reads("/etc/postfix/main.cf")).toBe(false);
  });
});
