// The Rspamd renderer: which files, owners and modes, what each says, and
// the validation of mail-system:filtering. Rspamd itself checks the files in
// tests/checkers/rspamd.test.ts.
import {
  ALLOW_SCORE,
  DEFAULT_FILTERING,
  filteringProblems,
  greylistScore,
  renderRspamdFiles,
  RSPAMD,
  RSPAMD_DISABLED_MODULES,
  RSPAMD_MAPS,
  RSPAMD_MESSAGES,
  RspamdSettings,
} from "../../components/render/rspamd";

const SETTINGS: RspamdSettings = { filtering: DEFAULT_FILTERING, ownDomains: ["rockylinux.me", "mail.rockylinux.me"], logTo: "stdout" };
const render = (s: Partial<RspamdSettings> = {}, f: Partial<RspamdSettings["filtering"]> = {}) => {
  const files = renderRspamdFiles({ ...SETTINGS, ...s, filtering: { ...SETTINGS.filtering, ...f } });
  const byPath = new Map(files.map((file) => [file.path, file]));
  return { files, get: (p: string) => byPath.get(p)?.content ?? fail(`no ${p} among ${[...byPath.keys()].join(", ")}`) };
};
function fail(message: string): never {
  throw new Error(message);
}
// Non-comment lines, trimmed.
const settingLines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

describe("renderRspamdFiles", () => {
  const { files, get } = render();

  test("every file is under /etc/rspamd/local.d or override.d, root:_rspamd 0640, no secret, no duplicate path", () => {
    for (const f of files) {
      expect(f.path).toMatch(/^\/etc\/rspamd\/(local|override)\.d\/[a-z0-9_.\-/]+$/);
      expect(f).toMatchObject({ owner: "root", group: "_rspamd", mode: "0640" });
      expect(f.secret).toBeUndefined();
      expect(f.content.endsWith("\n")).toBe(true);
      expect(f.content).not.toMatch(/\{\{/);
    }
    expect(new Set(files.map((f) => f.path)).size).toBe(files.length);
  });

  test("the milter, the scanner and the controller listen on loopback only; Redis is on loopback", () => {
    expect(RSPAMD.milter).toBe("inet:127.0.0.1:11332");
    const proxy = settingLines(get("/etc/rspamd/override.d/worker-proxy.inc"));
    expect(proxy).toEqual(expect.arrayContaining(['bind_socket = "127.0.0.1:11332";', "milter = yes;", "self_scan = yes;", 'spam_header = "X-Spam";']));
    expect(proxy).toContain(`reject_message = "${RSPAMD_MESSAGES.spam}";`);
    expect(settingLines(get("/etc/rspamd/override.d/worker-normal.inc"))).toContain('bind_socket = "127.0.0.1:11333";');
    const controller = settingLines(get("/etc/rspamd/override.d/worker-controller.inc"));
    expect(controller).toContain('bind_socket = "127.0.0.1:11334";');
    expect(controller.filter((l) => l.startsWith("bind_socket"))).toHaveLength(1);
    for (const f of files) expect(f.content).not.toMatch(/bind_socket = "(?!127\.0\.0\.1:)/);
    expect(settingLines(get("/etc/rspamd/local.d/redis.conf"))).toEqual(['servers = "127.0.0.1:6379";']);
  });

  test("only loopback is local (SPF and DMARC are checked for private networks too)", () => {
    expect(settingLines(get("/etc/rspamd/override.d/options.inc"))).toEqual(["local_addrs = [127.0.0.0/8, ::1];"]);
  });

  test("name servers: the system's resolver unless given; given, Rspamd asks them directly; anything but IPv4 addresses is refused", () => {
    expect(get("/etc/rspamd/override.d/options.inc")).not.toMatch(/dns|nameserver/);
    const given = render({ nameservers: ["10.1.2.7", "10.1.2.8"] }).get("/etc/rspamd/override.d/options.inc");
    expect(settingLines(given)).toEqual(["local_addrs = [127.0.0.0/8, ::1];", "dns {", 'nameserver = ["10.1.2.7", "10.1.2.8"];', "}"]);
    for (const bad of ["10.1.2", "ns.example.org", '1.2.3.4"; x = "', "::1"]) {
      expect(() => render({ nameservers: [bad] })).toThrow(/nameserver .* is not an IPv4 address/);
    }
  });

  test("Bayes in Redis without autolearn", () => {
    expect(settingLines(get("/etc/rspamd/local.d/classifier-bayes.conf"))).toEqual(['backend = "redis";', "autolearn = false;"]);
  });

  test("actions: reject at rejectScore, add header at junkScore, no greylist or subject rewrite by default", () => {
    expect(settingLines(get("/etc/rspamd/override.d/actions.conf"))).toEqual(["reject = 15;", "add_header = 6;", "greylist = null;", "rewrite_subject = null;"]);
    expect(settingLines(get("/etc/rspamd/local.d/greylist.conf"))).toEqual(["enabled = false;"]);
    const custom = render({}, { rejectScore: 20, junkScore: 7.5 }).get("/etc/rspamd/override.d/actions.conf");
    expect(settingLines(custom).slice(0, 2)).toEqual(["reject = 20;", "add_header = 7.5;"]);
  });

  test("greylisting on: the module and the greylist action at two thirds of junkScore", () => {
    const { get: g } = render({}, { greylisting: true });
    expect(settingLines(g("/etc/rspamd/local.d/greylist.conf"))).toEqual(["enabled = true;"]);
    expect(settingLines(g("/etc/rspamd/override.d/actions.conf"))).toContain("greylist = 4;");
    expect(greylistScore({ ...DEFAULT_FILTERING, junkScore: 5 })).toBe(3.3);
  });

  test("milter headers: Authentication-Results and the score headers, for logged-in users only Authentication-Results", () => {
    const mh = settingLines(get("/etc/rspamd/local.d/milter_headers.conf"));
    expect(mh).toContain("extended_spam_headers = true;");
    expect(mh).toContain('authenticated_headers = ["authentication-results"];');
    const use = mh.find((l) => l.startsWith("use = "))!;
    for (const r of ["authentication-results", "x-spam-status", "x-spamd-result", "x-spam-level", "remove-spam-flag"]) expect(use).toContain(`"${r}"`);
  });

  test("DMARC: p=reject refuses, p=quarantine adds the spam headers", () => {
    const dmarc = settingLines(get("/etc/rspamd/local.d/dmarc.conf"));
    expect(dmarc).toEqual(expect.arrayContaining(['reject = "reject";', 'quarantine = "add header";']));
  });

  test("own domains: a map of them, symbols on envelope and From, refused without our SPF / DMARC pass, except logged-in users and loopback", () => {
    expect(get(RSPAMD_MAPS.ownDomains)).toMatch(/^mail\.rockylinux\.me\nrockylinux\.me\n$/m);
    const mm = get("/etc/rspamd/local.d/multimap.conf");
    expect(mm).toMatch(/OWN_DOMAIN_ENVFROM \{\s*type = "from";\s*filter = "email:domain";\s*map = "\/etc\/rspamd\/local\.d\/maps\.d\/own-domains\.map";/);
    expect(mm).toMatch(/OWN_DOMAIN_FROM \{\s*type = "header";\s*header = "From";\s*filter = "email:domain";\s*map = "\/etc\/rspamd\/local\.d\/maps\.d\/own-domains\.map";/);
    const fa = get("/etc/rspamd/local.d/force_actions.conf");
    expect(fa).toContain('expression = "(OWN_DOMAIN_ENVFROM & !R_SPF_ALLOW) | (OWN_DOMAIN_FROM & !DMARC_POLICY_ALLOW)";');
    expect(fa).toContain('action = "reject";');
    expect(fa).toContain(`message = "${RSPAMD_MESSAGES.forged}";`);
    // The sender domain's p=reject, with a reply that names it.
    expect(fa).toMatch(/DMARC_REJECTED \{\s*action = "reject";\s*expression = "DMARC_POLICY_REJECT";/);
    expect(fa).toContain(`message = "${RSPAMD_MESSAGES.dmarc}";`);
    const st = get("/etc/rspamd/local.d/settings.conf");
    expect(st).toMatch(/authenticated = true;\s*apply \{\s*symbols_disabled = \["OWN_DOMAIN_ENVFROM", "OWN_DOMAIN_FROM"\];/);
    expect(st).toMatch(/ip = \["127\.0\.0\.0\/8", "::1"\];\s*apply \{\s*symbols_disabled = \["OWN_DOMAIN_ENVFROM", "OWN_DOMAIN_FROM"\];/);
  });

  test("allow list: the domains in a map, a strongly negative score only with SPF (envelope) or DMARC (From) for them", () => {
    const { get: g } = render({}, { allowDomains: ["friend.example", "b.example"] });
    expect(g(RSPAMD_MAPS.allowDomains)).toMatch(/^b\.example\nfriend\.example\n$/m);
    expect(get(RSPAMD_MAPS.allowDomains)).not.toMatch(/^[a-z]/m);
    const comp = g("/etc/rspamd/local.d/composites.conf");
    expect(comp).toContain('expression = "(ALLOWED_DOMAIN_ENVFROM & R_SPF_ALLOW) | (ALLOWED_DOMAIN_FROM & DMARC_POLICY_ALLOW)";');
    expect(comp).toContain(`score = ${ALLOW_SCORE.toFixed(1)};`);
    expect(ALLOW_SCORE).toBeLessThanOrEqual(-100);
    expect(comp).not.toMatch(/expression = .*R_DKIM_ALLOW/);
  });

  test("nothing that needs the internet: the modules that reach it are off, the stock maps read locally", () => {
    for (const module of ["rbl", "fuzzy_check", "asn", "whitelist", "url_redirector", "dkim_signing"]) {
      expect(RSPAMD_DISABLED_MODULES).toHaveProperty(module);
      expect(settingLines(get(`/etc/rspamd/local.d/${module}.conf`))).toEqual(["enabled = false;"]);
      expect(get(`/etc/rspamd/local.d/${module}.conf`)).toMatch(/^# Off: .+/m);
    }
    for (const f of files) expect(settingLines(f.content).join("\n")).not.toMatch(/https?:\/\/|rspamd\.com/);
    expect(settingLines(get("/etc/rspamd/override.d/phishing.conf"))).toEqual(
      expect.arrayContaining(["phishtank_enabled = false;", "openphish_enabled = false;"]),
    );
    const freemail = get("/etc/rspamd/override.d/multimap.conf");
    for (const kind of ["freemail", "disposable"]) {
      for (const rule of ["envfrom", "envrcpt", "from", "to", "cc", "replyto"]) expect(freemail).toMatch(new RegExp(`^${kind}_${rule} \\{`, "m"));
    }
    expect(freemail.match(/map = "([^"]+)"/g)?.every((m) => m.includes("/etc/rspamd/local.d/maps.d/"))).toBe(true);
  });

  test("logging: the console in a container, syslog (mail) on a host, at notice, without the per-message regexp statistics", () => {
    expect(settingLines(get("/etc/rspamd/local.d/logging.inc"))).toEqual(['type = "console";', 'level = "notice";', "log_re_cache = false;"]);
    expect(settingLines(render({ logTo: "syslog" }).get("/etc/rspamd/local.d/logging.inc"))).toEqual([
      'type = "syslog";',
      'facility = "mail";',
      'level = "notice";',
      "log_re_cache = false;",
    ]);
  });

  test("refuses invalid settings", () => {
    expect(() => render({ ownDomains: [] })).toThrow(/no own domain/);
    expect(() => render({ ownDomains: ["Own.Test"] })).toThrow(/own domain "Own.Test"/);
    expect(() => render({}, { junkScore: 20 })).toThrow(/filtering\.junkScore: must be below rejectScore/);
  });
});

describe("filteringProblems", () => {
  test("the defaults and a full valid value have none", () => {
    expect(filteringProblems(DEFAULT_FILTERING)).toEqual([]);
    expect(filteringProblems({ rejectScore: 30, junkScore: 4.5, greylisting: true, allowDomains: ["a.example", "mail.b.example"] })).toEqual([]);
    expect(filteringProblems({})).toEqual([]);
  });

  test("numbers greater than 0, at most the allow score's size, junk below reject", () => {
    expect(filteringProblems({ rejectScore: 0 })).toEqual([{ field: "rejectScore", message: expect.stringMatching(/greater than 0/) }]);
    expect(filteringProblems({ junkScore: "6" })).toEqual([{ field: "junkScore", message: expect.stringMatching(/number greater than 0, not "6"/) }]);
    expect(filteringProblems({ rejectScore: NaN }).map((p) => p.field)).toEqual(["rejectScore"]);
    expect(filteringProblems({ rejectScore: 150, junkScore: 6 })).toEqual([{ field: "rejectScore", message: expect.stringMatching(/at most 100/) }]);
    expect(filteringProblems({ rejectScore: 6, junkScore: 6 })).toEqual([{ field: "junkScore", message: "must be below rejectScore (6), not 6" }]);
    // Against the default rejectScore when only junkScore is given.
    expect(filteringProblems({ junkScore: 16 })).toEqual([{ field: "junkScore", message: "must be below rejectScore (15), not 16" }]);
  });

  test("greylisting a boolean; unknown fields named", () => {
    expect(filteringProblems({ greylisting: "yes" })).toEqual([{ field: "greylisting", message: 'must be true or false, not "yes"' }]);
    expect(filteringProblems({ rejectscore: 10 })).toEqual([{ field: "rejectscore", message: expect.stringMatching(/unknown field/) }]);
  });

  test("allowDomains: a list of lower-case domain names, each once, the bad one named by index", () => {
    expect(filteringProblems({ allowDomains: "a.example" })).toEqual([{ field: "allowDomains", message: "must be a list of domains" }]);
    expect(filteringProblems({ allowDomains: ["a.example", "localhost", "B.example", "a.example", 7, "1.2.3.4"] })).toEqual([
      { field: "allowDomains[1]", message: '"localhost" is not a domain name' },
      { field: "allowDomains[2]", message: '"B.example" must be lower-case (b.example)' },
      { field: "allowDomains[3]", message: "a.example is listed twice" },
      { field: "allowDomains[4]", message: "7 is not a domain name" },
      { field: "allowDomains[5]", message: '"1.2.3.4" is not a domain name' },
    ]);
  });
});
