import { generateKeyPairSync } from "crypto";
import { bindPaths, DEFAULT_RESPONSES_PER_SECOND, renderBindFiles, renderZone, zoneContentHash, ZoneSpec } from "../../components/render/bind";
import { zoneSigningKey } from "../../components/render/dnssec";
import { DnsRecord } from "../../components/render/types";

// The seed's zone: NS dns, MX 2 mail, A dns 192.168.100.7, A mail 192.168.100.6.
const seed: ZoneSpec = {
  origin: "rockylinux.me",
  serial: 1,
  primaryNameserver: "dns.rockylinux.me.",
  hostmaster: "hostmaster.rockylinux.me.",
  records: [
    { name: "@", type: "MX", value: "mail.rockylinux.me.", priority: 2 },
    { name: "dns", type: "A", value: "192.168.100.7" },
    { name: "mail", type: "A", value: "192.168.100.6" },
  ],
};

const withRecords = (...records: DnsRecord[]): ZoneSpec => ({ ...seed, records: [...seed.records, ...records] });

/** The body of the zone file after the SOA. */
function recordLines(text: string): string[] {
  const lines = text.trimEnd().split("\n");
  return lines.slice(lines.findIndex((l) => l.includes("; minimum")) + 1);
}

/** Decodes the quoted strings of a zone-file TXT RDATA back to their bytes. */
function unquote(rdata: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of rdata.matchAll(/"((?:[^"\\]|\\.)*)"/gs)) {
    const bytes: number[] = [];
    const s = m[1];
    for (let i = 0; i < s.length; i++) {
      if (s[i] !== "\\") bytes.push(s.charCodeAt(i));
      else if (/\d/.test(s[i + 1])) {
        bytes.push(Number(s.slice(i + 1, i + 4)));
        i += 3;
      } else bytes.push(s.charCodeAt(++i));
    }
    out.push(Buffer.from(bytes));
  }
  return out;
}

/** The TXT RDATA of one owner in a rendered zone (possibly spread over lines in parentheses). */
function txtOf(text: string, owner: string): string {
  const m = new RegExp(`^${owner.replace(/\./g, "\\.")} +IN TXT +(\\(.*?\\)|"[^\\n]*")$`, "ms").exec(text);
  if (!m) throw new Error(`no TXT for ${owner} in\n${text}`);
  return m[1];
}

describe("renderZone", () => {
  test("renders the seed's zone: SOA, NS, MX, then the A records", () => {
    const text = renderZone(seed);
    expect(text).toContain("$ORIGIN rockylinux.me.\n$TTL 1D\n");
    expect(text).toContain(
      "@ IN SOA dns.rockylinux.me. hostmaster.rockylinux.me. (\n\t1 ; serial\n\t1D ; refresh\n\t1H ; retry\n\t1W ; expire\n\t3H ) ; minimum\n",
    );
    expect(recordLines(text)).toEqual([
      "@    IN NS dns.rockylinux.me.",
      "@    IN MX 2 mail.rockylinux.me.",
      "dns  IN A  192.168.100.7",
      "mail IN A  192.168.100.6",
    ]);
    expect(text.endsWith("192.168.100.6\n")).toBe(true);
  });

  test("adds the primary's NS only when absent, and keeps other NS records", () => {
    const given = renderZone(withRecords({ name: "@", type: "NS", value: "dns.rockylinux.me." }));
    expect(given).toBe(renderZone(seed));
    const other = recordLines(renderZone(withRecords({ name: "@", type: "NS", value: "ns2.example.net." })));
    expect(other.slice(0, 2)).toEqual(["@    IN NS dns.rockylinux.me.", "@    IN NS ns2.example.net."]);
  });

  test("timers and TTLs: defaults, overrides, per-record TTL column", () => {
    const text = renderZone({
      ...seed,
      ttl: 300,
      refresh: 7200,
      retry: 900,
      expire: 1209600,
      minimum: 90,
      records: [...seed.records, { name: "www", type: "CNAME", value: "mail.rockylinux.me.", ttl: 60 }],
    });
    expect(text).toContain("$TTL 5M\n");
    expect(text).toContain("\t2H ; refresh\n\t15M ; retry\n\t2W ; expire\n\t90 ) ; minimum\n");
    expect(recordLines(text)).toContain("www  1M IN CNAME mail.rockylinux.me.");
    expect(recordLines(text)).toContain("dns     IN A     192.168.100.7");
  });

  test("orders records SOA, NS, MX, then by name (DNS order) and type, whatever the input order", () => {
    const records: DnsRecord[] = [
      { name: "mail", type: "TXT", value: "m" },
      { name: "_submission._tcp", type: "SRV", priority: 0, value: "1 587 mail.rockylinux.me." },
      { name: "@", type: "TXT", value: "v=spf1 mx -all" },
      { name: "mail", type: "A", value: "192.168.100.6" },
      { name: "@", type: "MX", value: "dns.rockylinux.me.", priority: 10 },
      { name: "sel._domainkey", type: "TXT", value: "k" },
      { name: "dns", type: "A", value: "192.168.100.7" },
      { name: "_dmarc", type: "TXT", value: "v=DMARC1; p=none" },
      { name: "@", type: "MX", value: "mail.rockylinux.me.", priority: 2 },
    ];
    const lines = recordLines(renderZone({ ...seed, records }));
    expect(lines.map((l) => l.split(/ +/).slice(0, 3).join(" "))).toEqual([
      "@ IN NS",
      "@ IN MX",
      "@ IN MX",
      "@ IN TXT",
      "_dmarc IN TXT",
      "sel._domainkey IN TXT",
      "_submission._tcp IN SRV",
      "dns IN A",
      "mail IN A",
      "mail IN TXT",
    ]);
    expect(lines[1]).toContain("MX  2 mail.");
    expect(lines[2]).toContain("MX  10 dns.");
    expect(renderZone({ ...seed, records: [...records].reverse() })).toBe(renderZone({ ...seed, records }));
  });

  test("is deterministic and canonical: same input, byte-identical text; names lowercased", () => {
    const a = renderZone(seed);
    expect(renderZone(JSON.parse(JSON.stringify(seed)) as ZoneSpec)).toBe(a);
    const upper = renderZone({
      ...seed,
      origin: "RockyLinux.ME",
      primaryNameserver: "DNS.rockylinux.me.",
      records: [
        { name: "@", type: "MX", value: "Mail.RockyLinux.me.", priority: 2 },
        { name: "DNS", type: "A", value: "192.168.100.7" },
        { name: "mail", type: "A", value: "192.168.100.6" },
      ],
    });
    expect(upper).toBe(a);
  });

  test("renders SRV as priority weight port target, and wildcards", () => {
    const lines = recordLines(
      renderZone(
        withRecords(
          { name: "_imaps._tcp", type: "SRV", priority: 0, value: "1   993  mail.rockylinux.me." },
          { name: "*.dyn", type: "A", value: "10.0.0.9" },
        ),
      ),
    );
    expect(lines).toContain("_imaps._tcp IN SRV 0 1 993 mail.rockylinux.me.");
    expect(lines).toContain("*.dyn       IN A   10.0.0.9");
  });
});

describe("TXT values", () => {
  const dkim =
    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x".repeat(330) + "IDAQAB";

  test.each([
    ["a 2048-bit DKIM key", dkim],
    ["quotes and backslashes", 'say "hi" \\ back\\slash "' + "q".repeat(300) + '\\"'],
    ["exactly 255 bytes", "a".repeat(255)],
    ["256 bytes", "b".repeat(256)],
    ["765 bytes", "c".repeat(765)],
    ["UTF-8 straddling a 255-byte boundary", "d".repeat(254) + "é€😀" + "e".repeat(10)],
    ["control characters and semicolons", "tab\there; new\nline ( )"],
    ["an empty value", ""],
  ])("%s round-trips through strings of at most 255 bytes", (_, value) => {
    const text = renderZone(withRecords({ name: "t", type: "TXT", value }));
    const chunks = unquote(txtOf(text, "t"));
    expect(chunks.length).toBe(Math.max(1, Math.ceil(Buffer.byteLength(value) / 255)));
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(255);
    expect(Buffer.concat(chunks).toString("utf8")).toBe(value);
    // Everything outside printable ASCII is escaped, so the file is plain ASCII.
    expect(/^[\x20-\x7e\t\n]*$/.test(text)).toBe(true);
  });

  test("splits long values over lines inside parentheses", () => {
    const rdata = txtOf(renderZone(withRecords({ name: "sel._domainkey", type: "TXT", value: dkim })), "sel._domainkey");
    expect(rdata.startsWith('( "v=DKIM1; k=rsa; p=')).toBe(true);
    expect(rdata.split("\n")).toHaveLength(2);
    expect(rdata.endsWith('IDAQAB" )')).toBe(true);
  });

  test("escapes quotes and backslashes in a short value", () => {
    expect(txtOf(renderZone(withRecords({ name: "t", type: "TXT", value: 'a"b\\c' })), "t")).toBe('"a\\"b\\\\c"');
  });
});

describe("validation", () => {
  const A = (name: string, value: string): DnsRecord => ({ name, type: "A", value });
  test.each<[string, DnsRecord[], RegExp]>([
    ["bad label", [A("bad_name!", "10.0.0.1")], /record #3 \(bad_name! A "10\.0\.0\.1"\): .*invalid label "bad_name!"/],
    ["label starting with a hyphen", [A("-mail", "10.0.0.1")], /record #3 \(-mail A .*invalid label "-mail"/],
    ["label over 63 characters", [A("x".repeat(64), "10.0.0.1")], /record #3 .*invalid label/],
    ["empty name", [A("", "10.0.0.1")], /record #3 .*empty/],
    ["absolute owner name", [A("www.rockylinux.me.", "10.0.0.1")], /record #3 .*must be relative to the zone/],
    ["owner name including the origin", [A("www.rockylinux.me", "10.0.0.1")], /record #3 .*includes the zone origin/],
    ["A value not an IPv4 address", [A("www", "192.168.100.256")], /record #3 \(www A .*A value must be an IPv4 address/],
    ["A value a host name", [A("www", "mail.rockylinux.me.")], /record #3 .*A value must be an IPv4 address/],
    ["A value with a leading zero", [A("www", "10.0.0.01")], /A value must be an IPv4 address/],
    ["AAAA value not IPv6", [{ name: "www", type: "AAAA", value: "10.0.0.1" }], /record #3 .*AAAA value must be an IPv6 address/],
    ["MX without priority", [{ name: "@", type: "MX", value: "dns.rockylinux.me." }], /record #3 \(@ MX "dns\.rockylinux\.me\."\): MX needs a priority/],
    ["MX priority out of range", [{ name: "@", type: "MX", value: "dns.rockylinux.me.", priority: 70000 }], /record #3 .*priority must be an integer from 0 to 65535/],
    ["priority on an A record", [{ name: "www", type: "A", value: "10.0.0.1", priority: 1 }], /record #3 .*only MX and SRV take a priority/],
    ["relative MX target", [{ name: "@", type: "MX", value: "mail.rockylinux.me", priority: 5 }], /record #3 .*target: "mail\.rockylinux\.me" must be an absolute host name with the final dot/],
    ["relative NS target", [{ name: "@", type: "NS", value: "ns2" }], /record #3 \(@ NS "ns2"\): target: .*absolute host name/],
    ["relative CNAME target", [{ name: "www", type: "CNAME", value: "mail" }], /record #3 .*absolute host name/],
    ["CNAME at the apex", [{ name: "@", type: "CNAME", value: "mail.rockylinux.me." }], /record #3 .*CNAME is not allowed at the zone apex/],
    ["CNAME next to other data", [{ name: "www", type: "CNAME", value: "mail.rockylinux.me." }, A("www", "10.0.0.1")], /record #3 .*CNAME cannot coexist .*record #4/],
    ["MX pointing at a CNAME", [{ name: "mx", type: "CNAME", value: "mail.rockylinux.me." }, { name: "@", type: "MX", value: "mx.rockylinux.me.", priority: 5 }], /record #4 .*target mx\.rockylinux\.me\. is a CNAME/],
    ["in-zone MX target without address", [{ name: "@", type: "MX", value: "mx2.rockylinux.me.", priority: 5 }], /record #3 .*mx2\.rockylinux\.me\. is inside the zone but has no A or AAAA record/],
    ["duplicate record", [A("mail", "192.168.100.6")], /record #3 \(mail A "192\.168\.100\.6"\) duplicates record #2/],
    ["duplicate differing only in case", [{ name: "@", type: "MX", value: "MAIL.rockylinux.me.", priority: 2 }], /record #3 .*duplicates record #0/],
    ["TTLs differing within an RRset", [{ name: "mail", type: "A", value: "192.168.100.9", ttl: 60 }], /record #3 .*TTL differs from record #2/],
    ["bad TTL", [{ name: "www", type: "A", value: "10.0.0.1", ttl: -1 }], /record #3 .*ttl must be an integer/],
    ["SRV without _service._proto", [{ name: "imap", type: "SRV", priority: 0, value: "1 993 mail.rockylinux.me." }], /record #3 .*SRV name must be _service\._proto/],
    ["SRV value with priority inside", [{ name: "_imap._tcp", type: "SRV", priority: 0, value: "0 1 143 mail.rockylinux.me." }], /record #3 .*SRV value must be "weight port target\."/],
    ["SRV port out of range", [{ name: "_imap._tcp", type: "SRV", priority: 0, value: "1 70000 mail.rockylinux.me." }], /record #3 .*SRV port must be an integer/],
    ["SRV without priority", [{ name: "_imap._tcp", type: "SRV", value: "1 143 mail.rockylinux.me." }], /record #3 .*SRV needs a priority/],
    ["wildcard NS", [{ name: "*", type: "NS", value: "dns.rockylinux.me." }], /record #3 .*NS records cannot be at a wildcard name/],
    ["data below a delegation", [{ name: "sub", type: "NS", value: "ns.sub.rockylinux.me." }, A("ns.sub", "10.0.0.1"), A("www.sub", "10.0.0.2")], /record #5 .*below the delegation sub\.rockylinux\.me\./],
    ["unsupported type", [{ name: "www", type: "PTR" as DnsRecord["type"], value: "x." }], /record #3 .*unsupported type "PTR"/],
    ["TLSA that is not usage selector type hex", [{ name: "_25._tcp.mail", type: "TLSA", value: "3 1 1" }], /record #3 .*TLSA value must be "usage selector matching-type hex"/],
    ["TLSA usage out of range", [{ name: "_25._tcp.mail", type: "TLSA", value: `4 1 1 ${"ab".repeat(32)}` }], /record #3 .*TLSA value must be/],
    ["TLSA SHA-256 of the wrong length", [{ name: "_25._tcp.mail", type: "TLSA", value: `3 1 1 ${"ab".repeat(31)}` }], /record #3 .*TLSA data has 62 hex digits; matching type 1 needs 64/],
    ["TXT over 65535 bytes of RDATA", [{ name: "t", type: "TXT", value: "x".repeat(65300) }], /record #3 .*TXT value is too long/],
  ])("%s", (_, records, message) => {
    expect(() => renderZone(withRecords(...records))).toThrow(message);
  });

  test.each<[string, Partial<ZoneSpec>, RegExp]>([
    ["origin with the final dot", { origin: "rockylinux.me." }, /zone origin "rockylinux\.me\." must be given without the final dot/],
    ["origin with a bad label", { origin: "rocky_linux.me" }, /zone origin: .*invalid label/],
    ["relative primary nameserver", { primaryNameserver: "dns.rockylinux.me" }, /primaryNameserver: "dns\.rockylinux\.me" must be an absolute host name/],
    ["relative hostmaster", { hostmaster: "hostmaster" }, /hostmaster: "hostmaster" must be an absolute host name/],
    ["in-zone primary without address", { primaryNameserver: "ns1.rockylinux.me." }, /the primary's NS ns1\.rockylinux\.me\.: target .* has no A or AAAA record/],
    ["serial 0", { serial: 0 }, /serial must be an integer from 1 to 4294967295/],
    ["serial above 32 bits", { serial: 4294967296 }, /serial must be an integer from 1 to 4294967295/],
    ["fractional serial", { serial: 1.5 }, /serial must be an integer/],
    ["zero refresh", { refresh: 0 }, /refresh must be an integer from 1/],
  ])("%s", (_, change, message) => {
    expect(() => renderZone({ ...seed, ...change })).toThrow(message);
  });

  test("accepts the extremes of the serial", () => {
    expect(renderZone({ ...seed, serial: 4294967295 })).toContain("\t4294967295 ; serial\n");
  });
});

describe("zoneContentHash", () => {
  const { serial: _serial, ...content } = seed;

  test("ignores the serial and the records' order", () => {
    const h = zoneContentHash(content);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(zoneContentHash({ ...seed, serial: 99 } as ZoneSpec)).toBe(h);
    expect(zoneContentHash({ ...content, records: [...content.records].reverse() })).toBe(h);
    expect(zoneContentHash(JSON.parse(JSON.stringify(content)))).toBe(h);
  });

  test.each<[string, Omit<ZoneSpec, "serial">]>([
    ["one address", { ...content, records: [content.records[0], content.records[1], { name: "mail", type: "A", value: "192.168.100.8" }] }],
    ["the MX priority", { ...content, records: [{ ...content.records[0], priority: 3 }, content.records[1], content.records[2]] }],
    ["a record added", { ...content, records: [...content.records, { name: "@", type: "TXT", value: "v=spf1 mx -all" }] }],
    ["a record's TTL", { ...content, records: [...content.records.slice(0, 2), { ...content.records[2], ttl: 60 }] }],
    ["the zone TTL", { ...content, ttl: 3600 }],
    ["the hostmaster", { ...content, hostmaster: "root.rockylinux.me." }],
  ])("changes with %s", (_, changed) => {
    expect(zoneContentHash(changed)).not.toBe(zoneContentHash(content));
  });

  test("validates like renderZone", () => {
    expect(() => zoneContentHash({ ...content, records: [{ name: "@", type: "CNAME", value: "x.example." }] })).toThrow(/apex/);
  });
});

describe("bindPaths", () => {
  test("debian", () => {
    expect(bindPaths("debian")).toEqual({
      namedConf: "/etc/bind/named.conf",
      zoneDir: "/var/lib/bind",
      user: "bind",
      group: "bind",
      checkconf: "/usr/bin/named-checkconf",
      service: "named",
      acmeZoneFilePrefix: "/var/lib/bind/acme.",
      acmeZoneSeed: "/etc/bind/mail-system-acme.seed",
    });
  });
  test("rhel", () => {
    expect(bindPaths("rhel")).toEqual({
      namedConf: "/etc/named.conf",
      zoneDir: "/var/named",
      user: "named",
      group: "named",
      checkconf: "/usr/sbin/named-checkconf",
      service: "named",
      acmeZoneFilePrefix: "/var/named/dynamic/acme.",
      acmeZoneSeed: "/etc/named/mail-system-acme.seed",
    });
  });
  test("unknown layout", () => {
    expect(() => bindPaths("suse" as "rhel")).toThrow(/unknown BIND layout "suse"/);
  });
});

describe("renderBindFiles", () => {
  const settings = { listenAddress: "192.168.100.7", zones: [seed] };

  test("debian: named.conf and the zone file, root:bind 0644, none secret", () => {
    const files = renderBindFiles(settings);
    expect(files.map((f) => [f.path, f.owner, f.group, f.mode, f.secret])).toEqual([
      ["/etc/bind/named.conf", "root", "bind", "0644", undefined],
      ["/var/lib/bind/db.rockylinux.me", "root", "bind", "0644", undefined],
    ]);
    expect(files[1].content).toBe(renderZone(seed));
    const conf = files[0].content;
    expect(conf).toContain('directory "/var/cache/bind";');
    expect(conf).toContain('zone "rockylinux.me" IN {\n');
    expect(conf).toContain('file "/var/lib/bind/db.rockylinux.me";');
  });

  test("rhel: /etc/named.conf and /var/named, root:named 0640", () => {
    const files = renderBindFiles({ ...settings, layout: "rhel" });
    expect(files.map((f) => [f.path, f.owner, f.group, f.mode])).toEqual([
      ["/etc/named.conf", "root", "named", "0640"],
      ["/var/named/rockylinux.me.zone", "root", "named", "0640"],
    ]);
    expect(files[0].content).toContain('directory "/var/named";');
    expect(files[0].content).toContain('file "/var/named/rockylinux.me.zone";');
  });

  test("named.conf is authoritative only, closed to transfers and updates, IPv4 only", () => {
    const conf = renderBindFiles(settings)[0].content;
    for (const line of [
      "listen-on port 53 { 127.0.0.1; 192.168.100.7; };",
      "listen-on-v6 { none; };",
      "allow-query { any; };",
      "recursion no;",
      "allow-recursion { none; };",
      "allow-transfer { none; };",
      "notify no;",
      "dnssec-validation no;",
      'version "none";',
      "type master;",
      "allow-update { none; };",
    ]) {
      expect(conf).toContain(line);
    }
    expect(conf).not.toMatch(/forwarders|include|root\.hints|type hint/);
  });

  test("named.conf keeps answers small: minimal ANY, no authority NS in positive answers", () => {
    const conf = renderBindFiles(settings)[0].content;
    expect(conf).toContain("\tminimal-any yes;\n");
    expect(conf).toContain("\tminimal-responses no-auth;\n");
    expect(conf).not.toContain("minimal-responses no;");
  });

  test("named.conf limits response rates (RRL) by default, its own networks exempt", () => {
    const conf = renderBindFiles(settings)[0].content;
    expect(DEFAULT_RESPONSES_PER_SECOND).toBe(10);
    const block = /\n\trate-limit \{\n([^}]*(?:\{[^}]*\}[^}]*)*)\t\};\n/.exec(conf);
    expect(block?.[1]).toBe(
      "\t\tresponses-per-second 10;\n\t\twindow 15;\n\t\tslip 2;\n\t\texempt-clients { localhost; localnets; };\n",
    );
    // Inside options, before the zones.
    expect(conf.indexOf("rate-limit {")).toBeLessThan(conf.indexOf("\n};\n"));
    expect(conf.indexOf("\n};\n")).toBeLessThan(conf.indexOf("zone \""));
  });

  test("the rate and the exempt clients are settable; 0 turns RRL off", () => {
    const conf = renderBindFiles({ ...settings, responsesPerSecond: 5, rateLimitExempt: ["127.0.0.1", "192.168.100.6/32"] })[0].content;
    expect(conf).toContain("\t\tresponses-per-second 5;\n");
    expect(conf).toContain("\t\texempt-clients { 127.0.0.1; 192.168.100.6/32; };\n");
    const none = renderBindFiles({ ...settings, rateLimitExempt: [] })[0].content;
    expect(none).toContain("rate-limit {");
    expect(none).not.toContain("exempt-clients");
    const off = renderBindFiles({ ...settings, responsesPerSecond: 0 })[0].content;
    expect(off).not.toContain("rate-limit");
    expect(off).toContain("minimal-any yes;");
  });

  test("allowQuery and a loopback listen address", () => {
    const conf = renderBindFiles({ ...settings, listenAddress: "127.0.0.1", allowQuery: ["localhost", "192.168.100.0/24", "!10.0.0.1", "fd00::/8"] })[0]
      .content;
    expect(conf).toContain("listen-on port 53 { 127.0.0.1; };");
    expect(conf).toContain("allow-query { localhost; 192.168.100.0/24; !10.0.0.1; fd00::/8; };");
  });

  test("several zones, in name order whatever the input order", () => {
    const other: ZoneSpec = { ...seed, origin: "example.test", records: [{ name: "@", type: "A", value: "10.0.0.1" }] };
    const a = renderBindFiles({ ...settings, zones: [seed, other] });
    const b = renderBindFiles({ ...settings, zones: [other, seed] });
    expect(a).toEqual(b);
    expect(a.map((f) => f.path)).toEqual(["/etc/bind/named.conf", "/var/lib/bind/db.example.test", "/var/lib/bind/db.rockylinux.me"]);
    expect(a[0].content.indexOf('zone "example.test"')).toBeLessThan(a[0].content.indexOf('zone "rockylinux.me"'));
  });

  test("is deterministic", () => {
    expect(renderBindFiles(settings)).toEqual(renderBindFiles(JSON.parse(JSON.stringify(settings))));
  });

  test.each<[string, object, RegExp]>([
    ["listen address not IPv4", { listenAddress: "dns.rockylinux.me" }, /listenAddress must be the server's own IPv4 address/],
    ["listen address 0.0.0.0", { listenAddress: "0.0.0.0" }, /listenAddress/],
    ["empty allowQuery", { allowQuery: [] }, /allowQuery must not be empty/],
    ["allowQuery injection", { allowQuery: ["any; }; include \"/etc/passwd"] }, /allowQuery: .* is not "any"/],
    ["bad prefix length", { allowQuery: ["10.0.0.0/33"] }, /allowQuery/],
    ["no zones", { zones: [] }, /at least one zone/],
    ["a negative rate", { responsesPerSecond: -1 }, /responsesPerSecond must be an integer from 0 to 1000, got -1/],
    ["a fractional rate", { responsesPerSecond: 2.5 }, /responsesPerSecond must be an integer/],
    ["a rate above BIND's 1000", { responsesPerSecond: 1001 }, /responsesPerSecond/],
    ["rateLimitExempt injection", { rateLimitExempt: ["any; }; include \"/etc/passwd"] }, /rateLimitExempt: .* is not "any"/],
    ["the same zone twice", { zones: [seed, { ...seed, origin: "ROCKYLINUX.me" }] }, /rockylinux\.me is given twice/],
    ["unknown layout", { layout: "bsd" }, /unknown BIND layout "bsd"/],
    ["a bad record", { zones: [withRecords({ name: "@", type: "CNAME", value: "x.example." })] }, /CNAME is not allowed at the zone apex/],
  ])("rejects %s", (_, change, message) => {
    expect(() => renderBindFiles({ ...settings, ...change } as Parameters<typeof renderBindFiles>[0])).toThrow(message);
  });
});

describe("a signed zone (DNSSEC)", () => {
  const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const key = zoneSigningKey("rockylinux.me", pem);
  const signed = { ...seed, signingKey: pem };

  test("debian: the key's three files in the zone directory, named's own, the private one secret and 0600; the policy and the zone's options", () => {
    const files = renderBindFiles({ listenAddress: "192.168.100.7", zones: [signed], layout: "debian" });
    const byPath = new Map(files.map((f) => [f.path, f]));
    const base = `/var/lib/bind/${key.fileBase}`;
    expect(byPath.get(`${base}.key`)).toMatchObject({ content: key.keyFile, owner: "bind", mode: "0644" });
    expect(byPath.get(`${base}.private`)).toMatchObject({ content: key.privateFile, owner: "bind", mode: "0600", secret: true });
    expect(byPath.get(`${base}.state`)).toMatchObject({ content: key.stateFile, owner: "bind" });
    const conf = files[0].content;
    expect(conf).toMatch(/^dnssec-policy "mail-system" \{\n\tkeys \{ csk key-directory lifetime unlimited algorithm ecdsap256sha256; \};\n\};$/m);
    const zone = conf.slice(conf.indexOf('zone "rockylinux.me"'));
    expect(zone).toContain('\tdnssec-policy "mail-system";\n');
    expect(zone).toContain("\tinline-signing yes;\n");
    expect(zone).toContain('\tkey-directory "/var/lib/bind";\n');
    expect(zone).toContain(`key ${key.tag}`);
    // The zone file itself stays unsigned: named keeps the signed copy.
    expect(byPath.get("/var/lib/bind/db.rockylinux.me")!.content).toBe(renderZone(seed));
  });

  test("rhel (BIND 9.11, no dnssec-policy): auto-dnssec with the key files, no policy and no state file", () => {
    const files = renderBindFiles({ listenAddress: "192.168.100.7", zones: [signed], layout: "rhel" });
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining([`/var/named/${key.fileBase}.key`, `/var/named/${key.fileBase}.private`]));
    expect(paths.some((p) => p.endsWith(".state"))).toBe(false);
    expect(files.find((f) => f.path.endsWith(".private"))).toMatchObject({ owner: "named", mode: "0600", secret: true });
    expect(files[0].content).not.toMatch(/dnssec-policy "/);
    expect(files[0].content).toContain("\tauto-dnssec maintain;\n\tinline-signing yes;\n");
  });

  test("an unsigned zone has none of it", () => {
    const files = renderBindFiles({ listenAddress: "192.168.100.7", zones: [seed] });
    expect(files.map((f) => f.path)).toEqual(["/etc/bind/named.conf", "/var/lib/bind/db.rockylinux.me"]);
    expect(files[0].content).not.toMatch(/dnssec-policy|auto-dnssec|inline-signing|key-directory/);
  });

  test("a key that is not EC P-256 stops the rendering with a clear message", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(() => renderBindFiles({ listenAddress: "192.168.100.7", zones: [{ ...seed, signingKey: rsa }] })).toThrow("not an EC P-256 key");
  });
});

test("a TLSA record: its data with the digest in upper case, its own TTL", () => {
  const zone = renderZone(withRecords({ name: "_25._tcp.mail", type: "TLSA", value: `3 1 1 ${"ab".repeat(32)}`, ttl: 300 }));
  expect(recordLines(zone).map((l) => l.split(/\s+/).join(" "))).toContain(`_25._tcp.mail 5M IN TLSA 3 1 1 ${"AB".repeat(32)}`);
});
