// Backups that restore: mail with flags, keywords and folders backed up with
// `npm run backup -- run`, a stale backup failing health with its age, the
// stack destroyed with everything in it (purgeMailOnDestroy), a new stack of
// the same zone deployed, and `npm run backup -- restore` bringing back one
// user, then everyone: every message in its folder with its flags, and every
// user logging in with the same password. Long: run only with
// MAIL_SYSTEM_LONG_TESTS=1, which CI sets.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupCli } from "./backupCli";
import { mailboxState, MailboxState, mailClient, send, waitForMail } from "./clients";
import { changesOf, docker, log, replaceConfig, sh } from "./lab";
import { buildSshHostImage, SSH_HOST_IMAGE, waitForSsh } from "./sshHosts";
import { openStack, SharedStack } from "./sharedStack";

jest.setTimeout(30 * 60_000);
const long = process.env.MAIL_SYSTEM_LONG_TESTS === "1" ? describe : describe.skip;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const root = path.join(__dirname, "..", "..");
const domain = "backup.test";
const [alice, bob] = [`alice@${domain}`, `bob@${domain}`];

/** The restore report mail-restore-maildirs prints (JSON, the last line of the mail server's output). */
function restoreReport(stdout: string): { dryRun: boolean; copied: number; skipped: number; replaced: number; mailboxes: { address: string; copied: number }[] } {
  const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`no restore report in:\n${stdout}`);
  return JSON.parse(line);
}

long("backups that restore into a new stack", () => {
  const repository = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-backup-"));
  const config = {
    "mail-system:users": [
      { email: alice, password: "alice-Restored-1" },
      { email: bob, password: "bob-Restored-2" },
    ],
    "mail-system:backup": { repository, password: "e2e restic password", intervalMinutes: 1440 },
  };
  let first: SharedStack | undefined;
  let second: SharedStack | undefined;
  const before: Record<string, MailboxState> = {};
  /** The first stack's DKIM record (mail._domainkey.<domain>). */
  let firstDkimRecord: string | undefined;
  const dkimRecord = (outputs: Record<string, { value: unknown }>) =>
    (outputs.mailDnsRecords.value as { name: string; type: string; value: string }[]).find((r) => r.type === "TXT" && r.name === "mail._domainkey")?.value;

  afterAll(async () => {
    await first?.close();
    await second?.close();
    fs.rmSync(repository, { recursive: true, force: true });
  });

  test("mail with flags, keywords and folders is backed up by both servers; a dry run changes nothing", async () => {
    first = await openStack("bak", domain, [alice, bob], config);
    firstDkimRecord = dkimRecord(first.up.outputs);
    expect(firstDkimRecord).toMatch(/^v=DKIM1; k=rsa; p=/);
    const lab = first.lab;
    for (const s of ["a1", "a2", "a3", "a4"]) expect((await send(lab, bob, alice, s)).ok).toBe(true);
    for (const s of ["b1", "b2"]) expect((await send(lab, alice, bob, s)).ok).toBe(true);
    await waitForMail(lab, alice, "a4");
    await waitForMail(lab, bob, "b2");
    const arrange = { create: ["Archive"], flags: { a1: ["\\Seen"], a2: ["\\Flagged", "\\Seen"], a4: ["$Work"] }, move: { a3: "Archive" } };
    expect((await mailClient(lab, "arrange", { port: 993, user: alice, arrange: JSON.stringify(arrange) }, lab.passwords[alice])).ok).toBe(true);
    before[alice] = await mailboxState(lab, alice);
    before[bob] = await mailboxState(lab, bob);
    expect(before[alice].folders.INBOX).toEqual([
      { subject: "a1", flags: ["\\Seen"] },
      { subject: "a2", flags: ["\\Flagged", "\\Seen"] },
      { subject: "a4", flags: ["$Work"] },
    ]);
    expect(before[alice].folders.Archive).toEqual([{ subject: "a3", flags: [] }]);
    expect(before[alice].subscribed).toContain("Archive");

    const run = await backupCli(first.stack, ["run"]);
    expect(run).toMatchObject({ code: 0 });
    const snapshots = await backupCli(first.stack, ["snapshots"]);
    expect(snapshots.code).toBe(0);
    expect(snapshots.stdout).toContain(`${domain}-db`);
    expect(snapshots.stdout).toContain(`${domain}-mail`);
    const status = await backupCli(first.stack, ["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout.match(/^state=ok$/gm)).toHaveLength(2);

    // Rspamd's compiled rules are on the server and not in the snapshot (the image brings them).
    const compiled = /\.(hs|hs\.unser|hsmp|hsmc)$/;
    expect((await docker("exec", first.mail, "ls", "/var/lib/rspamd")).split("\n").filter((f) => compiled.test(f)).length).toBeGreaterThan(0);
    const listed = (await docker("exec", first.mail, "bash", "-c", 'set -a; . /etc/mail-system/backup.env; restic ls latest --host "$BACKUP_HOST" /var/lib/rspamd')).split("\n");
    expect(listed).toContain("/var/lib/rspamd");
    expect(listed.filter((f) => compiled.test(f))).toEqual([]);

    // Over the live system, every message is already there: nothing to copy, nothing changed.
    const dry = await backupCli(first.stack, ["restore", "--dry-run", "--database"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would load the dump of mailserver \(\d+ bytes, [1-9]\d* INSERT statements\)/);
    expect(restoreReport(dry.stdout)).toMatchObject({ dryRun: true, copied: 0, skipped: 6, replaced: 0 });
    expect(await mailboxState(lab, alice)).toEqual(before[alice]);
  });

  test("backups to an SFTP repository on another host, its host key pinned: a wrong key fails the deploy, the right one backs up", async () => {
    const s = first!;
    await buildSshHostImage();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-sftp-"));
    const host = `${s.name}-sftp`;
    const address = `${s.net}.20`;
    try {
      await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "backup@mail-system-test", "-f", path.join(dir, "key")]);
      const publicKey = fs.readFileSync(path.join(dir, "key.pub"), "utf8").trim();
      await docker("run", "-d", "--name", host, "--network", `${s.name}-net`, "--ip", address, "--env", `AUTHORIZED_KEY=${publicKey}`, SSH_HOST_IMAGE);
      // sshd answering, its host key complete: the wrong key below can only fail as a wrong key.
      const hostKey = await waitForSsh(address, path.join(dir, "key"), host);
      expect(hostKey).toMatch(/^ssh-ed25519 /);
      const wrongKey = fs.readFileSync(path.join(dir, "key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
      const sftp = (knownHost: string) => ({
        "mail-system:backup": {
          ...config["mail-system:backup"],
          repository: `sftp:deploy@${address}:/home/deploy/restic`,
          sftp: { privateKey: fs.readFileSync(path.join(dir, "key"), "utf8"), knownHosts: `${address} ${knownHost}` },
        },
      });
      await replaceConfig(s.stack, sftp(wrongKey));
      await expect(s.stack.up({ onOutput: log })).rejects.toThrow(/cannot open the repository at sftp:deploy@[\d.]+:\/home\/deploy\/restic: Host key verification failed/);
      await replaceConfig(s.stack, sftp(hostKey));
      await s.stack.up({ onOutput: log });
      expect(await backupCli(s.stack, ["run"])).toMatchObject({ code: 0 });
      const snapshots = await backupCli(s.stack, ["snapshots"]);
      expect(snapshots.stdout).toContain(`${domain}-db`);
      expect(snapshots.stdout).toContain(`${domain}-mail`);
      // restic's files, on the other host.
      expect((await docker("exec", host, "ls", "/home/deploy/restic")).split("\n")).toEqual(expect.arrayContaining(["config", "data", "keys", "snapshots"]));
    } finally {
      // The cases after this one back up to the local repository again, whatever happened here.
      await replaceConfig(s.stack, { "mail-system:backup": config["mail-system:backup"] }).catch(() => undefined);
      await docker("rm", "-f", host).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a backup older than staleMinutes (3) fails the health check, which says how old it is", async () => {
    const s = first!;
    await s.stack.setAllConfig({ "mail-system:backup.staleMinutes": { value: "3" } }, true);
    const up = await s.stack.up({ onOutput: log });
    // Only the backup settings' files and what follows them.
    expect(changesOf(up.summary.resourceChanges ?? {}).create ?? 0).toBe(0);
    let message = "";
    for (let i = 0; i < 60 && !message; i++) {
      await sleep(5000);
      message = await docker("exec", s.mail, "/usr/local/lib/mail-system/mail-backup", "health").then(() => "", (e: Error) => e.message);
    }
    expect(message).toMatch(/the last successful backup is 0 h [3-9] min old \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/);
    let health = "";
    for (let i = 0; i < 40 && health !== "unhealthy"; i++) {
      await sleep(3000);
      health = (await docker("inspect", "-f", "{{.State.Health.Status}}", s.mail)).trim();
    }
    expect(health).toBe("unhealthy");
    const status = await backupCli(s.stack, ["status"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain("the last successful backup is");
  });

  test("after the stack and its mail are destroyed, a new stack of the zone restores one user, then everyone, with flags and folders", async () => {
    const gone = first!;
    first = undefined;
    await gone.close();
    expect((await docker("volume", "ls", "-q", "--filter", `name=${gone.name}`)).trim()).toBe("");

    second = await openStack("bakb", domain, [alice, bob], config);
    const lab = second.lab;
    // The same configured passwords: the users log in to the new stack as before, to empty mailboxes.
    expect((await mailboxState(lab, alice)).folders.INBOX).toEqual([]);

    const one = await backupCli(second.stack, ["restore", "--user", bob]);
    expect(one.code).toBe(0);
    expect(restoreReport(one.stdout)).toMatchObject({ dryRun: false, copied: 2, mailboxes: [{ address: bob, copied: 2 }] });
    expect(await mailboxState(lab, bob)).toEqual(before[bob]);
    expect((await mailboxState(lab, alice)).folders.INBOX).toEqual([]);

    const all = await backupCli(second.stack, ["restore"]);
    expect(all.code).toBe(0);
    // bob's are there already: kept, not copied twice.
    expect(restoreReport(all.stdout)).toMatchObject({ copied: 4, skipped: 2, replaced: 0 });
    expect(await mailboxState(lab, alice)).toEqual(before[alice]);
    expect(await mailboxState(lab, bob)).toEqual(before[bob]);

    // New mail lands next to the restored mail.
    expect((await send(lab, bob, alice, "after restore")).ok).toBe(true);
    const subjects = await waitForMail(lab, alice, "after restore");
    expect(subjects.sort()).toEqual(["a1", "a2", "a4", "after restore"]);
  });

  test("the old stack's DKIM keys, taken from the backup into the new stack's configuration, sign its mail and are published again", async () => {
    const s = second!;
    expect(dkimRecord(s.up.outputs)).not.toEqual(firstDkimRecord);
    const keys = await backupCli(s.stack, ["dkim-keys"]);
    expect(keys.code).toBe(0);
    expect(keys.stdout).toContain(`set 1 DKIM key(s) in stack ${s.name}'s mail-system:dkimKeys (mail._domainkey.${domain})`);
    // The key is in the stack's file only encrypted.
    const stackFile = fs.readFileSync(path.join(root, `Pulumi.${s.name}.yaml`), "utf8");
    expect(stackFile).toContain("secure:");
    expect(stackFile).not.toContain("PRIVATE KEY");
    const up = await s.stack.up({ onOutput: log });
    expect(dkimRecord(up.outputs)).toEqual(firstDkimRecord);
    const subject = "signed after restore";
    expect((await send(s.lab, alice, bob, subject)).ok).toBe(true);
    await waitForMail(s.lab, bob, subject);
    const dkim = await mailClient(s.lab, "dkim-verify", { port: 993, user: bob, subject, dns: s.lab.dns }, s.lab.passwords[bob]);
    expect(dkim).toMatchObject({ ok: true, signatures: 1, domain, verified: true, selector: "mail" });
  });
});
