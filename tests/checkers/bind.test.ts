// Validates the rendered named.conf and zone files with BIND's own checkers
// (named-checkconf -z, named-checkzone) in the DNS image, then starts the
// image for real and queries it from the host.
import { execFile } from "child_process";
import { promises as dns } from "dns";
import { promisify } from "util";
import { BindLayout, renderBindFiles, ZoneSpec } from "../../components/render/bind";
import { RenderedFile } from "../../components/render/types";
import { buildImage, runWithFiles } from "./images";

const run = promisify(execFile);
jest.setTimeout(180_000);

const seed: ZoneSpec = {
  origin: "rockylinux.me",
  serial: 2024060101,
  primaryNameserver: "dns.rockylinux.me.",
  hostmaster: "hostmaster.rockylinux.me.",
  records: [
    { name: "@", type: "MX", value: "mail.rockylinux.me.", priority: 2 },
    { name: "dns", type: "A", value: "192.168.100.7" },
    { name: "mail", type: "A", value: "192.168.100.6" },
  ],
};

// A 2048-bit RSA DKIM key's TXT value is about 410 bytes: two strings. The
// quote and backslash check the escaping against BIND's own parser.
const dkim = `v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA${"Qx7/+".repeat(70)}IDAQAB; n="x\\y"`;
const rich: ZoneSpec = {
  ...seed,
  records: [
    ...seed.records,
    { name: "@", type: "TXT", value: "v=spf1 mx -all" },
    { name: "_dmarc", type: "TXT", value: "v=DMARC1; p=quarantine; rua=mailto:postmaster@rockylinux.me" },
    { name: "mail._domainkey", type: "TXT", value: dkim },
    { name: "_submission._tcp", type: "SRV", priority: 0, value: "1 587 mail.rockylinux.me." },
    { name: "_imaps._tcp", type: "SRV", priority: 0, value: "1 993 mail.rockylinux.me.", ttl: 3600 },
    { name: "_pop3s._tcp", type: "SRV", priority: 10, value: "1 995 mail.rockylinux.me.", ttl: 3600 },
    { name: "imap", type: "CNAME", value: "mail.rockylinux.me." },
    { name: "mail", type: "AAAA", value: "fd00::6" },
  ],
};

function checkScript(files: readonly RenderedFile[], origin: string): string {
  const [conf, zone] = files;
  return `named-checkconf -z '${conf.path}' && named-checkzone '${origin}' '${zone.path}'`;
}

/** Decodes the quoted strings of a TXT RDATA as BIND prints them. */
function unquote(rdata: string): string {
  const bytes: number[] = [];
  for (const m of rdata.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    const s = m[1];
    for (let i = 0; i < s.length; i++) {
      if (s[i] !== "\\") bytes.push(s.charCodeAt(i));
      else if (/\d/.test(s[i + 1])) {
        bytes.push(Number(s.slice(i + 1, i + 4)));
        i += 3;
      } else bytes.push(s.charCodeAt(++i));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

let image: string;
beforeAll(async () => {
  image = await buildImage("dns");
}, 15 * 60_000);

/** The files of a layout, owned by a group the (Debian) image has: the checkers read them as root anyway. */
function filesFor(layout: BindLayout, zone: ZoneSpec): RenderedFile[] {
  return renderBindFiles({ listenAddress: "192.168.100.7", zones: [zone], layout }).map((f) => ({ ...f, group: "bind" }));
}

describe.each<BindLayout>(["debian", "rhel"])("rendered for the %s layout", (layout) => {
  test("the seed's zone passes named-checkconf -z and named-checkzone", async () => {
    const files = filesFor(layout, seed);
    const r = await runWithFiles(image, files, checkScript(files, "rockylinux.me"));
    expect(r.output).toContain("zone rockylinux.me/IN: loaded serial 2024060101");
    expect(r.output).toMatch(/\nOK\n?$/);
    expect(r.code).toBe(0);
  });

  test("a zone with long TXT, SRV, CNAME and AAAA records passes both checkers", async () => {
    const files = filesFor(layout, rich);
    const r = await runWithFiles(image, files, checkScript(files, "rockylinux.me"));
    expect(r.output).toContain("loaded serial 2024060101");
    expect(r.output).not.toMatch(/warning|ignoring|error/i);
    expect(r.code).toBe(0);
  });
});

test("BIND reads back the TXT values exactly, and every record", async () => {
  const files = renderBindFiles({ listenAddress: "192.168.100.7", zones: [rich] });
  // named-compilezone prints the zone as BIND parsed it, one record a line.
  const r = await runWithFiles(image, files, `named-compilezone -q -s full -o - rockylinux.me '${files[1].path}'`);
  expect(r.code).toBe(0);
  const lines = r.output.split("\n").filter((l) => l.includes(" IN "));
  const txt = (owner: string) => {
    const line = lines.find((l) => l.startsWith(`${owner}\t`) || l.startsWith(`${owner} `));
    if (!line) throw new Error(`${owner} TXT not in\n${r.output}`);
    return unquote(line.slice(line.indexOf("TXT") + 3));
  };
  expect(txt("mail._domainkey.rockylinux.me.")).toBe(dkim);
  expect(txt("_dmarc.rockylinux.me.")).toBe(rich.records[4].value);
  // SOA + NS + every input record.
  expect(lines).toHaveLength(2 + rich.records.length);
  expect(lines.find((l) => l.startsWith("_imaps._tcp"))).toMatch(/3600\s+IN\s+SRV\s+0 1 993 mail\.rockylinux\.me\.$/);
});

describe("the checkers catch what would break named (so the checks above have teeth)", () => {
  const files = renderBindFiles({ listenAddress: "192.168.100.7", zones: [seed] });
  const zonePath = files[1].path;
  const edit = (f: (zone: string) => string): RenderedFile[] => [files[0], { ...files[1], content: f(files[1].content) }];

  test("an in-zone NS without an address", async () => {
    // (renderZone refuses this input; here the rendered file is damaged by hand.)
    const broken = edit((z) => z.replace(/^dns .*\n/m, ""));
    const r = await runWithFiles(image, broken, `named-checkzone rockylinux.me '${zonePath}'`);
    expect(r.output).toMatch(/NS 'dns\.rockylinux\.me' has no address records/);
    expect(r.code).not.toBe(0);
  });

  test("a wildcard NS", async () => {
    const broken = edit((z) => `${z}* IN NS dns.rockylinux.me.\n`);
    const r = await runWithFiles(image, broken, `named-checkconf -z '${files[0].path}'`);
    expect(r.output).toContain("invalid NS owner name (wildcard)");
    expect(r.code).not.toBe(0);
  });

  test("the entrypoint stops at once with named-checkconf's message", async () => {
    const broken = edit((z) => z.replace("IN A  192.168.100.6", "IN A  192.168.100.600"));
    const r = await runWithFiles(image, broken, "/usr/local/sbin/dns-entrypoint");
    expect(r.output).toMatch(/bad dotted quad|not a valid IPv4/);
    expect(r.output).toContain("dns: named-checkconf -z /etc/bind/named.conf failed");
    expect(r.code).not.toBe(0);
  });

  test("the entrypoint refuses a zone file the bind user cannot read", async () => {
    const r = await runWithFiles(image, [files[0], { ...files[1], group: "root", mode: "0600" }], "/usr/local/sbin/dns-entrypoint");
    expect(r.output).toContain(`dns: ${zonePath} is not readable by the bind user`);
    expect(r.code).not.toBe(0);
  });

  test("the entrypoint refuses to start without an uploaded named.conf", async () => {
    const r = await runWithFiles(image, [], "/usr/local/sbin/dns-entrypoint");
    expect(r.output).toContain("/etc/bind/named.conf is missing or empty");
    expect(r.code).not.toBe(0);
  });
});

// ------------------------------------------------------------------ live server

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** named's log: it logs to stderr, which `docker logs` replays on its own stderr. */
async function logsOf(container: string): Promise<string> {
  const { stdout, stderr } = await run("docker", ["logs", container], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout + stderr;
}

/** A ustar archive of `files` with numeric owners, for `docker cp -a -` (no directory entries: they exist). */
function tarball(files: readonly { path: string; content: string; uid: number; gid: number; mode: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const body = Buffer.from(f.content, "utf8");
    const h = Buffer.alloc(512);
    const put = (s: string, at: number, len: number) => h.write(s, at, len, "ascii");
    const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
    put(f.path.replace(/^\//, ""), 0, 100);
    put(octal(parseInt(f.mode, 8), 8), 100, 8);
    put(octal(f.uid, 8), 108, 8);
    put(octal(f.gid, 8), 116, 8);
    put(octal(body.length, 12), 124, 12);
    put(octal(0, 12), 136, 12);
    put("        ", 148, 8); // checksum is computed with this field as spaces
    put("0", 156, 1);
    put("ustar\u000000", 257, 8);
    const sum = h.reduce((a, b) => a + b, 0);
    put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function dockerCpArchive(container: string, archive: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile("docker", ["cp", "-a", "-", `${container}:/`], (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(archive);
  });
}

/** Creates a throwaway network on a random 10.214.N.0/24 that no other Docker network uses. */
async function createNetwork(name: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = 1 + Math.floor(Math.random() * 254);
    try {
      await docker("network", "create", "--driver", "bridge", "--subnet", `10.214.${n}.0/24`, name);
      return `10.214.${n}`;
    } catch (err) {
      // Overlaps with another network: try another N.
      if (!/overlap|in use/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
    }
  }
  throw new Error("no free 10.214.N.0/24 after 20 tries");
}

test("the image serves the zone: healthcheck, A, MX, NS, SOA from the host; no recursion", async () => {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const net = `mail-system-check-dns-${suffix}`;
  const name = `mail-system-check-dns-${suffix}`;
  let created = false;
  let started = 0;
  try {
    const prefix = await createNetwork(net);
    const ip = `${prefix}.7`;
    const zone: ZoneSpec = { ...seed, records: [...seed.records.slice(0, 1), { name: "dns", type: "A", value: ip }, seed.records[2]] };
    const files = renderBindFiles({ listenAddress: ip, zones: [zone] });

    // No DNS_ZONES: the healthcheck finds the zones in named.conf itself.
    await docker("create", "--name", name, "--network", net, "--ip", ip, image);
    created = true;
    // The archive carries numeric owners: look the names up in the image.
    const ids = async (db: "passwd" | "group", key: string) =>
      Number((await docker("run", "--rm", "--entrypoint", "getent", image, db, key)).split(":")[2]);
    const owned = await Promise.all(files.map(async (f) => ({ ...f, uid: await ids("passwd", f.owner), gid: await ids("group", f.group) })));
    await dockerCpArchive(name, tarball(owned));
    await docker("start", name);
    started = Date.now();

    // Healthy within ~60 s, or fail with named's log.
    let healthy = false;
    while (!healthy && Date.now() - started < 60_000) {
      const state = await docker("inspect", "--format", "{{.State.Running}}", name);
      if (state !== "true") break;
      healthy = await docker("exec", name, "/usr/local/sbin/dns-healthcheck").then(
        () => true,
        () => false,
      );
      if (!healthy) await new Promise((r) => setTimeout(r, 1000));
    }
    if (!healthy) throw new Error(`named did not become healthy:\n${await logsOf(name).catch((e) => String(e))}`);
    const healthyAfter = Date.now() - started;

    // The healthcheck fails for a zone the server does not serve.
    await expect(docker("exec", "-e", "DNS_ZONES=example.com", name, "/usr/local/sbin/dns-healthcheck")).rejects.toThrow();

    const resolver = new dns.Resolver({ timeout: 3000, tries: 2 });
    resolver.setServers([ip]);
    expect(await resolver.resolve4("mail.rockylinux.me")).toEqual(["192.168.100.6"]);
    expect(await resolver.resolve4("dns.rockylinux.me")).toEqual([ip]);
    expect(await resolver.resolveMx("rockylinux.me")).toEqual([{ exchange: "mail.rockylinux.me", priority: 2 }]);
    expect(await resolver.resolveNs("rockylinux.me")).toEqual(["dns.rockylinux.me"]);
    expect(await resolver.resolveSoa("rockylinux.me")).toEqual({
      nsname: "dns.rockylinux.me",
      hostmaster: "hostmaster.rockylinux.me",
      serial: 2024060101,
      refresh: 86400,
      retry: 3600,
      expire: 604800,
      minttl: 10800,
    });
    // Not an open resolver: outside names are refused, not looked up.
    await expect(resolver.resolve4("example.com")).rejects.toMatchObject({ code: "EREFUSED" });
    // Its version is hidden.
    const version = await docker("exec", name, "dig", "+short", "@127.0.0.1", "version.bind", "TXT", "CH");
    expect(version).toBe('"none"');

    const logs = await logsOf(name);
    expect(logs).toContain("zone rockylinux.me/IN: loaded serial 2024060101");
    expect(logs).not.toMatch(/root servers|priming/i);
    console.log(`dns container healthy ${healthyAfter} ms after docker start`);
  } finally {
    if (created) await docker("rm", "-f", "-v", name).catch(() => undefined);
    await docker("network", "rm", net).catch(() => undefined);
  }
});
