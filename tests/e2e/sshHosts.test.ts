// The SSH test-host harness: two hosts answer with the lab's key as root and
// as deploy (passwordless sudo), their host keys are the ones the harness
// reports, systemd is not PID 1, and destroy leaves nothing behind.
import { docker, freeSubnet, sh, uniqueName } from "./lab";
import { ssh, SshLab, startSshHosts } from "./sshHosts";

jest.setTimeout(10 * 60_000);

test("SSH hosts: key login as root and deploy, sudo, known host keys, no systemd, clean destroy", async () => {
  const prefix = uniqueName("sshhosts");
  const net = (await freeSubnet()).replace(/\.0\/24$/, "");
  const containers = () => docker("ps", "-a", "-q", "--filter", `label=mail-system.stack=${prefix}`);
  const networks = () => docker("network", "ls", "-q", "--filter", `label=mail-system.stack=${prefix}`);
  let lab: SshLab | undefined;
  try {
    lab = await startSshHosts(prefix, `${net}.0/24`, [
      { name: "alpha", address: `${net}.10` },
      { name: "beta", address: `${net}.11` },
    ]);
    expect(lab.gateway).toBe(`${net}.1`);
    expect(lab.network).toBe(`${prefix}-net`);
    expect(lab.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(lab.publicKey).toMatch(/^ssh-ed25519 AAAA\S+ /);
    expect(lab.hosts.map((h) => [h.name, h.address, h.port, h.container])).toEqual([
      ["alpha", `${net}.10`, 22, `${prefix}-alpha`],
      ["beta", `${net}.11`, 22, `${prefix}-beta`],
    ]);
    expect(new Set(lab.hosts.map((h) => h.hostKey)).size).toBe(2); // made per container, not baked in

    for (const host of lab.hosts) {
      expect(host.hostKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
      const scanned = await sh("ssh-keyscan", ["-T", "5", "-t", "ed25519", host.address], 30_000);
      expect(scanned.trim().split("\n").filter((l) => !l.startsWith("#"))).toEqual([`${host.address} ${host.hostKey}`]);

      expect((await ssh(lab, host, "root", "id -u; hostname")).split("\n")).toEqual(["0", host.name, ""]);
      expect(await ssh(lab, host, "deploy", "id -un; sudo -n id -u")).toBe("deploy\n0\n");
      expect((await ssh(lab, host, "root", "cat /proc/1/comm")).trim()).toBe("sshd");
      expect(await ssh(lab, host, "root", "test -d /run/systemd/system && echo systemd || echo none")).toBe("none\n");
      // Root sees other users' daemons as on a real host (init scripts' start-stop-daemon --exec).
      const other = "runuser -u deploy -- sleep 5 </dev/null >/dev/null 2>&1 & sleep 0.5; readlink /proc/$(pgrep -u deploy -x sleep)/exe";
      expect(await ssh(lab, host, "root", other)).toBe("/usr/bin/sleep\n");
      // Password logins are refused: only publickey is offered.
      await expect(
        sh("ssh", ["-o", "BatchMode=yes", "-o", "PreferredAuthentications=password", "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", `deploy@${host.address}`, "true"], 30_000),
      ).rejects.toMatchObject({ stderr: expect.stringMatching(/Permission denied \(publickey\)/) });
    }
    expect((await containers()).split("\n").filter(Boolean)).toHaveLength(2);
  } finally {
    await lab?.destroy();
    await lab?.destroy(); // idempotent
  }
  expect((await containers()).trim()).toBe("");
  expect((await networks()).trim()).toBe("");
});
