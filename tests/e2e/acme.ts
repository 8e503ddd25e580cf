// ACME end to end: Pebble (Let's Encrypt's test CA, built from its Go module)
// on the lab network's gateway, validating DNS-01 against the lab's BIND;
// the stack gets its certificate from it, renews it with no daemon
// restarting, and shows a failed renewal in its health.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import * as tls from "tls";
import { Resolver } from "dns/promises";
import { Stack } from "@pulumi/pulumi/automation";
import { Lab, mailClient, waitForMail } from "./clients";
import { changesOf, docker, log, sh, toPathConfig } from "./lab";

const root = path.join(__dirname, "..", "..");

/** Pebble's version (toolchain/versions.env) and where its binary is kept between runs. */
function pebbleBinary(): string {
  const version = /^PEBBLE_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(root, "toolchain", "versions.env"), "utf8"))?.[1];
  if (!version) throw new Error("toolchain/versions.env has no PEBBLE_VERSION");
  const cache = process.env.MAIL_SYSTEM_CACHE_DIR ?? path.join(os.homedir(), ".cache", "mail-system");
  const dir = path.join(cache, "tools", `pebble-${version}`);
  const bin = path.join(dir, "pebble");
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true });
    log(`acme: building pebble v${version} from the Go module proxy\n`);
    execFileSync("go", ["install", `github.com/letsencrypt/pebble/v2/cmd/pebble@v${version}`], {
      env: { ...process.env, GOBIN: dir, GOFLAGS: "-mod=mod" },
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 10 * 60_000,
    });
  }
  return bin;
}

export interface Pebble {
  readonly directory: string;
  /** The CA of Pebble's own HTTPS certificate (PEM). */
  readonly serverCa: string;
  /** The root Pebble's certificates chain to (PEM; made anew at each start). */
  root(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts Pebble on `address` (the gateway: the containers reach it there),
 * asking `dnsServer` for the challenges' records, issuing certificates valid
 * `validitySeconds`.
 */
export async function startPebble(address: string, dnsServer: string, validitySeconds: number): Promise<Pebble> {
  const bin = pebbleBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-pebble-"));
  // Its HTTPS certificate, for the address the mail server dials, from a CA of the test's own.
  execFileSync("sh", ["-ec", `cd "${dir}"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=pebble test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=${address}" -keyout key.pem -out req.csr 2>/dev/null
printf 'subjectAltName=IP:${address}\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out cert.pem 2>/dev/null`]);
  const config = {
    pebble: {
      listenAddress: `${address}:14000`,
      managementListenAddress: `${address}:15000`,
      certificate: path.join(dir, "cert.pem"),
      privateKey: path.join(dir, "key.pem"),
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      retryAfter: { authz: 1, order: 1 },
      keyAlgorithm: "ecdsa",
      profiles: { default: { description: "short-lived, for the renewal test", validityPeriod: validitySeconds } },
    },
  };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  const serverCa = fs.readFileSync(path.join(dir, "ca.pem"), "utf8");
  const output = fs.openSync(path.join(dir, "pebble.log"), "a");
  const child: ChildProcess = spawn(bin, ["-config", path.join(dir, "config.json"), "-dnsserver", `${dnsServer}:53`], {
    // No sleeping before validation, no random nonce refusals, no reused authorizations: every order is validated.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    stdio: ["ignore", output, output],
  });
  const get = (url: string) =>
    new Promise<string>((resolve, reject) => {
      https
        // (Pebble, as RFC 8555 §6.1 says, refuses requests without a User-Agent.)
        .get(url, { ca: serverCa, timeout: 3000, headers: { "User-Agent": "mail-system e2e" } }, (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`))));
        })
        .on("error", reject);
    });
  const directory = `https://${address}:14000/dir`;
  // Up when its directory answers (bounded: 20 s).
  for (let i = 0; ; i++) {
    try {
      await get(directory);
      break;
    } catch (err) {
      if (i >= 40 || child.exitCode !== null) {
        child.kill("SIGKILL");
        throw new Error(`pebble did not start: ${err}\n${fs.readFileSync(path.join(dir, "pebble.log"), "utf8")}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  let stopped = false;
  return {
    directory,
    serverCa,
    root: () => get(`https://${address}:15000/roots/0`),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      log(fs.readFileSync(path.join(dir, "pebble.log"), "utf8"));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The certificate a TLS port presents (implicit TLS), verified against `ca` for `servername`. */
async function served(host: string, port: number, servername: string, ca: string): Promise<{ serial: string; validTo: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, servername, ca, timeout: 5000 }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve({ serial: c.serialNumber, validTo: c.valid_to });
    });
    s.on("error", reject);
    s.on("timeout", () => s.destroy(new Error(`${host}:${port}: timed out`)));
  });
}

/** Polls (every 2 s, at most `seconds`) until `probe` says yes; its last answer. */
async function until<T>(seconds: number, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let last = await probe();
  for (let i = 0; i < seconds / 2 && !ok(last); i++) {
    await new Promise((r) => setTimeout(r, 2000));
    last = await probe();
  }
  return last;
}

/**
 * The ACME checks on a deployed lab stack (docker target) whose network's
 * gateway is `gateway`: issue, serve on every TLS port, renew with no
 * restart, no diff after a renewal, TLSA valid throughout, a failed renewal
 * degrading health while the old certificate serves.
 */
export async function checkAcme(stack: Stack, lab: Lab & { dns: string }, mailContainer: () => Promise<string>, gateway: string, zone: string): Promise<void> {
  // 180 s certificates: a renewal is due after 120 s (and takes 15-40 s for the lab's ten names).
  const pebble = await startPebble(gateway, lab.dns, 180);
  try {
    const rootPem = await pebble.root();
    await stack.setAllConfig(
      toPathConfig({
        "mail-system:acme": { directory: pebble.directory, email: `postmaster@${zone}`, serverCaCertificate: pebble.serverCa, rootCertificate: rootPem, checkSeconds: "5" },
      }),
      true,
    );
    const up = await stack.up({ onOutput: log });
    // The deploy check (587, then IMAPS) passed against Pebble's root; the stack says whom to trust.
    expect(up.outputs.caCertificate.value).toBe(rootPem);
    fs.writeFileSync(lab.ca, rootPem);
    const mail = await mailContainer();
    const pids = () => docker("exec", mail, "cat", "/var/spool/postfix/pid/master.pid", "/run/dovecot/master.pid", "/run/nginx.pid");
    const pidsBefore = await pids();

    // Served on 465 and 993 (and STARTTLS on 587, by the client) and on the web server, verified against Pebble's root.
    const first = await served(lab.mail, 993, lab.servername, rootPem);
    expect(await served(lab.mail, 465, lab.servername, rootPem)).toEqual(first);
    expect((await served(lab.mail, 443, `autoconfig.${zone}`, rootPem)).serial).toBe(first.serial);
    const frank = `frank@${lab.servername}`;
    const subject = `acme ${Date.now()}`;
    expect(await mailClient(lab, "send", { port: 587, user: frank, sender: frank, to: frank, subject, body: "x" }, lab.passwords[frank])).toEqual({ ok: true, refused: {} });
    await waitForMail(lab, frank, subject);
    // DANE: the TLSA record (validated from the zone's DS) names the served key.
    const ds = (up.outputs.manualRecords.value as { type: string; value: string }[]).find((r) => r.type === "DS")?.value ?? "";
    const dane = () => mailClient(lab, "dane", { port: 25, dns: lab.dns, zone, ds });
    const daneBefore = await dane();
    expect(daneBefore).toMatchObject({ validated: true, match: true });

    // A renewal on schedule (bounded: 200 s): both ports serve the new serial, no daemon restarted.
    const renewed = await until(200, () => served(lab.mail, 993, lab.servername, rootPem), (c) => c.serial !== first.serial);
    expect(renewed.serial).not.toBe(first.serial);
    expect((await until(30, () => served(lab.mail, 465, lab.servername, rootPem), (c) => c.serial !== first.serial)).serial).not.toBe(first.serial);
    expect(await pids()).toBe(pidsBefore);
    expect(await dane()).toMatchObject({ validated: true, match: true, served: daneBefore.served });
    // Nothing in state follows renewals: an up would change nothing.
    expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});

    // http-01: a renewal (asked for at once with `mail-acme renew`) is
    // answered by lego on port 80; the DNS server's challenge zones and their
    // delegation are gone.
    await stack.setAllConfig(toPathConfig({ "mail-system:acme.challenge": "http-01" }), true);
    await stack.up({ onOutput: log });
    const env = await docker("exec", mail, "cat", "/etc/mail-system/acme.env");
    expect(env).toContain("ACME_CHALLENGE='http-01'");
    expect(env).not.toContain("RFC2136");
    const resolver = new Resolver({ timeout: 3000, tries: 2 });
    resolver.setServers([lab.dns]);
    await expect(resolver.resolveNs(`_acme-challenge.${lab.servername}`)).rejects.toMatchObject({ code: expect.stringMatching(/ENOTFOUND|ENODATA/) });
    await docker("exec", mail, "/usr/local/lib/mail-system/mail-acme", "renew");
    const overHttp = await until(20, () => served(lab.mail, 993, lab.servername, rootPem), (c) => c.serial !== renewed.serial);
    expect(overHttp.serial).not.toBe(renewed.serial);
    expect(await docker("exec", mail, "/usr/local/lib/mail-system/mail-acme", "status")).toContain("state=ok");
    expect(await pids()).toBe(pidsBefore);

    // The CA goes away: a forced renewal fails, the status and then the
    // health check say so, and the last certificate goes on serving.
    await pebble.stop();
    const lastServed = await served(lab.mail, 993, lab.servername, rootPem);
    await expect(docker("exec", mail, "/usr/local/lib/mail-system/mail-acme", "renew")).rejects.toThrow(/renewal failed/);
    const status = await docker("exec", mail, "/usr/local/lib/mail-system/mail-acme", "status");
    expect(status).toContain("state=failed");
    expect(status).toMatch(/message=.*still serving the certificate valid until/);
    expect((await served(lab.mail, 993, lab.servername, rootPem)).serial).toBe(lastServed.serial);
    const health = await until(
      60,
      async () => JSON.parse(await docker("inspect", "-f", "{{json .State.Health}}", mail)) as { Status: string; Log: { Output: string }[] },
      (h) => h.Status === "unhealthy",
    );
    expect(health.Status).toBe("unhealthy");
    expect(health.Log[health.Log.length - 1].Output).toContain("certificate renewal failed");
    expect(await pids()).toBe(pidsBefore);
  } catch (err) {
    // What mail-acme did, with the times, for whoever reads the failure.
    const mail = await mailContainer().catch(() => "");
    const lines = mail ? (await sh("sh", ["-c", `docker logs -t ${mail} 2>&1`]).catch(() => "")).split("\n").filter((l) => l.includes("mail-acme")) : [];
    console.log(`mail-acme's log:\n${lines.join("\n")}`);
    throw err;
  } finally {
    await pebble.stop();
  }
}
