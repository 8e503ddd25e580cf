import { BASE_IMAGE } from "../../components/baseImage";
import { DEFAULT_LIMITS } from "../../components/render/mailGuard";
import { DEFAULT_FILTERING } from "../../components/render/rspamd";
import { describeProblems, RawConfig, readRawConfig, validateConfig } from "../../components/config";

// The dev stack's configuration (Pulumi.dev.yaml): the seed's lab.
const seed: RawConfig = {
  domain: "rockylinux.me",
  mailDomains: ["mail.rockylinux.me", "rockylinux.me"],
  users: [{ email: "frank@mail.rockylinux.me" }, { email: "leeo@mail.rockylinux.me", password: "twotestandtwo" }],
  aliases: [
    { source: "all@mail.rockylinux.me", destination: "frank@mail.rockylinux.me" },
    { source: "all@mail.rockylinux.me", destination: "leeo@mail.rockylinux.me" },
  ],
};

/** The problems of `seed` with `change` applied, as "key: message" lines. */
function problemsWith(change: Partial<Record<keyof RawConfig, unknown>>): string[] {
  return validateConfig({ ...seed, ...change }, "dev").problems.map((p) => `${p.key}: ${p.message}`);
}

describe("validateConfig", () => {
  test("the seed's lab is valid and gets the documented defaults", () => {
    const { config, problems } = validateConfig(seed, "dev");
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      domain: "rockylinux.me",
      dnsHost: "dns",
      mailHost: "mail",
      subnet: "192.168.100.0/24",
      dnsAddress: "192.168.100.7",
      dbAddress: "192.168.100.5",
      mailAddress: "192.168.100.6",
      baseImage: BASE_IMAGE,
      databaseImage: expect.stringMatching(/\/files\/image$/),
      namePrefix: "mail-system-dev",
    });
    expect(config.users).toEqual([
      { email: "frank@mail.rockylinux.me" },
      { email: "leeo@mail.rockylinux.me", password: "twotestandtwo" },
    ]);
    expect(config.aliases).toHaveLength(2);
    expect(config.tls).toBeUndefined();
  });

  test("addresses are normalised to lower case and mail domains default to the zone", () => {
    const { config, problems } = validateConfig({ domain: "Example.TEST", users: [{ email: "Ann@Example.test" }] }, "s");
    expect(problems).toEqual([]);
    expect(config.domain).toBe("example.test");
    expect(config.mailDomains).toEqual(["example.test"]);
    expect(config.users[0].email).toBe("ann@example.test");
  });

  test("the DKIM selector defaults to \"mail\" and may be any single DNS label", () => {
    expect(validateConfig(seed, "dev").config.dkimSelector).toBe("mail");
    const own = validateConfig({ ...seed, dkimSelector: " Sel-2026 " }, "dev");
    expect(own.problems).toEqual([]);
    expect(own.config.dkimSelector).toBe("sel-2026");
  });

  test.each([
    [{ dkimSelector: "a.b" }, 'mail-system:dkimSelector: "a.b" is not a single DNS label'],
    [{ dkimSelector: "_mail" }, 'mail-system:dkimSelector: "_mail" is not a single DNS label'],
    [{ dkimSelector: "-x" }, 'mail-system:dkimSelector: "-x" is not a single DNS label'],
    [{ dkimSelector: "x".repeat(64) }, "mail-system:dkimSelector: "],
    [{ dkimSelector: 7 }, "mail-system:dkimSelector: must be a string"],
  ])("DKIM selector %j is reported against its key", (change, expected) => {
    expect(problemsWith(change)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  test("SPF and DMARC default to the documented records, {zone} replaced; \"\" turns each off", () => {
    expect(validateConfig(seed, "dev").config).toMatchObject({
      spf: "v=spf1 mx -all",
      dmarc: "v=DMARC1; p=quarantine; rua=mailto:postmaster@rockylinux.me",
    });
    const own = validateConfig({ ...seed, spf: " v=spf1 ip4:192.0.2.1 mx ~all ", dmarc: "v=DMARC1;p=reject;rua=mailto:dmarc@{zone}" }, "dev");
    expect(own.problems).toEqual([]);
    expect(own.config).toMatchObject({ spf: "v=spf1 ip4:192.0.2.1 mx ~all", dmarc: "v=DMARC1;p=reject;rua=mailto:dmarc@rockylinux.me" });
    const off = validateConfig({ ...seed, spf: "", dmarc: "" }, "dev");
    expect(off.problems).toEqual([]);
    expect(off.config).toMatchObject({ spf: "", dmarc: "" });
  });

  test("limits default to DEFAULT_LIMITS; fields set (the CLI gives strings) replace theirs", () => {
    expect(validateConfig(seed, "dev").config.limits).toEqual(DEFAULT_LIMITS);
    const own = validateConfig({ ...seed, limits: { authFailures: "5", smtpConnectionsAtOnce: 3 } }, "dev");
    expect(own.problems).toEqual([]);
    expect(own.config.limits).toEqual({ ...DEFAULT_LIMITS, authFailures: 5, smtpConnectionsAtOnce: 3 });
  });

  test("an alias is not sent as unless it says so (sendAs) or aliasSenders is on and it does not say", () => {
    const aliases = [
      { source: "team@mail.rockylinux.me", destination: "frank@mail.rockylinux.me" },
      { source: "news@mail.rockylinux.me", destination: "frank@mail.rockylinux.me", sendAs: "true" },
      { source: "info@mail.rockylinux.me", destination: "frank@mail.rockylinux.me", sendAs: false },
    ];
    const sendAs = (more: object) => validateConfig({ ...seed, aliases, ...more }, "dev").config.aliases.map((a) => a.sendAs);
    expect(sendAs({})).toEqual([false, true, false]);
    expect(sendAs({ aliasSenders: "true" })).toEqual([true, true, false]);
  });

  test("an alias domain mirrors a mail domain; it is hosted like one but is not one", () => {
    const own = validateConfig({ ...seed, aliasDomains: [{ domain: "Other.RockyLinux.me", target: "mail.rockylinux.me" }] }, "dev");
    expect(own.problems).toEqual([]);
    expect(own.config.aliasDomains).toEqual([{ domain: "other.rockylinux.me", target: "mail.rockylinux.me" }]);
    expect(own.config.mailDomains).not.toContain("other.rockylinux.me");
  });

  test("filtering defaults to DEFAULT_FILTERING; fields set (the CLI gives strings) replace theirs", () => {
    expect(validateConfig(seed, "dev").config.filtering).toEqual(DEFAULT_FILTERING);
    const own = validateConfig({ ...seed, filtering: { junkScore: "4.5", greylisting: "true", allowDomains: ["example.org"] } }, "dev");
    expect(own.problems).toEqual([]);
    expect(own.config.filtering).toEqual({ ...DEFAULT_FILTERING, junkScore: 4.5, greylisting: true, allowDomains: ["example.org"] });
  });

  test.each([
    [{ filtering: { junkScore: 20 } }, "mail-system:filtering.junkScore: must be below rejectScore (15), not 20"],
    [{ filtering: { rejectScore: "high" } }, 'mail-system:filtering.rejectScore: must be a number greater than 0, not "high"'],
    [{ filtering: { greylist: true } }, "mail-system:filtering.greylist: unknown field"],
    [{ filtering: { allowDomains: ["Example.org"] } }, "mail-system:filtering.allowDomains[0]:"],
    [{ filtering: "on" }, "mail-system:filtering: must be an object"],
  ])("filtering %j is reported against its key", (change, expected) => {
    expect(problemsWith(change)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  test("quotas: none by default; a default for all, and a user's own in bytes (binary units)", () => {
    expect(validateConfig(seed, "dev").config.quota).toBe(0);
    const own = validateConfig(
      { ...seed, quota: "2G", users: [{ email: "frank@mail.rockylinux.me", quota: "500M" }, { email: "leeo@mail.rockylinux.me" }, { email: "ann@mail.rockylinux.me", quota: "0" }] },
      "dev",
    );
    expect(own.problems).toEqual([]);
    expect(own.config.quota).toBe(2 * 2 ** 30);
    expect(own.config.users.map((u) => u.quotaBytes)).toEqual([500 * 2 ** 20, undefined, 0]);
  });

  test("an alias source \"@domain\" is a catch-all of a served domain, lower-cased", () => {
    const own = validateConfig({ ...seed, aliases: [{ source: "@Mail.RockyLinux.me", destination: "frank@mail.rockylinux.me" }] }, "dev");
    expect(own.problems).toEqual([]);
    expect(own.config.aliases).toEqual([{ source: "@mail.rockylinux.me", destination: "frank@mail.rockylinux.me", sendAs: false }]);
  });

  test("records of the user's own are served beside the program's: types upper-cased, numbers from the CLI's strings", () => {
    const records = [
      { name: "www", type: "a", value: "192.0.2.80" },
      { name: "@", type: "TXT", value: "google-site-verification=abc" },
      { name: "_xmpp-client._tcp", type: "SRV", value: "5 5222 www.rockylinux.me.", priority: "10", ttl: "300" },
      { name: "partner", type: "TXT", value: "v=spf1 ip4:192.0.2.9 -all" },
    ];
    const own = validateConfig({ ...seed, records }, "dev");
    expect(own.problems).toEqual([]);
    expect(own.config.records).toEqual([
      { name: "www", type: "A", value: "192.0.2.80" },
      records[1],
      { name: "_xmpp-client._tcp", type: "SRV", value: "5 5222 www.rockylinux.me.", priority: 10, ttl: 300 },
      records[3],
    ]);
    expect(validateConfig(seed, "dev").config.records).toEqual([]);
  });

  test.each([
    [{ records: [{ name: "www", type: "NS", value: "ns.example.org." }] }, "mail-system:records[0].type: must be one of A, AAAA, CNAME, MX, SRV, TXT"],
    [{ records: [{ name: "www", type: "A", value: "192.0.2.1", weight: 1 }] }, "mail-system:records[0].weight: is not a known field"],
    [{ records: [{ name: "www", type: "A", value: "300.1.1.1" }] }, "mail-system:records[0]: A value must be an IPv4 address"],
    [{ records: [{ name: "www.rockylinux.me", type: "A", value: "192.0.2.1" }] }, "mail-system:records[0]: name includes the zone origin"],
    [{ records: [{ name: "mx2", type: "MX", value: "mx.example.org." }] }, "mail-system:records[0]: MX needs a priority"],
    [{ records: [{ name: "www", type: "A", value: "192.0.2.1", ttl: "soon" }] }, "mail-system:records[0].ttl: must be a whole number"],
    [{ records: "www" }, "mail-system:records: must be a list"],
    // Beside the program's records: the mail server's own name, a second SPF, a duplicate.
    [{ records: [{ name: "mail", type: "CNAME", value: "www.example.org." }] }, "mail-system:records: with the records the program publishes: zone rockylinux.me: "],
    [{ records: [{ name: "@", type: "TXT", value: "v=spf1 a -all" }] }, "mail-system:records[0]: @ already has the program's v=spf1 record"],
    [{ records: [{ name: "_dmarc.mail", type: "TXT", value: "v=DMARC1; p=none" }] }, "mail-system:records[0]: _dmarc.mail already has the program's v=dmarc1 record"],
    [{ records: [{ name: "@", type: "MX", value: "mail.rockylinux.me.", priority: 2 }] }, "mail-system:records: with the records the program publishes: zone rockylinux.me: record #"],
    [{ records: [{ name: "web", type: "MX", value: "nowhere.rockylinux.me.", priority: 5 }] }, "has no A or AAAA record"],
    // Where clients look for their settings (autoconfig on by default): another address, a CNAME, another SRV.
    [{ records: [{ name: "autoconfig", type: "A", value: "192.0.2.80" }] }, "mail-system:records[0]: autoconfig is where mail clients look for their settings, published by the program (mail-system:autoconfig)"],
    [{ records: [{ name: "autodiscover.mail", type: "CNAME", value: "outlook.example.org." }] }, "mail-system:records[0]: autodiscover.mail is where mail clients look"],
    [{ records: [{ name: "_autodiscover._tcp", type: "SRV", value: "0 443 mail.example.org.", priority: 0 }] }, "mail-system:records[0]: _autodiscover._tcp is where mail clients look"],
  ])("records %j are reported against their key", (change, expected) => {
    expect(problemsWith(change)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  test("MTA-STS is off by default; on, a mode and a max age (a week by default); TLS reports go where tlsReportsTo says", () => {
    expect(validateConfig(seed, "dev").config.mtaSts).toBeUndefined();
    expect(validateConfig(seed, "dev").config.tlsReportsTo).toEqual([]);
    const on = validateConfig({ ...seed, mtaSts: { mode: "enforce" }, tlsReportsTo: ["mailto:tls@rockylinux.me", " https://reports.example.org/tls "] }, "dev");
    expect(on.problems).toEqual([]);
    expect(on.config.mtaSts).toEqual({ mode: "enforce", maxAgeSeconds: 604800 });
    expect(on.config.tlsReportsTo).toEqual(["mailto:tls@rockylinux.me", "https://reports.example.org/tls"]);
    // The CLI's path values are strings.
    expect(validateConfig({ ...seed, mtaSts: { mode: "testing", maxAge: "86400" } }, "dev").config.mtaSts).toEqual({ mode: "testing", maxAgeSeconds: 86400 });
  });

  test("ACME is off by default; on, the directory and contact, dns-01 and a check every 12 h unless said otherwise", () => {
    expect(validateConfig(seed, "dev").config.acme).toBeUndefined();
    const on = validateConfig({ ...seed, acme: { directory: "https://acme-v02.api.letsencrypt.org/directory", email: "postmaster@rockylinux.me" } }, "dev");
    expect(on.problems).toEqual([]);
    expect(on.config.acme).toEqual({ directory: "https://acme-v02.api.letsencrypt.org/directory", email: "postmaster@rockylinux.me", challenge: "dns-01", checkSeconds: 43200 });
    // The CLI's path values are strings.
    const http = validateConfig({ ...seed, acme: { directory: "https://ca.example.org/dir", email: "a@rockylinux.me", challenge: "http-01", checkSeconds: "60" } }, "dev");
    expect(http.config.acme).toMatchObject({ challenge: "http-01", checkSeconds: 60 });
  });

  test.each([
    [{ acme: { directory: "http://ca.example.org/dir", email: "a@rockylinux.me" } }, [expect.stringMatching(/^mail-system:acme\.directory: must be the CA's https:\/\/ directory URL/)]],
    [{ acme: { directory: "https://ca.example.org/dir", email: "nobody" } }, ['mail-system:acme.email: must be the account\'s contact address, not "nobody"']],
    [{ acme: { directory: "https://ca.example.org/dir", email: "a@rockylinux.me", challenge: "tls-alpn-01" } }, ['mail-system:acme.challenge: must be one of dns-01, http-01, not "tls-alpn-01"']],
    [{ acme: { directory: "https://ca.example.org/dir", email: "a@rockylinux.me", checkSeconds: 1 } }, ["mail-system:acme.checkSeconds: must be a whole number of seconds from 5 to 86400 (a day), not 1"]],
    [{ acme: { directory: "https://ca.example.org/dir", email: "a@rockylinux.me", rootCertificate: "not a PEM" } }, ["mail-system:acme.rootCertificate: must be a PEM certificate"]],
    [{ acme: { directory: "https://ca.example.org/dir", email: "a@rockylinux.me", server: "x" } }, [expect.stringContaining("mail-system:acme.server: is not a field of acme")]],
    [{ acme: { directory: "https://ca.example.org/dir", email: "a@rockylinux.me" }, tlsCertificate: "x", tlsPrivateKey: "y" }, [expect.stringContaining("mail-system:acme: and tlsCertificate exclude each other")]],
    [{ acme: { directory: "https://ca.example.org/dir", email: "a@rockylinux.me" }, records: [{ name: "_acme-challenge.mail", type: "TXT", value: "x" }] }, ["mail-system:records[0]: _acme-challenge.mail is where the ACME CA checks the program's answers (mail-system:acme, dns-01): the program delegates it"]],
  ])("acme %j is reported against its key", (change, expected) => {
    expect(problemsWith(change)).toEqual(expect.arrayContaining(expected));
  });

  test.each([
    [{ mtaSts: { mode: "strict" } }, ['mail-system:mtaSts.mode: must be one of enforce, testing, none, not "strict"']],
    [{ mtaSts: { maxAge: 86400 } }, ["mail-system:mtaSts.mode: must be one of enforce, testing, none, not undefined"]],
    [{ mtaSts: { mode: "enforce", maxAge: 60 } }, ["mail-system:mtaSts.maxAge: must be a whole number of seconds from 86400 (a day) to 31557600 (a year), not 60"]],
    [{ mtaSts: { mode: "enforce", max_age: 60 } }, ["mail-system:mtaSts.max_age: is not a field of mtaSts (mode, maxAge)"]],
    [{ mtaSts: "enforce" }, ["mail-system:mtaSts: must be an object: { mode, maxAge? }"]],
    [{ tlsReportsTo: ["tls@rockylinux.me"] }, ['mail-system:tlsReportsTo[0]: must be mailto:<address> or https://<url>, not "tls@rockylinux.me"']],
    [{ mtaSts: { mode: "enforce" }, mailHost: "mta-sts" }, ['mail-system:mailHost: "mta-sts" is where senders fetch the MTA-STS policy (mail-system:mtaSts): choose another']],
    [{ mtaSts: { mode: "enforce" }, records: [{ name: "mta-sts", type: "A", value: "192.0.2.80" }] }, ["mail-system:records[0]: mta-sts is where senders fetch the MTA-STS policy, served by the program (mail-system:mtaSts)"]],
    [{ mtaSts: { mode: "enforce" }, records: [{ name: "_mta-sts.mail", type: "TXT", value: "v=STSv1; id=1" }] }, [expect.stringContaining("mail-system:records[0]: _mta-sts.mail already has the program's v=stsv1 record")]],
    [{ tlsReportsTo: ["mailto:tls@rockylinux.me"], records: [{ name: "_smtp._tls", type: "TXT", value: "v=TLSRPTv1; rua=mailto:x@example.org" }] }, [expect.stringContaining("mail-system:records[0]: _smtp._tls already has the program's v=tlsrptv1 record")]],
  ])("%j is reported against its key", (change, expected) => {
    expect(problemsWith(change)).toEqual(expected);
  });

  test("autoconfig is on by default; off, its names are the user's to publish", () => {
    expect(validateConfig(seed, "dev").config.autoconfig).toBe(true);
    const records = [{ name: "autoconfig", type: "A", value: "192.0.2.80" }];
    const off = validateConfig({ ...seed, autoconfig: "false", records }, "dev");
    expect(off.problems).toEqual([]);
    expect(off.config.autoconfig).toBe(false);
    expect(problemsWith({ autoconfig: "maybe" })).toEqual(['mail-system:autoconfig: must be true or false, not "maybe"']);
  });

  test("with autoconfig, no server may be called autoconfig or autodiscover in a zone whose own domain is served", () => {
    expect(problemsWith({ mailHost: "autoconfig" })).toEqual([
      'mail-system:mailHost: "autoconfig" is a name mail clients look their settings up at (mail-system:autoconfig): choose another',
    ]);
    expect(problemsWith({ dnsHost: "autodiscover" })).toEqual([expect.stringMatching(/^mail-system:dnsHost: "autodiscover" is a name/)]);
    expect(problemsWith({ mailHost: "autoconfig", autoconfig: false })).toEqual([]);
    // autoconfig.mail.<zone> is not mail.<zone>'s business when the zone's own mail is not served.
    expect(problemsWith({ mailDomains: ["mail.rockylinux.me"], mailHost: "autoconfig", users: [{ email: "a@mail.rockylinux.me" }], aliases: [] })).toEqual([]);
  });

  test.each([
    [{ limits: { authFailures: 0 } }, "mail-system:limits.authFailures: 0 is not a whole number from 1 to 1000000"],
    [{ limits: { authBanMinutes: "ten" } }, 'mail-system:limits.authBanMinutes: "ten" is not a whole number from 1 to 1000000'],
    [{ limits: { smtpMessagesPerMinute: 1.5 } }, "mail-system:limits.smtpMessagesPerMinute: 1.5 is not a whole number"],
    [{ limits: { authFailure: 3 } }, "mail-system:limits.authFailure: is not a known limit (smtpConnectionsPerMinute,"],
    [{ limits: [3] }, "mail-system:limits: must be an object: { smtpConnectionsPerMinute?,"],
    [{ aliasSenders: "yes" }, 'mail-system:aliasSenders: must be true or false, not "yes"'],
  ])("limits and aliasSenders %j are reported against their key", (change, expected) => {
    expect(problemsWith(change)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  test.each([
    [{ domain: "not a domain" }, 'mail-system:domain: "not a domain" is not a valid domain name'],
    [{ domain: undefined }, "mail-system:domain: is required"],
    [{ mailHost: "mail.server" }, 'mail-system:mailHost: "mail.server" is not a single DNS label'],
    [{ dnsHost: "mail" }, "mail-system:mailHost: must differ from dnsHost"],
    [{ mailDomains: ["other.org"] }, 'mail-system:mailDomains[0]: "other.org" is not in the zone'],
    [{ mailDomains: ["rockylinux.me", "rockylinux.me"] }, 'mail-system:mailDomains[1]: "rockylinux.me" is listed twice'],
    [{ users: [{ email: "frank@" }] }, 'mail-system:users[0].email: "frank@" is not a valid e-mail address'],
    [{ users: [{ email: "o'brien@rockylinux.me" }] }, "mail-system:users[0].email: \"o'brien@rockylinux.me\" is not a valid e-mail address"],
    [{ users: [] }, "mail-system:users: must list at least one user"],
    [{ users: [{ email: "a+b@rockylinux.me" }] }, 'mail-system:users[0].email: "a+b@rockylinux.me": a mailbox address may not contain "+"'],
    [{ users: undefined }, "mail-system:users: is required"],
    [{ users: "frank" }, "mail-system:users: must be a list"],
    [{ users: [{ email: "a@rockylinux.me" }, { email: "A@rockylinux.me" }] }, 'mail-system:users[1].email: "a@rockylinux.me" is listed twice'],
    [{ users: [{ email: "a@elsewhere.org" }] }, 'mail-system:users[0].email: the domain of "a@elsewhere.org" is not served'],
    [{ users: [{ email: "a@rockylinux.me", password: "short" }] }, "mail-system:users[0].password: must be a string of at least 8 characters"],
    [{ users: [{ email: "a@rockylinux.me", password: "line\nbreak!" }] }, "mail-system:users[0].password: must not contain line breaks"],
    [{ users: [{ email: "a@rockylinux.me", size: 1 }] }, "mail-system:users[0].size: is not a known field"],
    [{ users: [{ email: "a@rockylinux.me", quota: "lots" }] }, 'mail-system:users[0].quota: "lots" is not a size'],
    [{ users: [{ email: "a@rockylinux.me", quota: "-1G" }] }, 'mail-system:users[0].quota: "-1G" is not a size'],
    [{ quota: "2 pages" }, 'mail-system:quota: "2 pages" is not a size'],
    [{ aliases: [{ source: "all@elsewhere.org", destination: "frank@mail.rockylinux.me" }] }, 'mail-system:aliases[0].source: the domain of "all@elsewhere.org" is not served'],
    [{ aliases: [{ source: "@elsewhere.org", destination: "frank@mail.rockylinux.me" }] }, 'mail-system:aliases[0].source: the domain of "@elsewhere.org" is not served'],
    [{ aliases: [{ source: "@", destination: "frank@mail.rockylinux.me" }] }, 'mail-system:aliases[0].source: "@" is not a valid e-mail address (or "@domain", a catch-all)'],
    [{ aliases: [{ source: "all@rockylinux.me", destination: "nobody" }] }, 'mail-system:aliases[0].destination: "nobody" is not a valid e-mail address'],
    [{ aliases: [{ source: "x@rockylinux.me", destination: "y@rockylinux.me" }, { source: "x@rockylinux.me", destination: "y@rockylinux.me" }] }, "mail-system:aliases[1]: x@rockylinux.me -> y@rockylinux.me is listed twice"],
    [{ aliases: [{ source: "@rockylinux.me", destination: "frank@mail.rockylinux.me", sendAs: true }] }, "mail-system:aliases[0].sendAs: a catch-all (@rockylinux.me) cannot be sent as"],
    [{ aliases: [{ source: "x@rockylinux.me", destination: "frank@mail.rockylinux.me", sendAs: "yes" }] }, 'mail-system:aliases[0].sendAs: must be true or false, not "yes"'],
    [{ aliasDomains: [{ domain: "other.example.org", target: "mail.rockylinux.me" }] }, 'mail-system:aliasDomains[0].domain: "other.example.org" is not in the zone "rockylinux.me"'],
    [{ aliasDomains: [{ domain: "mail.rockylinux.me", target: "rockylinux.me" }] }, 'mail-system:aliasDomains[0].domain: "mail.rockylinux.me" is a mail domain (mailDomains): it cannot also be an alias domain'],
    [{ aliasDomains: [{ domain: "other.rockylinux.me", target: "nowhere.rockylinux.me" }] }, 'mail-system:aliasDomains[0].target: "nowhere.rockylinux.me" is not a mail domain'],
    [{ aliasDomains: [{ domain: "other.rockylinux.me", target: "Other.rockylinux.me" }] }, 'mail-system:aliasDomains[0].target: "other.rockylinux.me" cannot be an alias of itself'],
    [{ aliasDomains: [{ domain: "a_b", target: "rockylinux.me" }] }, 'mail-system:aliasDomains[0].domain: "a_b" is not a valid domain name'],
    [{ aliasDomains: [{ domain: "o.rockylinux.me", target: "rockylinux.me" }, { domain: "O.rockylinux.me", target: "mail.rockylinux.me" }] }, 'mail-system:aliasDomains[1].domain: "o.rockylinux.me" is listed twice'],
    [{ aliasDomains: [{ domain: "o.rockylinux.me" }] }, "mail-system:aliasDomains[0].target: is required"],
    [{ aliasDomains: [{ domain: "o.rockylinux.me", target: "rockylinux.me", mirror: true }] }, "mail-system:aliasDomains[0].mirror: is not a known field (domain, target)"],
    [
      { aliasDomains: [{ domain: "o.rockylinux.me", target: "mail.rockylinux.me" }], aliases: [{ source: "x@o.rockylinux.me", destination: "frank@mail.rockylinux.me" }] },
      'mail-system:aliases[0].source: "o.rockylinux.me" is an alias domain of mail.rockylinux.me: its addresses are those of mail.rockylinux.me',
    ],
    [{ subnet: "192.168.100.0/33" }, 'mail-system:subnet: "192.168.100.0/33" is not an IPv4 subnet'],
    [{ subnet: "192.168.100.7/24" }, "mail-system:subnet: \"192.168.100.7/24\" is not a network address"],
    [{ mailAddress: "10.0.0.6" }, "mail-system:mailAddress: 10.0.0.6 is outside the subnet 192.168.100.0/24"],
    [{ mailAddress: "192.168.100.256" }, 'mail-system:mailAddress: "192.168.100.256" is not an IPv4 address'],
    [{ dbAddress: "192.168.100.7" }, "mail-system:dbAddress: 192.168.100.7 is already the address of dnsAddress"],
    [{ dnsAddress: "192.168.100.1" }, "mail-system:dnsAddress: 192.168.100.1 is the subnet's gateway"],
    [{ dnsAddress: "192.168.100.255" }, "mail-system:dnsAddress: 192.168.100.255 is the network or broadcast address"],
    [{ tlsCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----" }, "mail-system:tlsPrivateKey: tlsCertificate and tlsPrivateKey go together"],
    [{ tlsCertificate: "not pem", tlsPrivateKey: "not pem" }, "mail-system:tlsCertificate: is not a PEM certificate"],
    [{ databaseImage: "files/nowhere" }, "mail-system:databaseImage: /"],
    [{ purgeRemovedMailboxes: "sometimes" }, 'mail-system:purgeRemovedMailboxes: must be true or false, not "sometimes"'],
    [{ namePrefix: "Bad Prefix!" }, 'mail-system:namePrefix: "bad prefix!" must be'],
    [{ spf: "mx -all" }, 'mail-system:spf: "mx -all" must start with "v=spf1"'],
    [{ spf: "v=spf1 mx\n-all" }, "mail-system:spf: must be printable ASCII on one line"],
    [{ spf: ["v=spf1 -all"] }, "mail-system:spf: must be a string"],
    [{ dmarc: "p=reject" }, 'mail-system:dmarc: "p=reject" must start with "v=DMARC1;"'],
    [{ dmarc: "v=DMARC1; rua=mailto:a@rockylinux.me" }, "mail-system:dmarc: \"v=DMARC1; rua=mailto:a@rockylinux.me\" needs p=none, p=quarantine or p=reject"],
    [{ dmarc: "v=DMARC1; p=maybe" }, "needs p=none"],
    // What the database's columns cannot hold, or Dovecot refuses as a login, fails here rather than mid-deploy.
    [{ mailDomains: [`${"d".repeat(40)}.rockylinux.me`] }, `mail-system:mailDomains[0]: "${"d".repeat(40)}.rockylinux.me" is longer than the 50 characters the database holds`],
    [{ users: [{ email: "fr!nk@mail.rockylinux.me" }] }, 'mail-system:users[0].email: "fr!nk@mail.rockylinux.me" is not a valid e-mail address'],
    [{ aliases: [{ source: `${"a".repeat(60)}@${"b".repeat(30)}.rockylinux.me`, destination: "frank@mail.rockylinux.me" }] }, "is longer than the 100 characters the database holds"],
  ])("%j is reported against its key", (change, expected) => {
    const problems = problemsWith(change);
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  test("every problem is reported at once, each naming its key", () => {
    const problems = problemsWith({
      domain: "bad domain",
      users: [{ email: "x" }, { email: "x" }],
      dbAddress: "192.168.100.7",
      mailAddress: "10.1.1.1",
    });
    expect(problems.length).toBeGreaterThanOrEqual(5);
    for (const p of problems) expect(p).toMatch(/^mail-system:[A-Za-z]+(\[\d+\](\.[a-z]+)?)?: /);
    const message = describeProblems(validateConfig({ ...seed, domain: "bad domain", dbAddress: "1.2.3.4" }, "dev").problems);
    expect(message).toMatch(/^Invalid stack configuration \(\d+ problems\):\n  - mail-system:domain: /);
  });
});

describe("validateConfig: target ssh", () => {
  const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
  const hosts = { dns: { address: "10.1.0.7" }, db: { address: "10.1.0.5", user: "deploy", port: "2222" }, mail: { address: "10.1.0.5" } };

  test("docker is the default target; mail is kept on destroy unless purgeMailOnDestroy", () => {
    const { config } = validateConfig(seed, "dev");
    expect(config.target).toBe("docker");
    expect(config.hosts).toBeUndefined();
    expect(config.purgeMailOnDestroy).toBe(false);
    expect(validateConfig({ ...seed, purgeMailOnDestroy: "true" }, "dev").config.purgeMailOnDestroy).toBe(true);
  });

  test("DKIM rollover: published selectors (lower-cased, the signing one left out) and a wait in hours", () => {
    const { config, problems } = validateConfig({ ...seed, dkimSelector: "s2", dkimPublishedSelectors: ["Mail", "s2"], dkimRolloverWait: "48" }, "dev");
    expect(problems).toEqual([]);
    expect([config.dkimSelector, config.dkimPublishedSelectors, config.dkimRolloverWaitSeconds]).toEqual(["s2", ["mail"], 48 * 3600]);
    expect(validateConfig(seed, "dev").config.dkimRolloverWaitSeconds).toBe(86400);
    expect(validateConfig({ ...seed, dkimPublishedSelectors: ["a.b"], dkimRolloverWait: "soon" }, "dev").problems).toEqual([
      { key: "mail-system:dkimPublishedSelectors[0]", message: '"a.b" is not a single DNS label' },
      { key: "mail-system:dkimRolloverWait", message: 'must be a whole number of hours from 0 to 8760, not "soon"' },
    ]);
  });

  test("the zone is signed (DNSSEC) unless dnssec is false", () => {
    expect(validateConfig(seed, "dev").config.dnssec).toBe(true);
    expect(validateConfig({ ...seed, dnssec: "false" }, "dev").config.dnssec).toBe(false);
    expect(validateConfig({ ...seed, dnssec: "maybe" }, "dev").problems).toEqual([{ key: "mail-system:dnssec", message: "must be true or false, not \"maybe\"" }]);
  });

  test("each role gets its host; the addresses come from there; roles may share a host; the shared key fills in", () => {
    const { config, problems } = validateConfig({ ...seed, target: "ssh", hosts, sshPrivateKey: KEY }, "dev");
    expect(problems).toEqual([]);
    expect(config.hosts).toEqual({
      dns: { address: "10.1.0.7", port: 22, user: "root", privateKey: `${KEY}\n` },
      db: { address: "10.1.0.5", port: 2222, user: "deploy", privateKey: `${KEY}\n` },
      mail: { address: "10.1.0.5", port: 22, user: "root", privateKey: `${KEY}\n` },
    });
    expect(config).toMatchObject({ dnsAddress: "10.1.0.7", dbAddress: "10.1.0.5", mailAddress: "10.1.0.5" });
  });

  test("a role's own key and pinned host key", () => {
    const own = { ...hosts, mail: { address: "10.1.0.6", privateKey: KEY.replace("AAAAA", "BBBBB"), hostKey: "ssh-ed25519 AAAAC3Nza" } };
    const { config, problems } = validateConfig({ ...seed, target: "ssh", hosts: own, sshPrivateKey: KEY }, "dev");
    expect(problems).toEqual([]);
    expect(config.hosts?.mail).toMatchObject({ privateKey: `${KEY.replace("AAAAA", "BBBBB")}\n`, hostKey: "ssh-ed25519 AAAAC3Nza" });
    // Two roles on one SSH server pin the same key (or neither): fine.
    const shared = { ...own, dns: { address: "10.1.0.6", hostKey: "ssh-ed25519 AAAAC3Nza" } };
    expect(validateConfig({ ...seed, target: "ssh", hosts: shared, sshPrivateKey: KEY }, "dev").problems).toEqual([]);
  });

  test.each([
    [{ target: "kubernetes" }, 'mail-system:target: must be "docker" or "ssh"'],
    [{ target: "ssh" }, "mail-system:hosts: is required with target ssh"],
    [{ target: "ssh", hosts: { dns: hosts.dns, db: hosts.db } }, "mail-system:hosts.mail: is required"],
    [{ target: "ssh", hosts: { ...hosts, web: { address: "10.1.0.9" } }, sshPrivateKey: KEY }, "mail-system:hosts.web: is not a role"],
    [{ target: "ssh", hosts: { ...hosts, dns: { address: "dns.example" } }, sshPrivateKey: KEY }, "mail-system:hosts.dns.address: "],
    [{ target: "ssh", hosts: { ...hosts, dns: { address: "10.1.0.7", port: 70000 } }, sshPrivateKey: KEY }, "mail-system:hosts.dns.port: 70000 is not a TCP port"],
    [{ target: "ssh", hosts: { ...hosts, dns: { address: "10.1.0.7", user: "root;id" } }, sshPrivateKey: KEY }, "mail-system:hosts.dns.user: "],
    [{ target: "ssh", hosts: { ...hosts, dns: { address: "10.1.0.7", pass: "x" } }, sshPrivateKey: KEY }, "mail-system:hosts.dns.pass: is not a known field"],
    [{ target: "ssh", hosts }, "mail-system:hosts.dns.privateKey: is required (or set sshPrivateKey for every host)"],
    [{ target: "ssh", hosts, sshPrivateKey: "hunter2" }, "mail-system:sshPrivateKey: is not a PEM or OpenSSH private key"],
    [{ target: "ssh", hosts: { ...hosts, dns: { address: "10.1.0.7", hostKey: "AAAA" } }, sshPrivateKey: KEY }, "mail-system:hosts.dns.hostKey: "],
    [
      { target: "ssh", hosts: { ...hosts, dns: { address: "10.1.0.7", hostKey: "ssh-rsa AAAAB3NzaC1yc2E" } }, sshPrivateKey: KEY },
      "mail-system:hosts.dns.hostKey: is an RSA key, which @pulumi/command cannot check against OpenSSH 8.8 or later",
    ],
    // db (10.1.0.5:2222) and mail (10.1.0.5:22) are two SSH servers; mail on db's port is the same one.
    [
      { target: "ssh", hosts: { ...hosts, db: { ...hosts.db, hostKey: "ssh-ed25519 AAAAC3Nza" }, mail: { address: "10.1.0.5", port: 2222, hostKey: "ssh-ed25519 BBBB" } }, sshPrivateKey: KEY },
      "mail-system:hosts.mail.hostKey: pins another host key than hosts.db.hostKey for the same SSH server 10.1.0.5:2222",
    ],
    [{ purgeMailOnDestroy: "sometimes" }, "mail-system:purgeMailOnDestroy: must be true or false"],
  ])("%j is reported against its key", (change, expected) => {
    expect(problemsWith(change)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  test("with target ssh the lab network's addresses are not checked (the hosts' are)", () => {
    expect(problemsWith({ target: "ssh", hosts, sshPrivateKey: KEY, dnsAddress: "not-an-address" })).toEqual([]);
  });
});

describe("keys the program does not know", () => {
  test("are reported like bad values, with the key they are probably a typo of", () => {
    expect(problemsWith({ userz: "x" })).toEqual(["mail-system:userz: unknown key; did you mean mail-system:users?"]);
    expect(problemsWith({ MailAdress: "192.168.100.6" })).toEqual(["mail-system:MailAdress: unknown key; did you mean mail-system:mailAddress?"]);
    expect(problemsWith({ toString: "x" })).toEqual([expect.stringMatching(/^mail-system:toString: unknown key/)]);
    expect(problemsWith({ colour: "blue" })).toEqual([
      "mail-system:colour: unknown key (the keys are declared in Pulumi.yaml's config section)",
    ]);
  });

  test("come first, then every other problem grouped by key", () => {
    // mailHost's problem comes from a rule across keys, after every key was read.
    const problems = problemsWith({ mailAddress: "10.0.0.6", dnsHost: "mail", userz: "x", domain: "bad domain" });
    expect(problems.map((p) => p.split(": ")[0])).toEqual([
      "mail-system:userz",
      "mail-system:domain",
      "mail-system:mailHost",
      "mail-system:mailAddress",
    ]);
  });
});

describe("readRawConfig", () => {
  test("takes the project's keys from pulumi.runtime.allConfig(), parsing lists and objects", () => {
    const raw = readRawConfig({
      "mail-system:domain": "rockylinux.me",
      "mail-system:users": '[{"email":"frank@rockylinux.me"}]',
      "mail-system:hosts": "{}",
      "mail-system:purgeMailOnDestroy": "true",
      "mail-system:userz": "[1]",
      "aws:region": "eu-west-1",
    });
    expect(raw).toEqual({
      domain: "rockylinux.me",
      users: [{ email: "frank@rockylinux.me" }],
      hosts: {},
      purgeMailOnDestroy: "true",
      userz: "[1]",
    });
  });

  test("leaves a malformed list for validation to report", () => {
    const raw = readRawConfig({ "mail-system:domain": "rockylinux.me", "mail-system:users": "frank" });
    expect(validateConfig(raw, "dev").problems).toEqual([{ key: "mail-system:users", message: "must be a list" }]);
  });

  test("the defaults Pulumi.yaml declares read as unset keys do", () => {
    const declared = readRawConfig({
      "mail-system:target": "docker",
      "mail-system:hosts": "{}",
      "mail-system:sshPrivateKey": "",
      "mail-system:mailDomains": "[]",
      "mail-system:aliases": "[]",
      "mail-system:namePrefix": "",
      "mail-system:tlsCertificate": "",
      "mail-system:tlsPrivateKey": "",
      "mail-system:purgeMailOnDestroy": "false",
    });
    const minimal = { domain: "example.test", users: [{ email: "ann@example.test" }] };
    expect(validateConfig({ ...declared, ...minimal }, "s")).toEqual(validateConfig(minimal, "s"));
  });
});
