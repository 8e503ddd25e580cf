// The product, end to end: the real program on a throwaway stack with its own
// subnet, driven by real clients (Node's DNS resolver; Python's smtplib,
// imaplib and poplib) against the real servers, then a user is added and the
// stack destroyed.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Resolver } from "dns/promises";
import { Stack } from "@pulumi/pulumi/automation";
import { NAMED_CAPABILITIES } from "../../components/bindServer";
import { MAIL_CAPABILITIES } from "../../components/mailServer";
import { DB_CAPABILITIES } from "../../components/mysqlServer";
import { Capability } from "../../components/targets/server";
import { checkAcme } from "./acme";
import { mailClient, waitForMail } from "./clients";
import { checkDatabaseAccounts, checkDatabaseTls, checkMailSystem, checkedSystem, labOf } from "./mailChecks";
import { changesOf, docker, dockerLab, freeSubnet, log, sh, toPathConfig, uniqueName, withStack } from "./lab";

jest.setTimeout(30 * 60_000);

// Bit numbers of the capabilities (linux/capability.h), to read /proc's masks.
const CAPABILITY_BITS: Record<Capability, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10, CAP_NET_RAW: 13, CAP_SYS_CHROOT: 18, CAP_MKNOD: 27, CAP_AUDIT_WRITE: 29, CAP_SETFCAP: 31,
};

const root = path.join(__dirname, "..", "..");
const zone = "rockylinux.me";
const mailName = `mail.${zone}`;

test("pulumi up gives working, secure mail; adding a user touches only that user; destroy leaves nothing", async () => {
  const name = uniqueName("ms");
  const subnet = await freeSubnet();
  const net = subnet.replace(/\.0\/24$/, "");
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-ca-"));
  const { users, config: system } = checkedSystem(zone);
  const config = {
    ...system,
    // Its mail volume too is removed on destroy: "destroy leaves nothing" below.
    ...dockerLab(name, net),
  };

  try {
    await withStack(root, name, config, async (stack: Stack) => {
      const up = await stack.up({ onOutput: log });
      const out = up.outputs;
      const lab = labOf(out, caDir, mailName);
      expect(lab.mail).toBe(`${net}.6`);
      expect(lab.dns).toBe(`${net}.7`);
      const { hello, fanout } = await checkMailSystem(out, lab, zone, name);
      const servers = out.servers.value as Record<string, string>;
      await checkDatabaseAccounts((sql) => docker("exec", servers.db, "mysql", "-N", "-e", sql), lab.mail);
      // Postfix and Dovecot reach the database over TLS only, its certificate verified.
      await checkDatabaseTls((script) => docker("exec", servers.mail, "sh", "-c", script), zone);
      expect(await docker("exec", servers.db, "stat", "-c", "%U:%G %a", "/etc/mysql/ssl/server-key.pem")).toBe("mysql:mysql 600\n");
      // Uploaded files got their owners inside the container (uploads name none).
      expect(await docker("exec", servers.mail, "stat", "-c", "%U:%G %a", "/etc/postfix/mysql-virtual-mailbox-maps.cf", "/etc/dovecot/dovecot-sql.conf.ext", "/etc/ssl/mail/privkey.pem", `/etc/opendkim/keys/${mailName}/mail.private`)).toBe(
        "root:postfix 640\nroot:dovecot 640\nroot:root 600\nopendkim:opendkim 600\n",
      );
      // Each container keeps only its role's capabilities, and nothing in it
      // gains privileges: what Docker reports, and what its PID 1 has.
      const roleCaps: Record<string, readonly Capability[]> = { dns: NAMED_CAPABILITIES, db: DB_CAPABILITIES, mail: MAIL_CAPABILITIES };
      for (const [role, caps] of Object.entries(roleCaps)) {
        const hc = JSON.parse(await docker("inspect", "-f", "{{json .HostConfig}}", servers[role])) as { CapDrop: string[]; CapAdd: string[]; SecurityOpt: string[] };
        expect({ role, drop: hc.CapDrop, add: [...hc.CapAdd].sort(), opts: hc.SecurityOpt }).toEqual({ role, drop: ["ALL"], add: [...caps].sort(), opts: ["no-new-privileges:true"] });
        const bounding = caps.reduce((mask, c) => mask | (1n << BigInt(CAPABILITY_BITS[c])), 0n).toString(16).padStart(16, "0");
        expect(await docker("exec", servers[role], "grep", "-E", "^(CapBnd|NoNewPrivs):", "/proc/1/status")).toBe(`CapBnd:\t${bounding}\nNoNewPrivs:\t1\n`);
      }
      const frank = `frank@${mailName}`;
      const leeo = `leeo@${mailName}`;

      // A second preview changes nothing.
      expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});

      // Adding a user creates only that user's resources; no container is replaced.
      const containersBefore = await docker("ps", "-q", "--no-trunc", "--filter", `label=mail-system.stack=${name}`);
      await stack.setAllConfig(toPathConfig({ "mail-system:users": [...users, { email: `ann@${mailName}` }] }), true);
      const added = await stack.up({ onOutput: log });
      expect(changesOf(added.summary.resourceChanges ?? {})).toEqual({ create: 4 });
      expect(await docker("ps", "-q", "--no-trunc", "--filter", `label=mail-system.stack=${name}`)).toBe(containersBefore);
      const ann = `ann@${mailName}`;
      const annPassword = (added.outputs.userPasswords.value as Record<string, string>)[ann];
      lab.passwords[ann] = annPassword;
      const welcome = `welcome ${name}`;
      expect(await mailClient(lab, "send", { port: 587, user: frank, sender: frank, to: ann, subject: welcome, body: "x" }, lab.passwords[frank])).toEqual({ ok: true, refused: {} });
      await waitForMail(lab, ann, welcome);
      // Mail delivered before the change is still there.
      expect(await waitForMail(lab, leeo, hello)).toContain(fanout);

      // A quota of ann's own: her row is updated (one resource), nothing restarts; IMAP reports it (KiB).
      const pidsBefore = await docker("exec", servers.mail, "cat", "/var/spool/postfix/pid/master.pid", "/run/dovecot/master.pid");
      await stack.setAllConfig(toPathConfig({ "mail-system:users": [...users, { email: ann, quota: "1M" }] }), true);
      expect(changesOf((await stack.up({ onOutput: log })).summary.resourceChanges ?? {})).toEqual({ update: 1 });
      expect(await docker("exec", servers.mail, "cat", "/var/spool/postfix/pid/master.pid", "/run/dovecot/master.pid")).toBe(pidsBefore);
      expect((await mailClient(lab, "imap", { port: 993, user: ann, quota: true }, annPassword)).quota).toEqual([expect.stringMatching(/^"User quota" \(STORAGE \d+ 1024\)$/)]);

      // A DKIM rollover in the documented steps. OpenDKIM's files change only
      // when the signing key does, so only then does it restart; BIND reloads
      // for the records; Postfix and Dovecot keep running and no container is
      // replaced (as on a host: sshTarget.test.ts).
      const mailPids = ["/var/spool/postfix/pid/master.pid", "/run/dovecot/master.pid", "/run/opendkim/opendkim.pid"];
      const pids = () => Promise.all(mailPids.map(async (f) => (await docker("exec", servers.mail, "cat", f)).trim()));
      const resolver = new Resolver({ timeout: 3000, tries: 2 });
      resolver.setServers([lab.dns]);
      const txt = async (selector: string) => (await resolver.resolveTxt(`${selector}._domainkey.${mailName}`).catch(() => [])).map((t) => t.join(""));
      const signedWith = async (step: string) => {
        const subject = `signed ${step} ${name}`;
        expect(await mailClient(lab, "send", { port: 587, user: frank, sender: frank, to: leeo, subject, body: "x" }, lab.passwords[frank])).toEqual({ ok: true, refused: {} });
        await waitForMail(lab, leeo, subject);
        const dkim = await mailClient(lab, "dkim-verify", { port: 993, user: leeo, subject, dns: lab.dns }, lab.passwords[leeo]);
        expect(dkim).toMatchObject({ ok: true, signatures: 1, domain: mailName, verified: true });
        return dkim.selector;
      };
      const before = await pids();
      // 1. The next key is published; the old one goes on signing.
      await stack.setAllConfig(toPathConfig({ "mail-system:dkimPublishedSelectors": ["s2026"] }), true);
      await stack.up({ onOutput: log });
      expect(await txt("s2026")).toEqual([expect.stringMatching(/^v=DKIM1; k=rsa; p=/)]);
      expect(await txt("mail")).toHaveLength(1);
      expect(await pids()).toEqual(before);
      expect(await signedWith("published")).toBe("mail");
      // 2. It becomes the signing selector, the old one stays published; within the wait (24 h) the old key still signs.
      await stack.setConfig("mail-system:dkimSelector", { value: "s2026" });
      await stack.setAllConfig(toPathConfig({ "mail-system:dkimPublishedSelectors": ["mail"] }), true);
      await stack.up({ onOutput: log });
      expect(await pids()).toEqual(before);
      expect(await signedWith("waiting")).toBe("mail");
      // 3. Once the wait is over (here: no wait), the next up signs with the new key: OpenDKIM alone restarts.
      await stack.setConfig("mail-system:dkimRolloverWait", { value: "0" });
      await stack.up({ onOutput: log });
      const after = await pids();
      expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
      expect(after[2]).not.toBe(before[2]);
      expect(await signedWith("rolled")).toBe("s2026");
      expect(await txt("mail")).toHaveLength(1);
      // 4. The old key retired: its record goes.
      await stack.removeConfig("mail-system:dkimPublishedSelectors");
      await stack.up({ onOutput: log });
      expect(await txt("mail")).toEqual([]);
      expect(await txt("s2026")).toHaveLength(1);
      expect(await docker("ps", "-q", "--no-trunc", "--filter", `label=mail-system.stack=${name}`)).toBe(containersBefore);

      // Certificates from an ACME CA (Pebble), renewed by the server itself.
      await checkAcme(stack, lab, async () => ((await stack.outputs()).servers.value as Record<string, string>).mail, `${net}.1`, zone);
    });

    // destroy (done by withStack) left nothing of the stack behind.
    expect(await docker("ps", "-a", "-q", "--filter", `label=mail-system.stack=${name}`)).toBe("");
    expect(await docker("network", "ls", "-q", "--filter", `name=${name}-net`)).toBe("");
    expect(await docker("volume", "ls", "-q", "--filter", `name=${name}-`)).toBe("");
    expect(await sh("docker", ["images", "-q", "--filter", `reference=${name}-*`])).toBe("");
  } finally {
    fs.rmSync(caDir, { recursive: true, force: true });
  }
});

test("an invalid configuration fails before any resource is created, naming each bad key", async () => {
  const name = uniqueName("bad");
  const config = {
    "mail-system:domain": "not a domain",
    "mail-system:users": [{ email: "frank@" }, { email: "a@elsewhere.org" }],
    "mail-system:dbAddress": "192.168.100.7",
    "mail-system:mailAddress": "10.9.9.9",
    "mail-system:namePrefix": name,
  };
  await withStack(root, name, config, async (stack: Stack) => {
    const failure = stack.up({ onOutput: log }).then(
      () => "succeeded",
      (err: Error) => err.message,
    );
    const message = await failure;
    for (const expected of [
      'mail-system:domain: "not a domain" is not a valid domain name',
      'mail-system:users[0].email: "frank@" is not a valid e-mail address',
      "mail-system:users[1].email: the domain of \"a@elsewhere.org\" is not served",
      "mail-system:dbAddress: 192.168.100.7 is already the address of dnsAddress",
      "mail-system:mailAddress: 10.9.9.9 is outside the subnet 192.168.100.0/24",
    ]) {
      expect(message).toContain(expected);
    }
    const state = await stack.exportStack();
    const resources = (state.deployment.resources ?? []) as { type: string }[];
    expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });
});
