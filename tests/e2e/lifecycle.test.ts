// User lifecycle on a deployed system: re-passwording and removing a user is
// a configuration change and one `up` that restarts nothing and leaves every
// other mailbox alone; a removed user's maildir is kept unless purging is on,
// and destroy keeps the mail volume.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { BASE_IMAGE } from "../../components/baseImage";
import { inbox, Lab, mailClient, send, waitForMail } from "./clients";
import { changesOf, docker, dockerLab, freeSubnet, log, PlainConfig, replaceConfig, uniqueName, withStack } from "./lab";

jest.setTimeout(30 * 60_000);

const root = path.join(__dirname, "..", "..");
const domain = "lifecycle.test";

test("re-password, remove and purge users: one up each, nothing restarts, other mail untouched", async () => {
  const name = uniqueName("lc");
  const net = (await freeSubnet()).replace(/\.0\/24$/, "");
  const [frank, leeo, ann] = ["frank", "leeo", "ann"].map((u) => `${u}@${domain}`);
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-ca-"));
  const mailVolume = `${name}-mail-var-mail-vhosts`;
  const queueVolume = `${name}-mail-var-spool-postfix`;
  // What Rspamd learnt (Bayes, in Redis) and its own state.
  const filterVolumes = [`${name}-mail-var-lib-redis`, `${name}-mail-var-lib-rspamd`];
  const config: PlainConfig = {
    "mail-system:domain": domain,
    "mail-system:users": [{ email: frank }, { email: leeo }, { email: ann }],
    ...dockerLab(name, net),
    // The default, whose keeping of the mail volume is checked after destroy.
    "mail-system:purgeMailOnDestroy": false,
  };
  const maildir = (user: string) => `/var/mail/vhosts/${domain}/${user.split("@")[0]}`;
  const hasMaildir = (user: string) =>
    docker("exec", `${name}-mail`, "sh", "-c", `test -d ${maildir(user)} && echo yes || echo no`).then((o) => o.trim() === "yes");
  const containers = () => docker("ps", "-q", "--no-trunc", "--filter", `label=mail-system.stack=${name}`);

  try {
    await withStack(root, name, config, async (stack: Stack) => {
      const up = await stack.up({ onOutput: log });
      fs.writeFileSync(path.join(caDir, "ca.pem"), up.outputs.caCertificate.value as string);
      const lab: Lab = {
        mail: up.outputs.mailServer.value as string,
        servername: `mail.${domain}`,
        ca: path.join(caDir, "ca.pem"),
        passwords: { ...(up.outputs.userPasswords.value as Record<string, string>) },
      };
      expect(up.outputs.deployCheck.value).toMatch(/^SMTP submission to IMAP delivery for frank@lifecycle\.test in \d+ ms$/);
      for (const to of [leeo, ann]) expect(await send(lab, frank, to, `before ${to}`)).toEqual({ ok: true, refused: {} });
      await waitForMail(lab, leeo, `before ${leeo}`);
      await waitForMail(lab, ann, `before ${ann}`);
      const running = await containers();

      // Re-password ann: her hash is made again and her row updated; her generated password is gone.
      const annPassword = "a new password for ann";
      await replaceConfig(stack, { "mail-system:users": [{ email: frank }, { email: leeo }, { email: ann, password: annPassword }] });
      const repassword = await stack.up({ onOutput: log });
      expect(changesOf(repassword.summary.resourceChanges ?? {})).toEqual({ update: 2, delete: 1 });
      expect((await inbox(lab, ann)).ok).toBe(false); // the old password
      lab.passwords[ann] = annPassword;
      expect((await inbox(lab, ann)).subjects).toEqual([`before ${ann}`]);

      // Remove ann: she can no longer log in; her maildir stays; others keep their mail.
      await replaceConfig(stack, { "mail-system:users": [{ email: frank }, { email: leeo }] });
      const removed = await stack.up({ onOutput: log });
      expect(Object.keys(changesOf(removed.summary.resourceChanges ?? {}))).toEqual(["delete"]);
      expect((await inbox(lab, ann)).ok).toBe(false);
      expect(await hasMaildir(ann)).toBe(true);
      expect((await inbox(lab, leeo)).subjects).toEqual([`before ${leeo}`]);
      // Mail arriving for her on port 25 is now refused as an unknown recipient.
      const inbound = await mailClient(lab, "send", { port: 25, sender: "someone@example.org", to: ann, subject: "x", body: "x" });
      expect(inbound).toMatchObject({ ok: false, stage: "recipient", code: 550 });

      // With purging on, removing leeo deletes leeo's maildir and nothing else.
      await stack.setConfig("mail-system:purgeRemovedMailboxes", { value: "true" });
      expect(changesOf((await stack.up({ onOutput: log })).summary.resourceChanges ?? {})).toEqual({ create: 2 });
      await replaceConfig(stack, { "mail-system:users": [{ email: frank }] });
      await stack.up({ onOutput: log });
      expect(await hasMaildir(leeo)).toBe(false);
      expect(await hasMaildir(ann)).toBe(true);
      expect((await inbox(lab, leeo)).ok).toBe(false);

      // None of this restarted or replaced a container.
      expect(await containers()).toBe(running);
      expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});
    });

    // destroy kept the mail (purgeMailOnDestroy is false by default): its
    // volume outlives the stack, maildirs and all, and so does the queue's
    // (mail not yet delivered), and the filter's (what it learnt); everything else is gone.
    expect(await docker("ps", "-a", "-q", "--filter", `label=mail-system.stack=${name}`)).toBe("");
    expect((await docker("volume", "ls", "-q", "--filter", `name=${name}-`)).split("\n").filter(Boolean).sort()).toEqual([...filterVolumes, mailVolume, queueVolume]);
    const kept = await docker("run", "--rm", "-v", `${mailVolume}:/m:ro`, process.env.BASE_IMAGE ?? BASE_IMAGE, "ls", `/m/${domain}`);
    // ann's (removed before purging was on). With purgeRemovedMailboxes on,
    // destroy removes every user and so purges their maildirs: leeo's and frank's.
    expect(kept.split("\n").filter(Boolean)).toEqual(["ann"]);
  } finally {
    fs.rmSync(caDir, { recursive: true, force: true });
    await docker("volume", "rm", "-f", mailVolume, queueVolume, ...filterVolumes).catch(() => undefined);
  }
});
