// OpenDKIM checked by its own tools on the rendered files, inside the mail
// image: `opendkim -n` accepts the configuration, and `opendkim-testkey`
// fetches each domain's record from a real BIND (a DNS server started as the
// program starts one, serving the zone renderZone makes from MailServer-style
// records) and confirms it matches the private key. All traffic stays on
// loopback in the containers' shared network namespace (--network none for
// the DNS server).
import { execFile } from "child_process";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { renderBindFiles } from "../../components/render/bind";
import { dkimKeyPath, dkimPublicKey, dkimTxtValue, renderOpendkimFiles } from "../../components/render/opendkim";
import { DnsRecord, RenderedFile } from "../../components/render/types";
import { buildImage, runWithFiles, ServerContainer, startServer } from "./images";

const run = promisify(execFile);
const BUILD_TIMEOUT = 15 * 60_000;
const DOMAINS = ["rockylinux.me", "mail.rockylinux.me"];
const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const KEYS = DOMAINS.map((domain) => ({ domain, privateKey: rsa() }));
const FILES = renderOpendkimFiles({ selector: "mail", keys: KEYS });

async function docker(args: string[], timeout = 60_000): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run("docker", args, { timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

/** A directory with the files and a script that installs them at their paths, owners and modes. */
function stage(files: readonly RenderedFile[], then: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-check-dkim-"));
  fs.chmodSync(dir, 0o755);
  const install = files.map((f, i) => {
    fs.writeFileSync(path.join(dir, String(i)), f.content);
    fs.chmodSync(path.join(dir, String(i)), 0o644);
    return `mkdir -p '${path.posix.dirname(f.path)}' && install -o '${f.owner}' -g '${f.group}' -m '${f.mode}' /stage/${i} '${f.path}'`;
  });
  fs.writeFileSync(path.join(dir, "start.sh"), ["set -e", ...install, then, ""].join("\n"));
  return dir;
}

let image: string;
beforeAll(async () => {
  image = await buildImage("mail");
}, BUILD_TIMEOUT);

test("opendkim -n accepts the rendered configuration; the key files are opendkim's, 0600", async () => {
  const r = await runWithFiles(
    image,
    FILES,
    [
      'opendkim -n -x /etc/opendkim.conf; echo "opendkim -n: $?"',
      ...KEYS.map((k) => `stat -c '%U:%G %a %n' ${dkimKeyPath(k.domain, "mail")}`),
    ].join("\n"),
  );
  expect(r.output).toMatch(/^opendkim -n: 0$/m);
  for (const k of KEYS) expect(r.output).toContain(`opendkim:opendkim 600 ${dkimKeyPath(k.domain, "mail")}`);
}, 120_000);

test("OpenSSL derives from each private key the public key the program publishes", async () => {
  const r = await runWithFiles(
    image,
    FILES,
    KEYS.map((k) => `echo "${k.domain} $(openssl pkey -in ${dkimKeyPath(k.domain, "mail")} -pubout -outform DER | base64 -w0)"`).join("\n"),
  );
  expect(r.code).toBe(0);
  for (const k of KEYS) expect(r.output).toContain(`${k.domain} ${dkimPublicKey(k.privateKey)}\n`);
}, 120_000);

describe("opendkim-testkey against the zone served by the lab's BIND image", () => {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const dnsName = `mail-system-check-dkimdns-${suffix}`;
  const dirs: string[] = [];
  let dnsServer: ServerContainer | undefined;

  beforeAll(async () => {
    // The records as MailServer publishes them: <selector>._domainkey relative to the zone.
    const records: DnsRecord[] = [
      { name: "mail", type: "A", value: "192.0.2.6" },
      { name: "dns", type: "A", value: "127.0.0.1" },
      ...KEYS.map((k): DnsRecord => ({
        name: k.domain === "rockylinux.me" ? "mail._domainkey" : `mail._domainkey.${k.domain.slice(0, -".rockylinux.me".length)}`,
        type: "TXT",
        value: dkimTxtValue(dkimPublicKey(k.privateKey)),
      })),
    ];
    const zone = {
      origin: "rockylinux.me",
      serial: 1,
      primaryNameserver: "dns.rockylinux.me.",
      hostmaster: "hostmaster.rockylinux.me.",
      records,
    };
    // Set up as the program does; healthy within 60 s, or the error has named's log.
    dnsServer = await startServer("dns", renderBindFiles({ listenAddress: "127.0.0.1", zones: [zone] }), { name: dnsName, network: "none" });
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await dnsServer?.remove();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }, 60_000);

  /** Runs a script in the mail image, sharing the DNS server's loopback, resolving through it. */
  async function inMail(files: readonly RenderedFile[], script: string): Promise<{ code: number; output: string }> {
    // OpenDKIM's resolver (libunbound) recurses from the root unless told
    // otherwise: for this test only, it asks the BIND server on loopback.
    const setup = 'echo "nameserver 127.0.0.1" > /etc/resolv.conf\necho "Nameservers 127.0.0.1" >> /etc/opendkim.conf';
    const dir = stage(files, `${setup}\nset +e\nexec 2>&1\n${script}`);
    dirs.push(dir);
    return docker(["run", "--rm", "--network", `container:${dnsName}`, "-v", `${dir}:/stage:ro`, "--entrypoint", "bash", image, "/stage/start.sh"], 120_000);
  }

  test("each domain's published key matches its private key (and another key does not)", async () => {
    const r = await inMail(
      FILES,
      [
        ...KEYS.map((k) => `opendkim-testkey -x /etc/opendkim.conf -d ${k.domain} -s mail -k ${dkimKeyPath(k.domain, "mail")} -vvv; echo "${k.domain}: $?"`),
        // The first domain's record against the second domain's key.
        `opendkim-testkey -x /etc/opendkim.conf -d ${KEYS[0].domain} -s mail -k ${dkimKeyPath(KEYS[1].domain, "mail")} -vvv; echo "mismatch: $?"`,
      ].join("\n"),
    );
    for (const k of KEYS) expect(r.output).toMatch(new RegExp(`^${k.domain.replace(/\./g, "\\.")}: 0$`, "m"));
    expect(r.output).toMatch(/key OK/);
    expect(r.output).toMatch(/^mismatch: [1-9]\d*$/m);
  }, 120_000);
});
