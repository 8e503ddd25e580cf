// Rspamd's rendered configuration checked by Rspamd itself (Debian 12: 3.4)
// in the mail image with rspamd and redis-server: `rspamadm configtest`
// accepts it, and Redis and Rspamd started as the program would start them
// (foreground, as their own users) give each kind of message its verdict
// through the scanner's HTTP API (/checkv2, what the milter asks too). The
// container has no network (--network none): no DNS either, so SPF and
// DMARC cannot pass, which is what a forger from outside gets.
import { ALLOW_SCORE, DEFAULT_FILTERING, renderRspamdFiles, RSPAMD_MESSAGES, RspamdSettings } from "../../components/render/rspamd";
import { RenderedFile } from "../../components/render/types";
import { RSPAMD_CACHE } from "../../components/render/rspamdWarmup";
import { buildImage, runWithFiles } from "./images";

const BUILD_TIMEOUT = 15 * 60_000;
const SETTINGS: RspamdSettings = {
  filtering: { ...DEFAULT_FILTERING, allowDomains: ["friend.test"] },
  ownDomains: ["own.test", "mail.own.test"],
  logTo: "stdout",
};

// The commands the lead's supervisor runs (each verified here).
const START = [
  "install -d -o redis -g redis -m 2755 /run/redis",
  `setpriv --reuid=redis --regid=redis --init-groups redis-server /etc/redis/redis.conf --daemonize no --supervised no --logfile "" >/tmp/redis.log 2>&1 &`,
  "install -d -o _rspamd -g _rspamd -m 0755 /run/rspamd",
  // As Debian's unit runs it (User=_rspamd): no process of it keeps root.
  "setpriv --reuid=_rspamd --regid=_rspamd --init-groups rspamd -f >/tmp/rspamd.log 2>&1 &",
  // Bounded: Rspamd compiles its rules for a few seconds.
  "for i in $(seq 1 120); do python3 /tmp/check.py ping >/dev/null 2>&1 && break; sleep 0.5; done",
].join("\n");

// POSTs a message to the normal worker's /checkv2 with the SMTP facts as headers; prints the JSON answer.
const CHECK_PY = `
import json, sys, urllib.request
if sys.argv[1] == "ping":
    urllib.request.urlopen("http://127.0.0.1:11333/ping", timeout=2).read(); sys.exit(0)
name, path, ip, mail_from = sys.argv[1:5]
headers = {"IP": ip, "From": mail_from, "Rcpt": "leeo@own.test", "Helo": "mx.remote.test", "Hostname": "mx.remote.test"}
if len(sys.argv) > 5: headers["User"] = sys.argv[5]
req = urllib.request.Request("http://127.0.0.1:11333/checkv2", data=open(path, "rb").read(), headers=headers)
print("RESULT " + name + " " + json.dumps(json.load(urllib.request.urlopen(req, timeout=20))))
`;

const heredoc = (path: string, text: string) => `cat > ${path} <<'EOF_${path.replace(/\W/g, "")}'\n${text}\nEOF_${path.replace(/\W/g, "")}`;
const msg = (headers: string[], body: string) => `${headers.join("\n")}\n\n${body}\n`;
const MESSAGES: Record<string, string> = {
  clean: msg(["From: Alice <a@remote.test>", "To: Leeo <leeo@own.test>", "Subject: lunch", "Message-ID: <1@remote.test>", "Date: DATE"], "Hello there, lunch tomorrow?"),
  // Planted verdicts: Rspamd scores an incoming X-Spam: Yes (SPAM_FLAG, 5),
  // which puts this message between 4 (Rspamd's own greylist score) and
  // junkScore; the milter must remove all three headers.
  planted: msg(
    ["From: Alice <a@remote.test>", "To: Leeo <leeo@own.test>", "Subject: lunch", "Message-ID: <2@remote.test>", "Date: DATE", "X-Spam: Yes", "X-Spam-Status: No, score=-99", "Authentication-Results: own.test; dmarc=pass"],
    "Hello there, lunch tomorrow?",
  ),
  gtube: msg(["From: a@remote.test", "To: leeo@own.test", "Subject: test"], "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"),
  // Scores about 11 on content alone (no date, no Message-ID, all-caps subject, link to an IP, ...).
  spammy: msg(
    ["From: a@remote.test", "To: undisclosed-recipients:;", "Subject: FREE MONEY NOW!!! CLICK HERE", "Content-Type: text/html"],
    '<html><body><a href="http://203.0.113.9/x">CLICK</a> <b>WIN $$$ FREE</b></body></html>',
  ),
  ownFrom: msg(["From: Frank <Frank@OWN.test>", "To: leeo@own.test", "Subject: lunch", "Message-ID: <3@own.test>", "Date: DATE"], "Hello there, lunch tomorrow?"),
  friend: msg(["From: x@friend.test", "To: leeo@own.test", "Subject: lunch", "Message-ID: <4@friend.test>", "Date: DATE"], "Hello there, lunch tomorrow?"),
};
const REMOTE = "203.0.113.5";
// [name, message, client IP, envelope sender, SMTP login]
const CASES: readonly (readonly [string, string, string, string, string?])[] = [
  ["clean", "clean", REMOTE, "a@remote.test"],
  ["planted", "planted", REMOTE, "a@remote.test"],
  ["gtube", "gtube", REMOTE, "a@remote.test"],
  ["spammy", "spammy", REMOTE, "a@remote.test"],
  ["forgedFrom", "ownFrom", REMOTE, "a@remote.test"],
  ["forgedEnvelope", "clean", REMOTE, "frank@own.test"],
  // A Docker network's address: Rspamd counts private ranges as local by default.
  ["forgedFromPrivateNet", "ownFrom", "172.18.0.5", "frank@own.test"],
  ["authenticated", "ownFrom", REMOTE, "frank@own.test", "frank@own.test"],
  ["loopback", "ownFrom", "127.0.0.1", "frank@own.test"],
  ["friendUnauthenticated", "friend", REMOTE, "x@friend.test"],
];

interface CheckV2 {
  action: string;
  score: number;
  symbols: Record<string, { score: number; options?: string[] }>;
  messages?: { smtp_message?: string };
  milter?: { add_headers?: Record<string, unknown>; remove_headers?: Record<string, number> };
}

/** Starts Redis and Rspamd on `files`, scans every case; returns each answer, the configtest output and the logs. */
async function scanAll(files: readonly RenderedFile[]): Promise<{ results: Record<string, CheckV2>; output: string }> {
  const script = [
    heredoc("/tmp/check.py", CHECK_PY),
    ...Object.entries(MESSAGES).map(([name, text]) => heredoc(`/tmp/${name}.eml`, text)),
    `sed -i "s/^Date: DATE$/Date: $(date -R)/" /tmp/*.eml`,
    'rspamadm configtest; echo "configtest: $?"',
    START,
    ...CASES.map(([name, message, ip, from, user]) => `python3 /tmp/check.py ${name} /tmp/${message}.eml ${ip} ${from} ${user ?? ""}`),
    'for p in /proc/[0-9]*; do echo "PROC $(stat -c %U $p) $(cat $p/comm)"; done',
    // Listening TCP sockets (state 0A), address:port in hex.
    "awk '$4 == \"0A\" { print \"LISTEN \" $2 }' /proc/net/tcp /proc/net/tcp6",
    "echo '--- rspamd log'; cat /tmp/rspamd.log; echo '--- redis log'; cat /tmp/redis.log",
  ].join("\n");
  const r = await runWithFiles(await buildImage("mail"), files, script);
  const results: Record<string, CheckV2> = {};
  for (const m of r.output.matchAll(/^RESULT (\w+) (.*)$/gm)) results[m[1]] = JSON.parse(m[2]) as CheckV2;
  return { results, output: r.output };
}

beforeAll(async () => {
  await buildImage("mail");
}, BUILD_TIMEOUT);

test("rspamadm configtest accepts every variant: container and host logging, greylisting on, an allow list, name servers of its own", async () => {
  const variants: RspamdSettings[] = [
    SETTINGS,
    { ...SETTINGS, logTo: "syslog", filtering: { ...DEFAULT_FILTERING, greylisting: true, allowDomains: ["a.test", "b.test"] } },
    { ...SETTINGS, nameservers: ["10.1.2.7", "10.1.2.8"] },
  ];
  for (const v of variants) {
    const r = await runWithFiles(await buildImage("mail"), renderRspamdFiles(v), 'rspamadm configtest; echo "configtest: $?"; rspamadm configdump options');
    expect(r.output).toMatch(/^syntax OK$/m);
    expect(r.output).toMatch(/^configtest: 0$/m);
    // The name servers Rspamd will use: the given ones, else none configured (/etc/resolv.conf's).
    const configured = /\bnameserver\s*\[([^\]]*)\]/.exec(r.output)?.[1].match(/\d+\.\d+\.\d+\.\d+/g) ?? [];
    expect(configured).toEqual(v.nameservers ?? []);
  }
}, 240_000);

test("the mail image holds Rspamd's compiled rules (its user's) and nothing else of the warm-up", async () => {
  const r = await runWithFiles(
    await buildImage("mail"),
    [],
    [
      `echo "compiled $(find ${RSPAMD_CACHE.dir} -name '*.hsmp' | wc -l) $(find ${RSPAMD_CACHE.dir} -name '*.hs' | wc -l)"`,
      `echo "not its user's: $(find ${RSPAMD_CACHE.dir} -mindepth 1 ! -user _rspamd | wc -l)"`,
      `echo "other files: $(find ${RSPAMD_CACHE.dir} -mindepth 1 ! \\( -name '*.hs' -o -name '*.hs.unser' -o -name '*.hsmp' -o -name '*.hsmc' \\) | wc -l)"`,
      'echo "configuration: $(find /etc/rspamd/local.d /etc/rspamd/override.d -type f | wc -l)"',
      'echo "left: $(find /run/rspamd /var/log/rspamd -mindepth 1 2>/dev/null | wc -l)"',
    ].join("\n"),
  );
  const [, hsmp, hs] = /^compiled (\d+) (\d+)$/m.exec(r.output) ?? [];
  expect([Number(hsmp) > 0, Number(hs) > 0]).toEqual([true, true]);
  expect(r.output).toMatch(/^not its user's: 0$/m);
  expect(r.output).toMatch(/^other files: 0$/m);
  expect(r.output).toMatch(/^configuration: 0$/m);
  expect(r.output).toMatch(/^left: 0$/m);
}, 120_000);

test("on the rendered files Rspamd's milter takes connections sooner with the image's compiled rules than with an empty cache", async () => {
  // Milliseconds from Rspamd's start until its milter takes a connection (bounded: 600 tries).
  const timed = (prepare: string) => [
    prepare,
    "install -d -o _rspamd -g _rspamd -m 0755 /run/rspamd",
    "s=$(date +%s%N); setpriv --reuid=_rspamd --regid=_rspamd --init-groups rspamd -f >/tmp/rspamd.log 2>&1 & p=$!",
    `for i in $(seq 1 600); do python3 -c 'import socket; socket.create_connection(("127.0.0.1", 11332), 1)' 2>/dev/null && break; sleep 0.1; done`,
    'echo "milter after $(( ($(date +%s%N) - s) / 1000000 )) ms"; kill $p; wait $p || true',
  ].join("\n");
  const image = await buildImage("mail");
  const files = renderRspamdFiles(SETTINGS);
  const warm = await runWithFiles(image, files, timed(":"));
  const cold = await runWithFiles(image, files, timed(`rm -rf ${RSPAMD_CACHE.dir}/*`));
  const ms = (o: string) => Number(/^milter after (\d+) ms$/m.exec(o)?.[1]);
  process.stderr.write(`rspamd: milter after ${ms(warm.output)} ms with the image's compiled rules, ${ms(cold.output)} ms with an empty cache\n`);
  expect(ms(warm.output) * 2).toBeLessThan(ms(cold.output));
}, 240_000);

describe("Redis and Rspamd running on the rendered files", () => {
  let results: Record<string, CheckV2>;
  let output: string;
  beforeAll(async () => {
    ({ results, output } = await scanAll(renderRspamdFiles(SETTINGS)));
    if (Object.keys(results).length !== CASES.length) throw new Error(`not every case was scanned:\n${output}`);
  }, 180_000);

  test("configtest passes and both daemons start in the foreground as their own users", () => {
    expect(output).toMatch(/^configtest: 0$/m);
    expect(output).toMatch(/Ready to accept connections/);
    expect(output).toMatch(/^PROC redis redis-server$/m);
    expect(output).toMatch(/^PROC _rspamd rspamd$/m);
    expect(output).not.toMatch(/^PROC root (redis|rspamd)/m);
  });

  test("every listening socket is on 127.0.0.1: the milter 11332, the scanner 11333, the controller 11334, Redis 6379", () => {
    const listening = [...output.matchAll(/^LISTEN (\w+):(\w+)$/gm)].map(([, addr, port]) => `${addr}:${parseInt(port, 16)}`).sort();
    // 0100007F is 127.0.0.1 (little-endian hex).
    expect(listening).toEqual(["0100007F:11332", "0100007F:11333", "0100007F:11334", "0100007F:6379"]);
  });

  test("GTUBE is refused", () => {
    expect(results.gtube.action).toBe("reject");
    expect(results.gtube.symbols).toHaveProperty("GTUBE");
  });

  test("a clean message from outside: no action, with Authentication-Results and the score headers", () => {
    const r = results.clean;
    expect(r.action).toBe("no action");
    expect(r.score).toBeLessThan(DEFAULT_FILTERING.junkScore);
    // SPF and DKIM were checked (no DNS here: SPF cannot resolve, no signature).
    expect(r.symbols).toHaveProperty("R_SPF_DNSFAIL");
    expect(r.symbols).toHaveProperty("R_DKIM_NA");
    const added = Object.keys(r.milter?.add_headers ?? {});
    for (const h of ["Authentication-Results", "X-Spamd-Result", "X-Spam-Status"]) expect(added).toContain(h);
    expect(String(JSON.stringify(r.milter?.add_headers?.["X-Spam-Status"]))).toMatch(/No, score=/);
  });

  test("between Rspamd's greylist score and junkScore with greylisting off: no action; planted verdicts are removed", () => {
    const r = results.planted;
    expect(r.score).toBeGreaterThanOrEqual(4);
    expect(r.score).toBeLessThan(DEFAULT_FILTERING.junkScore);
    expect(r.action).toBe("no action");
    expect(r.milter?.remove_headers).toMatchObject({ "X-Spam": 0, "X-Spam-Status": 0, "Authentication-Results": 0 });
  });

  test("a score between junkScore and rejectScore: add header (X-Spam-Status: Yes)", () => {
    const r = results.spammy;
    expect(r.score).toBeGreaterThanOrEqual(DEFAULT_FILTERING.junkScore);
    expect(r.score).toBeLessThan(DEFAULT_FILTERING.rejectScore);
    expect(r.action).toBe("add header");
    expect(String(JSON.stringify(r.milter?.add_headers?.["X-Spam-Status"]))).toMatch(/Yes, score=/);
    // One star a point (none below 1, so the clean message has none).
    expect(String(JSON.stringify(r.milter?.add_headers?.["X-Spam-Level"]))).toMatch(/\*{11}/);
  });

  test("an own-domain sender from outside without SPF/DMARC is refused with the reason, From or envelope, from any network", () => {
    for (const name of ["forgedFrom", "forgedEnvelope", "forgedFromPrivateNet"]) {
      const r = results[name];
      expect({ name, action: r.action }).toEqual({ name, action: "reject" });
      expect(r.symbols).toHaveProperty("FORCE_ACTION_FORGED_OWN_DOMAIN");
      expect(r.messages?.smtp_message).toBe(RSPAMD_MESSAGES.forged);
    }
    expect(results.forgedFrom.symbols).toHaveProperty("OWN_DOMAIN_FROM");
    expect(results.forgedEnvelope.symbols).toHaveProperty("OWN_DOMAIN_ENVFROM");
  });

  test("the same message from a logged-in user or from loopback is not refused", () => {
    for (const name of ["authenticated", "loopback"]) {
      const r = results[name];
      expect({ name, action: r.action }).toEqual({ name, action: "no action" });
      expect(r.symbols).not.toHaveProperty("OWN_DOMAIN_FROM");
      expect(r.symbols).not.toHaveProperty("FORCE_ACTION_FORGED_OWN_DOMAIN");
    }
  });

  test("an allow-listed domain that SPF/DMARC do not authenticate gets no bonus", () => {
    const r = results.friendUnauthenticated;
    expect(r.symbols).toHaveProperty("ALLOWED_DOMAIN_FROM");
    expect(r.symbols).not.toHaveProperty("ALLOWED_SENDER");
    expect(r.score).toBeGreaterThan(ALLOW_SCORE / 2);
  });

  test("the log has the scan lines and no error", () => {
    const log = output.slice(output.indexOf("--- rspamd log"));
    expect(log).toMatch(/rspamd_task_write_log: id: <1@remote\.test>/);
    // One line per message, not a second with the regexp cache's statistics.
    expect(log).not.toMatch(/regexp statistics/);
    expect(log).not.toMatch(/bad search filter|cannot add dependency|cannot load map|error/i);
  });
});

describe("nothing reaches the internet", () => {
  // Info-level logging for this check only: Rspamd then logs every map it
  // adds and every list it queries at start-up.
  const INFO_LOG: RenderedFile = {
    path: "/etc/rspamd/override.d/logging.inc",
    content: 'type = "console";\nlevel = "info";\n',
    owner: "root",
    group: "_rspamd",
    mode: "0640",
  };
  // What Rspamd 3.4's stock configuration reaches: https maps, fuzzy and ASN servers, DNS lists.
  const INTERNET = /added map https?:\/\/|rspamd\.com|added rbl rule|init internal fuzzy_check module, [1-9]/;
  const startLog = async (files: readonly RenderedFile[]) =>
    (await runWithFiles(await buildImage("mail"), [...files, INFO_LOG], `${heredoc("/tmp/check.py", CHECK_PY)}\n${START}\ncat /tmp/rspamd.log`)).output;

  test("Rspamd's stock configuration does (the check below can fail)", async () => {
    expect(await startLog([])).toMatch(INTERNET);
  }, 120_000);

  test("the rendered configuration adds no remote map and starts no DNS list, fuzzy or ASN lookup", async () => {
    const log = await startLog(renderRspamdFiles({ ...SETTINGS, filtering: { ...SETTINGS.filtering, greylisting: true } }));
    expect(log).toMatch(/rspamd_map_add: added map .*own-domains\.map/);
    const lines = log.split("\n").filter((l) => INTERNET.test(l));
    expect(lines).toEqual([]);
  }, 120_000);
});
