// Upgrades that cannot lose mail: a stack deployed by the previous release
// (tests/e2e/fixtures/previous-release, taken from this repository's
// history), filled with mail in folders with flags, a message waiting in the
// queue and users with generated and configured passwords, is upgraded the
// documented way (scripts/upgrade-state.sh, then `pulumi up` from this tree
// on the same stack) and still has all of it. Long: run only with
// MAIL_SYSTEM_LONG_TESTS=1, which CI sets.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { Lab, mailboxState, mailClient, send, waitForMail } from "./clients";
import { changesOf, docker, dockerLab, freeSubnet, log, sh, toPathConfig, uniqueName } from "./lab";

jest.setTimeout(30 * 60_000);
const long = process.env.MAIL_SYSTEM_LONG_TESTS === "1" ? describe : describe.skip;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const root = path.join(__dirname, "..", "..");
const domain = "upgrade.test";
const [alice, bob] = [`alice@${domain}`, `bob@${domain}`];
const previous = fs
  .readFileSync(path.join(__dirname, "fixtures", "previous-release"), "utf8")
  .split("\n")
  .find((l) => /^[0-9a-f]{40}$/.test(l.trim()))!
  .trim();

/** The queue IDs of messages waiting for `recipient`. */
async function queuedFor(container: string, recipient: string): Promise<string[]> {
  return (await docker("exec", container, "postqueue", "-j"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { queue_id: string; recipients: { address: string }[] })
    .filter((m) => m.recipients.some((r) => r.address === recipient))
    .map((m) => m.queue_id);
}

/** The previous release's tree, with this tree's dependencies when its lock file is the same (else its own, installed). */
async function previousTree(): Promise<string> {
  await sh("git", ["-C", root, "cat-file", "-e", `${previous}^{commit}`]).catch(() => {
    throw new Error(`the previous release ${previous} is not in this repository's history (a shallow clone?): git fetch --unshallow`);
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-previous-"));
  await sh("bash", ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "archive", root, previous, dir]);
  const sameLock = fs.readFileSync(path.join(dir, "package-lock.json"), "utf8") === fs.readFileSync(path.join(root, "package-lock.json"), "utf8");
  if (sameLock) fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
  else await sh("npm", ["ci", "--prefix", dir, "--no-audit", "--no-fund"], 15 * 60_000);
  return dir;
}

long("upgrading a stack of the previous release", () => {
  test("mail in folders with flags, a queued message and every user's password are there after `pulumi up` from this tree", async () => {
    const name = uniqueName("upg");
    const net = (await freeSubnet()).replace(/\.0\/24$/, "");
    const config = {
      "mail-system:domain": domain,
      // alice's password is generated (kept in state), bob's configured.
      "mail-system:users": [{ email: alice }, { email: bob, password: "bob-Upgrade-1" }],
      ...dockerLab(name, net),
    };
    const oldDir = await previousTree();
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-state-"));
    const envVars = { PULUMI_BACKEND_URL: `file://${backend}` };
    const stackFile = `Pulumi.${name}.yaml`;
    let stack: Stack | undefined;
    try {
      stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: oldDir }, { envVars });
      await stack.setAllConfig(toPathConfig(config), true);
      const up = await stack.up({ onOutput: log });
      const caFile = path.join(oldDir, "ca.pem");
      fs.writeFileSync(caFile, up.outputs.caCertificate.value as string);
      const passwords = { ...(up.outputs.userPasswords.value as Record<string, string>) };
      const lab: Lab = { mail: up.outputs.mailServer.value as string, servername: `mail.${domain}`, ca: caFile, passwords };
      const mail = `${name}-mail`;

      for (const s of ["u1", "u2", "u3"]) expect((await send(lab, bob, alice, s)).ok).toBe(true);
      await waitForMail(lab, alice, "u3");
      const arrange = { create: ["Kept"], flags: { u1: ["\\Seen", "\\Answered"], u2: ["$Later"] }, move: { u3: "Kept" } };
      expect((await mailClient(lab, "arrange", { port: 993, user: alice, arrange: JSON.stringify(arrange) }, passwords[alice])).ok).toBe(true);
      // A message for a host where no SMTP server listens (the lab's DNS server): deferred, waiting in the queue.
      const far = `nobody@dns.${domain}`;
      expect((await send(lab, bob, far, "waiting")).ok).toBe(true);
      let waiting: string[] = [];
      for (let i = 0; i < 30 && waiting.length === 0; i++) {
        await sleep(1000);
        waiting = await queuedFor(mail, far);
      }
      expect(waiting).toHaveLength(1);
      const before = { alice: await mailboxState(lab, alice), bob: await mailboxState(lab, bob) };
      expect(before.alice.folders.Kept).toEqual([{ subject: "u3", flags: [] }]);

      // The documented upgrade: the stack's settings with this tree, its state brought up to date, then `pulumi up`.
      fs.copyFileSync(path.join(oldDir, stackFile), path.join(root, stackFile));
      const volumes = async () => (await docker("volume", "ls", "-q", "--filter", `name=${name}`)).split("\n").filter(Boolean).sort();
      const volumesBefore = await volumes();
      await new Promise<void>((resolve, reject) =>
        execFile("bash", ["scripts/upgrade-state.sh", name], { cwd: root, env: { ...process.env, ...envVars }, timeout: 5 * 60_000 }, (err, _out, stderr) =>
          err ? reject(new Error(`scripts/upgrade-state.sh failed: ${stderr || err.message}`)) : resolve(),
        ),
      );
      stack = await LocalWorkspace.selectStack({ stackName: name, workDir: root }, { envVars });
      const upgraded = await stack.up({ onOutput: log });
      expect(upgraded.summary.result).toBe("succeeded");
      // Every volume that held data is still there (the new release may add some).
      expect(await volumes()).toEqual(expect.arrayContaining(volumesBefore));
      expect(volumesBefore.length).toBeGreaterThanOrEqual(4);
      expect({ ...(upgraded.outputs.userPasswords.value as Record<string, string>) }).toEqual(passwords);
      const labAfter = { ...lab, mail: upgraded.outputs.mailServer.value as string };
      fs.writeFileSync(caFile, upgraded.outputs.caCertificate.value as string);
      expect(await mailboxState(labAfter, alice)).toEqual(before.alice);
      expect(await mailboxState(labAfter, bob)).toEqual(before.bob);
      expect(await queuedFor(mail, far)).toEqual(waiting);
      // New mail flows, and the stack has nothing left to change.
      expect((await send(labAfter, alice, bob, "after upgrade")).ok).toBe(true);
      await waitForMail(labAfter, bob, "after upgrade");
      expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});
    } finally {
      try {
        await stack?.destroy({ onOutput: log });
      } finally {
        await stack?.workspace.removeStack(name).catch(() => undefined);
        for (const dir of [root, oldDir]) fs.rmSync(path.join(dir, stackFile), { force: true });
        fs.rmSync(oldDir, { recursive: true, force: true });
        fs.rmSync(backend, { recursive: true, force: true });
      }
    }
  });
});
