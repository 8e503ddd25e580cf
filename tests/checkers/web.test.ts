// The mail server's web server checked with the real nginx in the mail
// image: the rendered nginx.conf passes `nginx -t`, nginx runs as the
// program runs it (the supervisor, the mail role's capabilities, no new
// privileges, the unit's check and restart, a reload on a changed file), and
// curl fetches Thunderbird's autoconfig and posts Outlook's autodiscover
// request over HTTPS, verifying the certificate issued by the program's own
// script (MailCertificate with extra names) for each name. The container has
// no network (--network none): curl (the test machine's) runs in its
// network namespace, on its loopback.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { MAIL_NAMES_ISSUE_SCRIPT } from "../../components/mailCertificate";
import { MAIL_CAPABILITIES, WEB_SERVICE } from "../../components/mailServer";
import { autoconfigNames, MAIL_PORTS, mtaStsNames } from "../../components/render/mailRecords";
import { renderMtaStsPolicy } from "../../components/render/mtaSts";
import { RenderedFile } from "../../components/render/types";
import { renderWebFiles, WEB } from "../../components/render/web";
import { childText, elements, parseXml } from "../fixtures/xml";
import { buildImage, ServerContainer } from "./images";

const run = promisify(execFile);
const BUILD_TIMEOUT = 15 * 60_000;
const HOST = "mail.rockylinux.me";
const DOMAINS = ["mail.rockylinux.me", "rockylinux.me"];
// Served only after the reload test adds it (its names are in the certificate from the start).
const LATER = "new.rockylinux.me";
const TLS = { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" };
// The ports clients are offered: all but relaying (25) and ManageSieve.
const CLIENT_PORTS = Object.entries(MAIL_PORTS).filter(([k]) => k !== "smtp" && k !== "managesieve").map(([, p]) => p).sort();
// What Outlook posts (its request schema), the address the one thing that varies.
const OUTLOOK_REQUEST = [
  '<?xml version="1.0" encoding="utf-8"?>',
  '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">',
  "<Request><EMailAddress>frank@rockylinux.me</EMailAddress>",
  "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>",
  "</Request></Autodiscover>",
].join("");

// linux/capability.h's numbers of the capabilities the mail role keeps.
const CAPABILITY_NUMBERS: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_FOWNER: 3, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_NET_BIND_SERVICE: 10, CAP_SYS_CHROOT: 18,
};

// Served next to the autoconfiguration.
const MTA_STS = { mode: "enforce", maxAgeSeconds: 604800 } as const;
const files = (domains: readonly string[]): RenderedFile[] =>
  renderWebFiles({ hostname: HOST, mailDomains: domains, tls: TLS, container: true, family: "debian", mtaSts: MTA_STS });

let dir: string;
let caFile: string;
let certificate: RenderedFile[];
let server: ServerContainer;
let pid: string;

/** Fails with the step's output and the container's log. */
async function step(what: string, r: Promise<{ code: number; output: string }>): Promise<string> {
  const { code, output } = await r;
  if (code !== 0) throw new Error(`${what} failed (${code}):\n${output}\n--- container log:\n${await server.logs()}`);
  return output;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-check-web-"));
  // The certificate as MailCertificate issues it with autoconfig on.
  const extra = [...autoconfigNames([...DOMAINS, LATER]), ...mtaStsNames(DOMAINS)].map((n) => `DNS:${n}`).join(",");
  const issued = await run("sh", ["-c", MAIL_NAMES_ISSUE_SCRIPT], { env: { ...process.env, HOST, ADDRESS: "127.0.0.1", DAYS: "2", EXTRA_SANS: extra } });
  const pem = JSON.parse(issued.stdout) as { ca: string; certificate: string; key: string };
  caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(caFile, pem.ca);
  certificate = [
    { path: TLS.certificateFile, content: pem.certificate + pem.ca, owner: "root", group: "root", mode: "0644" },
    { path: TLS.keyFile, content: pem.key, owner: "root", group: "root", mode: "0600", secret: true },
  ];
  const image = await buildImage("mail");
  server = await ServerContainer.create(image, "mail", { services: [WEB_SERVICE] });
  // The program's steps but the health check (the mail daemons' ports): packages, files, the unit.
  await step("packages", server.packages());
  await step("files", server.writeFiles([...files(DOMAINS), ...certificate]));
  await step("services", server.startServices());
  pid = (await run("docker", ["inspect", "-f", "{{.State.Pid}}", server.name])).stdout.trim();
}, BUILD_TIMEOUT);

afterAll(async () => {
  await server?.remove();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * curl in the container's network namespace, the URL's name resolved to its
 * loopback and the certificate verified with the CA; `args` are curl's own.
 */
async function curl(url: string, args: readonly string[] = []): Promise<Reply> {
  const name = new URL(url).hostname;
  const { stdout } = await run(
    "nsenter",
    ["--target", pid, "--net", "curl", "-sS", "-i", "--max-time", "10", "--resolve", `${name}:443:127.0.0.1`, "--cacert", caFile, ...args, url],
    { timeout: 20_000 },
  );
  const at = stdout.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = stdout.slice(0, at).split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine.split(" ")[1]), headers, body: stdout.slice(at + 4) };
}

/** Thunderbird's request for `domain`'s settings. */
const autoconfig = (domain: string) => curl(`https://autoconfig.${domain}/mail/config-v1.1.xml?emailaddress=frank%40${domain}`);

test("nginx -t accepts the rendered configuration without a warning", async () => {
  const r = await server.exec("nginx -t; echo \"nginx -t: $?\"");
  expect(r.output).toMatch(/^nginx -t: 0$/m);
  expect(r.output).toContain("syntax is ok");
  expect(r.output).not.toMatch(/\[(warn|emerg|alert)\]/);
}, 60_000);

test("nginx runs as the program runs it: master root, workers www-data, listening on 443 alone, with the mail role's capabilities", async () => {
  const r = await server.exec(
    [
      'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = nginx ] || continue',
      "  echo \"proc $(awk '/^Uid:/{print $2}' $p/status) $(tr '\\0' ' ' < $p/cmdline)\"; done",
      // Listening TCP sockets (state 0A), local port in hex.
      "for f in /proc/net/tcp /proc/net/tcp6; do [ -r $f ] && tail -n +2 $f; done |",
      "  while read -r _ local _ state _; do [ \"$state\" = 0A ] && printf 'listen %d\\n' \"0x${local##*:}\"; done | sort -u",
      // The master's confinement: no new privileges, the mail role's capabilities alone.
      "m=$(cat /run/mail-system/nginx.pid); grep -E '^(NoNewPrivs|CapBnd):' /proc/$m/status",
    ].join("\n"),
  );
  expect(r.output).toMatch(/^proc 0 nginx: master process nginx -g daemon off;/m);
  expect(r.output).toMatch(/^proc 33 nginx: worker process/m);
  expect([...r.output.matchAll(/^listen (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([443]);
  expect(r.output).toMatch(/^NoNewPrivs:\s+1$/m);
  const mask = MAIL_CAPABILITIES.reduce((m, c) => m | (1n << BigInt(CAPABILITY_NUMBERS[c])), 0n);
  expect(/^CapBnd:\s+([0-9a-f]+)$/m.exec(r.output)?.[1]).toBe(mask.toString(16).padStart(16, "0"));
}, 60_000);

test.each(DOMAINS)("Thunderbird's request for %s: its clientConfig over verified HTTPS, every client port of MAIL_PORTS at the mail host", async (domain) => {
  const r = await autoconfig(domain);
  expect(r.status).toBe(200);
  expect(r.headers["content-type"]).toBe("application/xml");
  const root = parseXml(r.body);
  expect(elements(root, "domain").map((d) => d.text)).toEqual([domain]);
  const servers = [...elements(root, "incomingServer"), ...elements(root, "outgoingServer")];
  expect(new Set(servers.map((s) => childText(s, "hostname")))).toEqual(new Set([HOST]));
  expect(servers.map((s) => Number(childText(s, "port"))).sort()).toEqual(CLIENT_PORTS);
  expect(servers.map((s) => childText(s, "username"))).toEqual(servers.map(() => "%EMAILADDRESS%"));
  // No version in the reply.
  expect(r.headers.server).toBe("nginx");
}, 60_000);

test.each([
  `https://autodiscover.rockylinux.me/autodiscover/autodiscover.xml`,
  `https://autodiscover.mail.rockylinux.me/Autodiscover/Autodiscover.xml`,
  // The _autodiscover._tcp SRV record's target.
  `https://${HOST}/AutoDiscover/AutoDiscover.xml`,
])("Outlook's POST to %s: IMAP and SMTP with implicit TLS at the mail host", async (url) => {
  const r = await curl(url, ["-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", OUTLOOK_REQUEST]);
  expect(r.status).toBe(200);
  expect(r.headers["content-type"]).toBe("text/xml");
  const root = parseXml(r.body);
  expect(root.ns).toBe("http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006");
  expect(elements(root, "Protocol").map((p) => [childText(p, "Type"), childText(p, "Server"), Number(childText(p, "Port")), childText(p, "SSL")])).toEqual([
    ["IMAP", HOST, MAIL_PORTS.imaps, "on"],
    ["SMTP", HOST, MAIL_PORTS.smtps, "on"],
  ]);
  // A GET gets the same answer.
  expect((await curl(url)).body).toBe(r.body);
}, 60_000);

test.each([
  ["https://autoconfig.rockylinux.me/", []],
  ["https://autoconfig.rockylinux.me/mail/", []],
  ["https://autoconfig.rockylinux.me/mail/config-v1.1.xml.bak", []],
  ["https://autoconfig.rockylinux.me/autodiscover/other.xml", []],
  ["https://autoconfig.rockylinux.me/.well-known/mta-sts.txt", []],
  // Out of the served directory: nginx resolves the dots first.
  ["https://autoconfig.rockylinux.me/mail/config-v1.1.xml/../../nginx.conf", ["--path-as-is"]],
  // The mail host has no mail domain of its own to configure.
  [`https://${HOST}/mail/config-v1.1.xml`, []],
  // A name this server does not serve (TLS for a served one): the default server.
  ["https://autoconfig.rockylinux.me/mail/config-v1.1.xml", ["-H", "Host: www.rockylinux.me"]],
  ["https://autoconfig.rockylinux.me/mail/config-v1.1.xml", ["-H", "Host: autoconfig.other.example"]],
] as const)("everything else is 404: %s %j", async (url, args) => {
  const r = await curl(url, args);
  expect(r.status).toBe(404);
  expect(r.body).not.toContain("<clientConfig");
}, 60_000);

test("methods other than GET, HEAD and POST are refused", async () => {
  const r = await curl("https://autodiscover.rockylinux.me/autodiscover/autodiscover.xml", ["-X", "PUT", "--data-binary", "x"]);
  expect(r.status).toBe(403);
}, 60_000);

test("TLS 1.2 and 1.3 only; the certificate names every autoconfig name", async () => {
  const tls = (name: string, opts: string) =>
    `echo | openssl s_client -connect 127.0.0.1:443 -servername ${name} ${opts} -CAfile ${TLS.certificateFile} -verify_hostname ${name} -verify_return_error >/dev/null 2>&1; echo "${name} ${opts}: $?"`;
  const names = autoconfigNames(DOMAINS);
  const r = await server.exec([...names.map((n) => tls(n, "-tls1_2")), tls(HOST, "-tls1_3"), tls(names[0], "-tls1_1 -cipher DEFAULT@SECLEVEL=0")].join("\n"));
  for (const n of names) expect(r.output).toContain(`${n} -tls1_2: 0`);
  expect(r.output).toContain(`${HOST} -tls1_3: 0`);
  expect(r.output).toMatch(/-tls1_1 -cipher DEFAULT@SECLEVEL=0: [1-9]/);
}, 60_000);

test("a new mail domain: the files step rewrites nginx's files and its unit's update reloads it, the running nginx kept", async () => {
  const before = await autoconfig(LATER);
  expect(before.status).toBe(404);
  const master = async () => (await server.exec("cat /run/mail-system/nginx.pid")).output.trim();
  const pidBefore = await master();
  await step("files", server.writeFiles([...files([...DOMAINS, LATER]), ...certificate]));
  await step("reload", server.startServices("update"));
  // The reload is a signal: give the master a moment to start its new workers.
  let r = before;
  for (let i = 0; i < 20 && r.status !== 200; i++) {
    await new Promise((res) => setTimeout(res, 250));
    r = await autoconfig(LATER);
  }
  expect(r.status).toBe(200);
  expect(elements(parseXml(r.body), "domain").map((d) => d.text)).toEqual([LATER]);
  expect(await master()).toBe(pidBefore);
  expect(fs.existsSync(caFile)).toBe(true);
  expect((await server.exec(`test -f ${WEB.autoconfigDir}/${LATER}.xml && echo present`)).output).toContain("present");
}, 60_000);

test.each(DOMAINS)("a sender's request for %s's MTA-STS policy: the rendered policy, text/plain, over verified HTTPS; nothing else there", async (domain) => {
  const r = await curl(`https://mta-sts.${domain}/.well-known/mta-sts.txt`);
  expect([r.status, r.headers["content-type"]]).toEqual([200, "text/plain"]);
  expect(r.body).toBe(renderMtaStsPolicy(MTA_STS, HOST));
  expect((await curl(`https://mta-sts.${domain}/mail/config-v1.1.xml`)).status).toBe(404);
  expect((await curl(`https://autoconfig.${domain}/.well-known/mta-sts.txt`)).status).toBe(404);
}, 60_000);

test("requests are logged to the container's log", async () => {
  await autoconfig("rockylinux.me");
  expect(await server.logs()).toMatch(/"GET \/mail\/config-v1\.1\.xml\?emailaddress=frank%40rockylinux\.me HTTP\/1\.1" 200 /);
}, 60_000);
