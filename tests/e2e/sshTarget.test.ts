// The SSH target end to end: the test starts two plain Debian hosts running
// only sshd (no systemd: the distribution's service scripts are used), the
// program deploys onto them with `target: ssh` (DNS and the database share
// one host, logged in as root, its host key recorded on first use; the mail
// server is on the other, through a sudo user, its host key pinned), and the
// same checks as for containers run against them. Then: a second preview is
// empty, a new user touches only its rows, a new DKIM selector reloads
// OpenDKIM and BIND and no other daemon, the shared host's keys change and
// the next deploy to it is refused until the change is accepted (`--replace`
// of its recorded key), and destroy takes away what the program put there
// but the mail.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { backupCli } from "./backupCli";
import { waitForMail } from "./clients";
import { changesOf, freeSubnet, LAB_FILTERING, log, toPathConfig, uniqueName, withStack } from "./lab";
import { checkDatabaseAccounts, checkDatabaseTls, checkMailSystem, checkedSystem, labOf } from "./mailChecks";
import { buildSshHostImage, rotateHostKeys, ssh, SshHost, SshLab, startSshHosts } from "./sshHosts";

jest.setTimeout(40 * 60_000);

const root = path.join(__dirname, "..", "..");
const zone = "rockylinux.me";
const mailName = `mail.${zone}`;

/** The daemons' main process ids on a host, by pid file (a reload keeps them, a restart does not). */
async function pids(lab: SshLab, host: SshHost, files: string[]): Promise<string[]> {
  const out = await ssh(lab, host, "root", files.map((f) => `cat ${f} 2>/dev/null || echo none`).join("; "));
  return out.trim().split("\n").map((l) => l.trim());
}

test("target ssh: the same system on two Debian hosts over SSH, reloading only what changed, destroyed cleanly", async () => {
  const name = uniqueName("ssh");
  const subnet = await freeSubnet();
  const net = subnet.replace(/\.0\/24$/, "");
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-ca-"));
  await buildSshHostImage();
  const lab = await startSshHosts(name, subnet, [
    { name: "infra", address: `${net}.10` },
    { name: "mail", address: `${net}.11` },
  ]);
  const [infra, mailHost] = lab.hosts;
  const { users, config: system } = checkedSystem(zone);
  const config = {
    ...system,
    "mail-system:target": "ssh",
    "mail-system:filtering": LAB_FILTERING,
    // Each host backs up into a directory of its own.
    "mail-system:backup": { repository: "/var/backups/mail-system", password: "ssh e2e restic password" },
    "mail-system:hosts": {
      // No hostKey: the key infra presents first is recorded (once: one SSH server).
      dns: { address: infra.address },
      db: { address: infra.address },
      mail: { address: mailHost.address, user: "deploy", hostKey: mailHost.hostKey },
    },
  };
  try {
    await withStack(root, name, config, async (stack: Stack) => {
      // The key is a secret of the stack, like any user would set it.
      await stack.setConfig("mail-system:sshPrivateKey", { value: lab.privateKey, secret: true });
      const t0 = Date.now();
      const up = await stack.up({ onOutput: log });
      log(`ssh target: first up took ${Math.round((Date.now() - t0) / 1000)}s\n`);
      const out = up.outputs;
      expect(out.servers.value).toEqual({ dns: `root@${infra.address}`, db: `root@${infra.address}`, mail: `deploy@${mailHost.address}` });
      // One recorded key per SSH server: infra's as it presented it, mail's the pinned one, checked.
      const recorders = (await stack.exportStack()).deployment.resources.filter((r: { urn: string }) => /::hostkey-/.test(r.urn));
      const infraKey = `hostkey-${infra.address}-22`;
      expect(Object.fromEntries(recorders.map((r: { urn: string; outputs: { stdout: string } }) => [r.urn.split("::").pop(), r.outputs.stdout]))).toEqual({
        [infraKey]: infra.hostKey,
        [`hostkey-${mailHost.address}-22`]: mailHost.hostKey,
      });
      const infraKeyUrn: string = recorders.find((r: { urn: string }) => r.urn.endsWith(`::${infraKey}`)).urn;
      const clients = labOf(out, caDir, mailName);
      expect(clients.mail).toBe(mailHost.address);
      expect(clients.dns).toBe(infra.address);
      const { hello, fanout } = await checkMailSystem(out, clients, zone, name);

      // No systemd here: the services run from their init scripts.
      expect(await ssh(lab, mailHost, "root", "cat /proc/1/comm")).toMatch(/^sshd/);
      // Secrets on the host: readable by root and the daemon's group only.
      expect(await ssh(lab, mailHost, "root", "stat -c '%U:%G %a' /etc/postfix/mysql-virtual-mailbox-maps.cf /etc/dovecot/dovecot-sql.conf.ext /etc/ssl/mail/privkey.pem")).toBe(
        "root:postfix 640\nroot:dovecot 640\nroot:root 600\n",
      );
      await checkDatabaseAccounts((sql) => ssh(lab, infra, "root", `mysql -N -e ${JSON.stringify(sql)}`), mailHost.address);
      // The hashes cross the network here: over TLS only, the database's certificate verified.
      await checkDatabaseTls((script) => ssh(lab, mailHost, "root", script), zone);
      expect(await ssh(lab, infra, "root", "stat -c '%U:%G %a' /etc/mysql/ssl/server-key.pem")).toBe("mysql:mysql 600\n");
      // The database listens on the host's address, not on every interface.
      expect(await ssh(lab, infra, "root", "cat /etc/mysql/mariadb.conf.d/60-mail-system.cnf")).toContain(`bind-address = ${infra.address}`);

      // Backups on hosts: mail-backup runs from its init script on both; the
      // CLI reaches them over SSH with the stack's key (sudo as deploy) and
      // backs up the database's dump and the mail, each into its host's directory.
      for (const host of [infra, mailHost]) expect(await ssh(lab, host, "root", "service mail-backup status && echo running")).toBe("running\n");
      expect(await backupCli(stack, ["run"])).toMatchObject({ code: 0 });
      expect((await backupCli(stack, ["status"])).stdout.match(/^state=ok$/gm)).toHaveLength(2);
      for (const host of [infra, mailHost]) expect(await ssh(lab, host, "root", "ls /var/backups/mail-system")).toContain("snapshots");
      expect(await ssh(lab, infra, "root", "grep -c 'INSERT INTO `virtual_users`' /var/lib/mail-backup/dump/mailserver.sql")).toBe("1\n");

      // A second preview changes nothing.
      expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});

      // A new user: only that user's resources, no daemon restarted or reloaded.
      const mailPids = ["/var/spool/postfix/pid/master.pid", "/run/dovecot/master.pid", "/run/opendkim/opendkim.pid", "/run/nginx.pid"];
      const before = await pids(lab, mailHost, mailPids);
      expect(before).not.toContain("none");
      await stack.setAllConfig(toPathConfig({ "mail-system:users": [...users, { email: `ann@${mailName}` }] }), true);
      const added = await stack.up({ onOutput: log });
      expect(changesOf(added.summary.resourceChanges ?? {})).toEqual({ create: 4 });
      expect(await pids(lab, mailHost, mailPids)).toEqual(before);

      // A new DKIM selector: OpenDKIM's files and the zone change, so OpenDKIM
      // restarts and BIND reloads; Postfix and Dovecot keep running untouched.
      await stack.setConfig("mail-system:dkimSelector", { value: "s2026" });
      const rekeyed = await stack.up({ onOutput: log });
      const replaced = Object.entries(rekeyed.summary.resourceChanges ?? {});
      log(`ssh target: selector change: ${JSON.stringify(replaced)}\n`);
      const after = await pids(lab, mailHost, mailPids);
      expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
      expect(after[2]).not.toBe(before[2]);
      // The web server reads none of those files either.
      expect(after[3]).toBe(before[3]);
      const passwords = added.outputs.userPasswords.value as Record<string, string>;
      await waitForMail({ ...clients, passwords }, `leeo@${mailName}`, hello);
      expect(await waitForMail({ ...clients, passwords }, `frank@${mailName}`, fanout)).toContain(fanout);

      // The shared host's keys change: a deploy that has work there (a new
      // user's rows) is refused before anything runs on it, naming the host.
      await rotateHostKeys(lab, infra);
      const rows = (email: string) => ssh(lab, infra, "root", `mysql -N -e "SELECT COUNT(*) FROM mailserver.virtual_users WHERE email = '${email}'"`);
      const bob = `bob@${mailName}`;
      await stack.setAllConfig(toPathConfig({ "mail-system:users": [...users, { email: `ann@${mailName}` }, { email: bob }] }), true);
      const t1 = Date.now();
      const refused = await stack.up({ onOutput: log }).then(
        () => undefined,
        (err: unknown) => String(err),
      );
      log(`ssh target: refused up took ${Math.round((Date.now() - t1) / 1000)}s\n`);
      expect(refused).toMatch(new RegExp(`dialing ${infra.address.replace(/\./g, "\\.")}:22 as root failed after 5 attempt\\(s\\): ssh: handshake failed: ssh: host key mismatch`));
      expect(await rows(bob)).toBe("0\n");
      // Accepted as the README says: replace the recorded key (a new first use).
      const accepted = await stack.up({ onOutput: log, replace: [infraKeyUrn] });
      expect(accepted.summary.result).toBe("succeeded");
      expect(await rows(bob)).toBe("1\n");
      const rerecorded = (await stack.exportStack()).deployment.resources.find((r: { urn: string }) => r.urn === infraKeyUrn);
      expect(rerecorded.outputs.stdout).toBe(infra.hostKey);
      expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});
    });

    // Destroy took away the packages it installed, its files, the services and
    // the database; the mail stayed (purgeMailOnDestroy is false).
    const installed = (host: SshHost, pkgs: string) =>
      ssh(lab, host, "root", `for p in ${pkgs}; do dpkg-query -W -f='\${db:Status-Abbrev}' $p 2>/dev/null | grep -q '^ii' && echo $p; done; true`);
    expect(await installed(mailHost, "postfix dovecot-core opendkim nginx")).toBe("");
    expect(await installed(infra, "bind9 mariadb-server")).toBe("");
    // Its files are gone; the packages' own files it had replaced are back (conffiles stay after remove).
    expect(await ssh(lab, mailHost, "root", "ls -d /etc/postfix/main.cf /etc/ssl/mail /etc/opendkim/keys 2>/dev/null; true")).toBe("");
    expect(await ssh(lab, infra, "root", "ls -d /var/lib/bind/db.rockylinux.me /var/lib/mysql/mailserver /etc/mysql/mariadb.conf.d/60-mail-system.cnf 2>/dev/null; true")).toBe("");
    for (const host of [infra, mailHost]) {
      expect(await ssh(lab, host, "root", "grep -rli 'rendered by' /etc/postfix /etc/dovecot /etc/opendkim.conf /etc/bind /etc/nginx 2>/dev/null; ls /usr/local/sbin | grep mail-system; true")).toBe("");
      expect(await ssh(lab, host, "root", "find /etc -name '*.mail-system-*'")).toBe("");
    }
    expect(await ssh(lab, mailHost, "root", "head -1 /etc/dovecot/dovecot.conf")).toBe("## Dovecot configuration file\n");
    for (const host of [infra, mailHost]) expect(await ssh(lab, host, "root", "ls /var/lib/mail-system 2>/dev/null || echo gone")).toBe("gone\n");
    expect(await ssh(lab, mailHost, "root", `ls /var/mail/vhosts/${mailName}`)).toBe("frank\nleeo\n");
    expect(await ssh(lab, mailHost, "root", "getent passwd vmail || echo gone")).toBe("gone\n");
  } finally {
    fs.rmSync(caDir, { recursive: true, force: true });
    await lab.destroy();
  }
});
