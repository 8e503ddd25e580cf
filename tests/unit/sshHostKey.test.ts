// The SSH host key recorder: which key it records, a pin checked against what
// the host presents, an update that keeps the recorded key, and roles that
// share one SSH server. The script runs against a stub ssh-keyscan.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostKeyScript, sshEndpoints } from "../../components/targets/sshHostKey";

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEd";
const ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABB";

/** Runs the script with a stub ssh-keyscan printing `presented` (as "[host]:port type key" lines); returns its result and the stub's calls. */
function run(phase: "create" | "update", presented: string[], env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyscan-"));
  try {
    fs.writeFileSync(
      path.join(dir, "ssh-keyscan"),
      `#!/bin/sh\necho "ssh-keyscan $*" >>"${dir}/log"\necho "# 10.0.0.5:2222 SSH-2.0-OpenSSH_9.2p1" >&2\n${presented.map((k) => `echo '[10.0.0.5]:2222 ${k}'`).join("\n")}\n`,
      { mode: 0o755 },
    );
    const r = spawnSync("/bin/sh", ["-c", hostKeyScript(phase)], {
      encoding: "utf8",
      env: { PATH: `${dir}:/usr/bin:/bin`, SSH_HOST: "10.0.0.5", SSH_PORT: "2222", KEY_SETTING: "hosts.db.hostKey", ...env },
      timeout: 10_000,
    });
    const log = fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : "";
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, log };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("hostKeyScript", () => {
  test("first use: asks the host (its port, ed25519 and ECDSA only) and prints its ed25519 key, else its ECDSA key", () => {
    const r = run("create", [ECDSA, ED]);
    expect(r).toMatchObject({ code: 0, stdout: `${ED}\n`, stderr: "" });
    expect(r.log).toBe("ssh-keyscan -T 5 -p 2222 -t ed25519,ecdsa 10.0.0.5\n");
    expect(run("create", [ECDSA]).stdout).toBe(`${ECDSA}\n`);
  });

  test("a host with only an RSA key is refused: @pulumi/command cannot check one", () => {
    const r = run("create", ["ssh-rsa AAAAB3NzaC1yc2E"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("mail-system: SSH host 10.0.0.5 port 2222 offers no ed25519 or ECDSA host key");
  });

  test("a pinned key: printed when the host presents it, else refused naming the host, the setting and what it presents", () => {
    expect(run("create", [ECDSA, ED], { PINNED_KEY: ECDSA })).toMatchObject({ code: 0, stdout: `${ECDSA}\n` });
    const r = run("create", [ED], { PINNED_KEY: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther" });
    expect(r).toMatchObject({ code: 1, stdout: "" });
    expect(r.stderr).toContain("mail-system: SSH host 10.0.0.5 port 2222 does not present the key pinned in hosts.db.hostKey");
    expect(r.stderr).toContain(`it presents: ${ED}`);
    expect(r.stderr).toContain("pulumi config set --path hosts.db.hostKey");
  });

  test("update keeps the recorded key without asking the host (only a replace is a new first use); a new pin is checked", () => {
    const kept = run("update", ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINew"], { PULUMI_COMMAND_STDOUT: ED });
    expect(kept).toMatchObject({ code: 0, stdout: `${ED}\n`, log: "" });
    const pinned = run("update", [ED], { PULUMI_COMMAND_STDOUT: ECDSA, PINNED_KEY: ED });
    expect(pinned).toMatchObject({ code: 0, stdout: `${ED}\n` });
    expect(pinned.log).toContain("ssh-keyscan");
  });

  test("without ssh-keyscan it says what is missing", () => {
    const r = spawnSync("/bin/sh", ["-c", hostKeyScript("create")], { encoding: "utf8", env: { PATH: "/nonexistent", SSH_HOST: "10.0.0.5", SSH_PORT: "22" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("needs ssh-keyscan");
  });
});

describe("sshEndpoints", () => {
  test("one per address and port, with the roles on it and its pin", () => {
    const e = sshEndpoints({ dns: { address: "10.0.0.5" }, db: { address: "10.0.0.5", port: 22 }, mail: { address: "10.0.0.5", port: 2222, hostKey: ED } });
    expect([...e.values()]).toEqual([
      { address: "10.0.0.5", port: 22, roles: ["dns", "db"] },
      { address: "10.0.0.5", port: 2222, roles: ["mail"], pinned: ED },
    ]);
  });

  test("roles on one server cannot pin different keys", () => {
    expect(() => sshEndpoints({ dns: { address: "10.0.0.5", hostKey: ED }, db: { address: "10.0.0.5" } })).toThrow(
      "hosts.dns and hosts.db are the same SSH server (10.0.0.5:22) but pin different host keys",
    );
  });
});
