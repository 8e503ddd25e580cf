// Validates the rendered named.conf and zone files with BIND's own checkers
// (named-checkconf -z, named-checkzone) in the DNS image, then starts a DNS
// server for real as the program does (supervisor, files, the named unit with
// its check) and queries it from the host.
import { execFile } from "child_process";
import { generateKeyPairSync } from "crypto";
import { promises as dns } from "dns";
import { promisify } from "util";
import { BindLayout, renderBindFiles, ZoneSpec } from "../../components/render/bind";
import { zoneSigningKey } from "../../components/render/dnssec";
import { RenderedFile } from "../../components/render/types";
import { healthcheckPath, SUPERVISOR_PATH } from "../../components/targets/hostScripts";
import { buildImage, CheckResult, runWithFiles, ServerContainer } from "./images";

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
    { name: "_25._tcp.mail", type: "TLSA", value: "3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6", ttl: 300 },
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

  test("a signed zone's named.conf (its policy, key directory and key files) passes named-checkconf -z", async () => {
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const files = renderBindFiles({ listenAddress: "192.168.100.7", zones: [{ ...seed, signingKey: pem }], layout }).map((f) => ({ ...f, group: "bind" }));
    const r = await runWithFiles(image, files, checkScript(files, "rockylinux.me"));
    expect(r.output).toContain("zone rockylinux.me/IN: loaded serial 2024060101");
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
  // (BIND prints long hex in chunks.)
  expect(lines.find((l) => l.startsWith("_25._tcp.mail"))?.replace(/([0-9A-F]) (?=[0-9A-F]+$)/, "$1")).toMatch(/300\s+IN\s+TLSA\s+3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6$/);
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

  /**
   * The program's steps on a fresh DNS container up to its daemon: packages,
   * `files`, then the named unit's step (namedCheck, enable, restart). Its
   * result, and whether named runs afterwards.
   */
  async function serviceStep(files: readonly RenderedFile[]): Promise<CheckResult & { named: boolean }> {
    const server = await ServerContainer.create(image, "dns");
    try {
      for (const step of [() => server.packages(), () => server.writeFiles(files)]) {
        const r = await step();
        if (r.code !== 0) throw new Error(`a step before the service failed: ${r.output}`);
      }
      const r = await server.startServices();
      const named = (await server.exec(`${SUPERVISOR_PATH} ctl running named`)).code === 0;
      return { ...r, named };
    } finally {
      await server.remove();
    }
  }

  test("the service step stops at once with named-checkconf's message", async () => {
    const broken = edit((z) => z.replace("IN A  192.168.100.6", "IN A  192.168.100.600"));
    const r = await serviceStep(broken);
    expect(r.output).toMatch(/bad dotted quad|not a valid IPv4/);
    // (The check runs before named is enabled or started.)
    expect(r.named).toBe(false);
    expect(r.code).not.toBe(0);
  });

  test("the service step refuses a zone file the bind user cannot read", async () => {
    const r = await serviceStep([files[0], { ...files[1], group: "root", mode: "0600" }]);
    expect(r.output).toContain(`named: ${zonePath} is not readable by the bind user`);
    expect(r.named).toBe(false);
    expect(r.code).not.toBe(0);
  });

  test("the service step refuses to start without an uploaded named.conf", async () => {
    const r = await serviceStep([]);
    expect(r.output).toContain("/etc/bind/named.conf is missing or empty");
    expect(r.named).toBe(false);
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
  let server: ServerContainer | undefined;
  try {
    const prefix = await createNetwork(net);
    const ip = `${prefix}.7`;
    const zone: ZoneSpec = { ...seed, records: [...seed.records.slice(0, 1), { name: "dns", type: "A", value: ip }, seed.records[2]] };
    const files = renderBindFiles({ listenAddress: ip, zones: [zone] });

    // As the program makes it: the supervisor, then packages, files (with
    // their owners), the named unit and the health step, which waits (at
    // most 60 s) for the health check; on failure the error has named's log.
    // No DNS_ZONES: the healthcheck finds the zones in named.conf itself.
    server = await ServerContainer.create(image, "dns", { name, network: net, ip });
    const healthyAfter = Math.round((await server.setUp(files, 60)) * 1000);

    // The healthcheck passes, and fails for a zone the server does not serve.
    await docker("exec", name, healthcheckPath("dns"));
    await expect(docker("exec", "-e", "DNS_ZONES=example.com", name, healthcheckPath("dns"))).rejects.toThrow();

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
    console.log(`dns container healthy ${healthyAfter} ms after its supervisor started`);
  } finally {
    await server?.remove();
    await docker("network", "rm", net).catch(() => undefined);
  }
});

describe("response-rate limiting and minimal ANY, live (a container without a network: clients on 127.0.0.1)", () => {
  /**
   * 20 identical UDP queries at once, without a DNS cookie (as a forged
   * source sends them: a client with a valid cookie is not limited, and one
   * with a client cookie only gets BADCOOKIE instead of TC), and how many were
   * answered, answered truncated (RRL's slip), or dropped.
   */
  const burst = `for i in $(seq 1 20); do
  dig +norec +nocookie +ignore +tries=1 +time=2 @127.0.0.1 mail.rockylinux.me A >"/tmp/q$i" 2>&1 &
done
wait
ok=0; tc=0; lost=0
for i in $(seq 1 20); do
  if grep -Eq 'flags:[^;]* tc[ ;]' "/tmp/q$i"; then tc=$((tc+1))
  elif grep -q 'status: NOERROR' "/tmp/q$i"; then ok=$((ok+1))
  else lost=$((lost+1)); fi
done
echo "ok=$ok tc=$tc lost=$lost"`;
  const counts = (output: string) => {
    const m = /ok=(\d+) tc=(\d+) lost=(\d+)/.exec(output);
    if (!m) throw new Error(`no counts in\n${output}`);
    return { ok: Number(m[1]), tc: Number(m[2]), lost: Number(m[3]) };
  };

  async function withServer<T>(files: readonly RenderedFile[], body: (s: ServerContainer) => Promise<T>): Promise<T> {
    const server = await ServerContainer.create(image, "dns");
    try {
      await server.setUp(files, 60);
      return await body(server);
    } finally {
      await server.remove();
    }
  }

  test("a non-exempt client over the rate gets truncated answers and silence; the default exempts the server's own networks", async () => {
    const limited = renderBindFiles({ listenAddress: "127.0.0.1", zones: [seed], responsesPerSecond: 2, rateLimitExempt: [] });
    const r = await withServer(limited, (s) => s.exec(burst));
    const c = counts(r.output);
    expect(c.ok).toBeGreaterThanOrEqual(2);
    expect(c.ok).toBeLessThan(20);
    expect(c.tc).toBeGreaterThan(0);
    expect(c.lost).toBeGreaterThan(0);

    const byDefault = renderBindFiles({ listenAddress: "127.0.0.1", zones: [seed] });
    await withServer(byDefault, async (s) => {
      expect(counts((await s.exec(burst)).output)).toEqual({ ok: 20, tc: 0, lost: 0 });
      // minimal-any: ANY at the apex (SOA, NS, MX here) over UDP answers one
      // RRset (dig asks ANY over TCP unless told +notcp; TCP gets them all);
      // minimal-responses no-auth: no NS in the authority section of a positive answer.
      const any = await s.exec("dig +norec +notcp +noall +answer @127.0.0.1 rockylinux.me ANY");
      const anyTcp = await s.exec("dig +norec +tcp +noall +answer @127.0.0.1 rockylinux.me ANY");
      expect(anyTcp.output.split("\n").filter((l) => l.trim())).toHaveLength(3);
      const types = any.output.split("\n").filter((l) => l.trim()).map((l) => l.split(/\s+/)[3]);
      expect(types.length).toBeGreaterThan(0);
      expect(new Set(types).size).toBe(1);
      const a = await s.exec("dig +norec @127.0.0.1 mail.rockylinux.me A");
      expect(a.output).toMatch(/AUTHORITY: 0,/);
      expect(a.output).toMatch(/mail\.rockylinux\.me\.\s+\d+\s+IN\s+A\s+192\.168\.100\.6/);
    });
  });
});

describe("a signed zone (DNSSEC), live (a container without a network: clients on 127.0.0.1)", () => {
  const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const key = zoneSigningKey("rockylinux.me", pem);

  /** Waits (at most 30 s) until named answers `name` `type` with an RRSIG; the answer (dig +dnssec). */
  const signedAnswer = (s: ServerContainer, name: string, type: string) =>
    s.exec(`for i in $(seq 1 30); do
  out=$(dig +norec +dnssec +noall +answer @127.0.0.1 ${name} ${type})
  if echo "$out" | grep -q "RRSIG.*${type} 13 "; then echo "$out"; exit 0; fi
  sleep 1
done
echo "$out"; exit 1`);

  /** delv's answer for `name`, validated from the zone's apex with `ds` as its only trust anchor, as a resolver that trusts the parent's DS would. */
  const delv = (s: ServerContainer, name: string, ds: string) => {
    const [tag, alg, digestType, digest] = ds.split(" ");
    return s.exec(`printf '%s\\n' 'trust-anchors { rockylinux.me. static-ds ${tag} ${alg} ${digestType} "${digest}"; };' > /tmp/anchor.conf
delv @127.0.0.1 -a /tmp/anchor.conf +root=rockylinux.me ${name} A`);
  };

  test("named signs with the program's key; delv validates against its DS and not another; a change is signed with a higher serial", async () => {
    const server = await ServerContainer.create(image, "dns");
    try {
      await server.setUp(renderBindFiles({ listenAddress: "127.0.0.1", zones: [{ ...seed, signingKey: pem }] }), 60);
      const soa = await signedAnswer(server, "rockylinux.me", "SOA");
      expect(soa.code).toBe(0);
      // The DNSKEY served is the program's (dig splits the key in chunks).
      const dnskey = await server.exec("dig +short @127.0.0.1 rockylinux.me DNSKEY");
      const joined = dnskey.output.trim().split("\n").map((l) => l.split(/\s+/)).map((f) => [...f.slice(0, 3), f.slice(3).join("")].join(" "));
      expect(joined).toEqual([key.dnskey]);
      const good = await delv(server, "mail.rockylinux.me", key.ds);
      expect(good.output).toContain("; fully validated");
      expect(good.output).toMatch(/mail\.rockylinux\.me\.\s+\d+\s+IN\s+A\s+192\.168\.100\.6/);
      // Another DS (one digit changed) fails: the check has teeth.
      const wrongDigest = key.ds.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
      const bad = await delv(server, "mail.rockylinux.me", wrongDigest);
      expect(bad.output).not.toContain("fully validated");
      expect(bad.output).toMatch(/resolution failed|no valid|insecurity proof failed|broken trust chain/);

      // The program writes a new unsigned zone (serial + 1, one more record); named signs it.
      const servedBefore = Number(/\bSOA\s+\S+\s+\S+\s+(\d+)/.exec(soa.output)?.[1]);
      expect(servedBefore).toBeGreaterThanOrEqual(seed.serial);
      const changed: ZoneSpec = { ...seed, serial: seed.serial + 1, records: [...seed.records, { name: "www", type: "A", value: "192.168.100.8" }] };
      const files = renderBindFiles({ listenAddress: "127.0.0.1", zones: [{ ...changed, signingKey: pem }] });
      for (const r of [await server.writeFiles(files), await server.startServices()]) expect(r).toMatchObject({ code: 0 });
      expect((await signedAnswer(server, "www.rockylinux.me", "A")).code).toBe(0);
      expect((await delv(server, "www.rockylinux.me", key.ds)).output).toContain("; fully validated");
      const soaAfter = await signedAnswer(server, "rockylinux.me", "SOA");
      expect(Number(/\bSOA\s+\S+\s+\S+\s+(\d+)/.exec(soaAfter.output)?.[1])).toBeGreaterThan(servedBefore);
    } finally {
      await server.remove();
    }
  });
});

describe("ACME challenge zones (RFC 2136 with TSIG), live (a container without a network: clients on 127.0.0.1)", () => {
  const secret = Buffer.from("mail-system acme test key, 32 b").toString("base64");
  const acmeUpdates = { keyName: "mail-system-acme", secret, names: ["mail.rockylinux.me", "autoconfig.rockylinux.me"] };
  const render = (z: ZoneSpec) => renderBindFiles({ listenAddress: "127.0.0.1", zones: [z], acmeUpdates });
  const delegated = (z: ZoneSpec): ZoneSpec => ({
    ...z,
    records: [...z.records, ...acmeUpdates.names.map((n) => ({ name: `_acme-challenge.${n.split(".")[0]}`, type: "NS" as const, value: "dns.rockylinux.me." }))],
  });
  /** nsupdate with the given key ("" for none): its output and exit code. */
  const update = (s: ServerContainer, key: string, commands: string) =>
    s.exec(`printf '%s\\n' 'server 127.0.0.1' ${commands
      .split("\n")
      .map((c) => `'${c}'`)
      .join(" ")} 'send' | nsupdate ${key ? `-y 'hmac-sha256:${key}'` : ""} 2>&1`);
  const txt = (s: ServerContainer, name: string) => s.exec(`dig +norec +short @127.0.0.1 ${name} TXT`);

  test("the key adds and removes TXT at _acme-challenge names only; updates survive a re-render of the zone", async () => {
    const server = await ServerContainer.create(image, "dns");
    const key = `mail-system-acme:${secret}`;
    try {
      await server.setUp(render(delegated(seed)), 60);
      // The key file is root's and named's group's only: it holds the secret.
      expect((await server.exec("stat -c '%U:%G %a' /etc/bind/mail-system-acme.key")).output.trim()).toBe("root:bind 640");
      const added = await update(server, key, "update add _acme-challenge.mail.rockylinux.me. 60 TXT \"token-1\"");
      expect(added.code).toBe(0);
      expect((await txt(server, "_acme-challenge.mail.rockylinux.me")).output.trim()).toBe('"token-1"');
      // No key, a wrong key, another type or a name outside the challenge zones: refused.
      const noKey = await update(server, "", "update add _acme-challenge.mail.rockylinux.me. 60 TXT \"x\"");
      expect(noKey.output).toMatch(/REFUSED/);
      const wrong = Buffer.from("another key, not the program's!!").toString("base64");
      expect((await update(server, `mail-system-acme:${wrong}`, "update add _acme-challenge.mail.rockylinux.me. 60 TXT \"x\"")).output).toMatch(/BADSIG|tsig verify failure|REFUSED/i);
      expect((await update(server, key, "update add _acme-challenge.mail.rockylinux.me. 60 HINFO \"pc\" \"linux\"")).output).toMatch(/REFUSED/);
      expect((await update(server, key, "update add www.rockylinux.me. 60 A 10.0.0.1")).output).toMatch(/REFUSED|NOTAUTH/);
      expect((await server.exec("dig +norec +short @127.0.0.1 www.rockylinux.me A")).output.trim()).toBe("");

      // The program writes the parent zone again (a new serial and record) and
      // reloads: the challenge zone keeps what named was told.
      const changed: ZoneSpec = { ...seed, serial: seed.serial + 1, records: [...seed.records, { name: "www", type: "A", value: "192.168.100.8" }] };
      for (const r of [await server.writeFiles(render(delegated(changed))), await server.startServices()]) expect(r).toMatchObject({ code: 0 });
      expect((await server.exec("dig +norec +short @127.0.0.1 www.rockylinux.me A")).output.trim()).toBe("192.168.100.8");
      expect((await txt(server, "_acme-challenge.mail.rockylinux.me")).output.trim()).toBe('"token-1"');
      // A restart replays the journal.
      expect((await server.exec(`${SUPERVISOR_PATH} ctl restart named && sleep 1 && dig +norec +short @127.0.0.1 _acme-challenge.mail.rockylinux.me TXT`)).output).toContain('"token-1"');
      const removed = await update(server, key, "update delete _acme-challenge.mail.rockylinux.me. TXT \"token-1\"");
      expect(removed.code).toBe(0);
      expect((await txt(server, "_acme-challenge.mail.rockylinux.me")).output.trim()).toBe("");
      // The second name has a zone of its own.
      expect((await update(server, key, "update add _acme-challenge.autoconfig.rockylinux.me. 60 TXT \"token-2\"")).code).toBe(0);
      expect((await txt(server, "_acme-challenge.autoconfig.rockylinux.me")).output.trim()).toBe('"token-2"');
    } finally {
      await server.remove();
    }
  });
});
