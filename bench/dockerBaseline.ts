// The baseline of deploy time: the same three servers as the Pulumi program,
// with the same images, addresses, files (rendered by the project's own pure
// renderers), volumes, health checks and rows, made with plain `docker`
// commands and no Pulumi, then the same SMTP-to-IMAP round trip
// (files/check/roundtrip.js). Independent steps run in parallel, as a careful
// hand-written script would.
import { execFile, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sha512Crypt } from "../components/passwordHash";
import { PACKAGES } from "../components/packages";
import { bindPaths, renderBindFiles } from "../components/render/bind";
import { renderDbServerFiles } from "../components/render/dbServer";
import { renderDovecotFiles } from "../components/render/dovecot";
import { MAIL_SCHEMA_SQL, sqlString, upsertAliasSql, upsertDomainSql, upsertUserSql } from "../components/render/mailSql";
import { dkimPublicKey, dkimTxtValue, opendkimMilter, renderOpendkimFiles } from "../components/render/opendkim";
import { renderPostfixFiles } from "../components/render/postfix";
import { FILES_DIR } from "../components/render/template";
import { DnsRecord, RenderedFile } from "../components/render/types";
import { docker, note, sh, waitHealthy } from "./common";
import { DevShape, labAddresses } from "./devConfig";
import { firstFileOf, tarOf } from "./tar";

const LABEL = "mail-system.stack";
const TLS = { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" };

/** Runs docker with `input` on stdin. */
function dockerWithInput(args: string[], input: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(" ")}: ${err}`))));
    p.stdin.end(input);
  });
}

/** docker's binary stdout (a tar from `docker cp CONTAINER:PATH -`). */
function dockerBytes(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile("docker", args, { encoding: "buffer", maxBuffer: 16 << 20 }, (e, out) => (e ? reject(e) : resolve(out))),
  );
}

const alnum = (n: number) => {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.randomBytes(n), (b) => chars[b % chars.length]).join("");
};

/** A per-run CA and server certificate, as MailCertificate issues them. */
async function issueCertificate(host: string, address: string): Promise<{ ca: string; certificate: string; key: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-ca-"));
  try {
    const script = `set -eu; cd "$1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/O=mail-system/CN=mail-system CA for $2" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout key.pem -out req.csr 2>/dev/null
printf 'subjectAltName=DNS:%s,IP:%s\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' "$2" "$3" > ext.cnf
openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -extfile ext.cnf -out cert.pem 2>/dev/null`;
    await sh("bash", ["-c", script, "issue", dir, host, address]);
    const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
    return { ca: read("ca.pem"), certificate: read("cert.pem"), key: read("key.pem") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The zone's records for the mail server, as MailServer publishes them. */
function mailRecords(zone: string, domains: string[], mailAddress: string, dkim: { domain: string; publicKey: string }[]): DnsRecord[] {
  const host = `mail.${zone}`;
  const rel = (d: string) => (d === zone ? "@" : d.slice(0, -(zone.length + 1)));
  const under = (p: string, d: string) => (d === zone ? p : `${p}.${rel(d)}`);
  const srv: [string, number, number][] = [
    ["_submissions._tcp", 465, 0], ["_submission._tcp", 587, 10], ["_imaps._tcp", 993, 0],
    ["_imap._tcp", 143, 10], ["_pop3s._tcp", 995, 0], ["_pop3._tcp", 110, 10],
  ];
  return [
    { name: "mail", type: "A", value: mailAddress },
    ...domains.flatMap((d): DnsRecord[] => [
      { name: rel(d), type: "MX", value: `${host}.`, priority: 2 },
      ...srv.map(([s, port, priority]): DnsRecord => ({ name: under(s, d), type: "SRV", value: `1 ${port} ${host}.`, priority })),
      { name: rel(d), type: "TXT", value: "v=spf1 mx -all" },
      { name: under("_dmarc", d), type: "TXT", value: `v=DMARC1; p=quarantine; rua=mailto:postmaster@${zone}` },
      ...dkim.filter((k) => k.domain === d).map((k): DnsRecord => ({ name: under("mail._domainkey", d), type: "TXT", value: dkimTxtValue(k.publicKey) })),
    ]),
  ];
}

/** The build arguments DockerTarget passes: the base image and the role's Debian packages. */
export function buildArgs(role: string, baseImage: string): string[] {
  const packages = PACKAGES[role as keyof typeof PACKAGES].debian.flat().join(" ");
  return ["--build-arg", `BASE_IMAGE=${baseImage}`, "--build-arg", `PACKAGES=${packages}`];
}

/** Numeric ids of the names in /etc/passwd or /etc/group of a created (not started) container. */
async function idsOf(container: string, file: "/etc/passwd" | "/etc/group"): Promise<Map<string, number>> {
  const text = firstFileOf(await dockerBytes(["cp", `${container}:${file}`, "-"]));
  return new Map(text.split("\n").filter(Boolean).map((l) => [l.split(":")[0], Number(l.split(":")[2])]));
}

/** Creates a container like DockerServer does, uploads its files with their owners and modes, starts it and waits for health. */
async function runServer(o: {
  prefix: string; role: string; network: string; address: string; dns: string; image: string;
  env?: string[]; volume?: { name: string; path: string }; health: string; files: RenderedFile[];
}): Promise<string> {
  const name = `${o.prefix}-${o.role}`;
  const args = [
    "create", "--name", name, "--hostname", o.role, "--network", o.network, "--ip", o.address, "--dns", o.dns,
    "--health-cmd", o.health, "--health-interval", "5s", "--health-timeout", "5s", "--health-start-period", "2s",
    "--health-retries", "6", "--restart", "unless-stopped", "--label", `${LABEL}=${o.prefix}`,
    ...(o.env ?? []).flatMap((e) => ["--env", e]),
    ...(o.volume ? ["--volume", `${o.volume.name}:${o.volume.path}`] : []),
    o.image,
  ];
  await docker(...args);
  const [users, groups] = await Promise.all([idsOf(name, "/etc/passwd"), idsOf(name, "/etc/group")]);
  const id = (m: Map<string, number>, n: string) => {
    const v = /^\d+$/.test(n) ? Number(n) : m.get(n);
    if (v === undefined) throw new Error(`${name}: no such user or group ${n}`);
    return v;
  };
  const tar = tarOf(o.files.map((f) => ({ path: f.path, content: f.content, mode: f.mode, uid: id(users, f.owner), gid: id(groups, f.group) })));
  await dockerWithInput(["cp", "-a", "-", `${name}:/`], tar);
  await docker("start", name);
  await waitHealthy(name);
  return name;
}

export interface BaselineLab {
  prefix: string;
  network: string;
}

/** Deploys the dev shape with plain docker on `net` (first three octets) and proves one round trip. */
export async function deployWithDocker(shape: DevShape, net: string, prefix: string, baseImage: string): Promise<BaselineLab> {
  const a = labAddresses(net);
  const network = `${prefix}-net`;
  const image = (role: string) => `${prefix}-${role}:latest`;
  const volume = (role: string, dir: string) => `${prefix}-${role}-${dir.replace(/^\/+/, "").replace(/[^A-Za-z0-9]+/g, "-")}`;
  const mailDomains = shape.mailDomains.length > 0 ? shape.mailDomains : [shape.domain];
  const hostname = `mail.${shape.domain}`;

  // Secrets, keys, certificate and images: all independent of each other.
  const users = shape.users.map((u) => {
    const password = alnum(20);
    return { email: u.email, password, hash: sha512Crypt(password, alnum(16)) };
  });
  const appPassword = alnum(32);
  const build = (role: string) => sh("docker", ["build", "-q", "-t", image(role), ...buildArgs(role, baseImage), path.join(FILES_DIR, role)], 600_000);
  const [, , , , dkimPems, cert] = await Promise.all([
    build("db"), build("mail"), build("dns"),
    docker("network", "create", "--subnet", a.subnet, "--gateway", a.gateway, "--label", `${LABEL}=${prefix}`, network).then(() =>
      Promise.all(["db:/var/lib/mysql", "mail:/var/mail/vhosts"].map((v) => {
        const [role, dir] = v.split(":");
        return docker("volume", "create", "--label", `${LABEL}=${prefix}`, volume(role, dir));
      })),
    ),
    Promise.all(mailDomains.map((d) => sh("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]).then((pem) => ({ domain: d, privateKey: pem })))),
    issueCertificate(hostname, a.mail),
  ]);
  const dkimPublic = dkimPems.map((k) => ({ domain: k.domain, publicKey: dkimPublicKey(k.privateKey) }));

  // The database and the DNS server start together; the mail server needs the database's rows.
  const zone = {
    origin: shape.domain, primaryNameserver: `dns.${shape.domain}.`, hostmaster: `hostmaster.${shape.domain}.`,
    serial: Math.floor(Date.now() / 1000),
    records: [{ name: "dns", type: "A", value: a.dns } as DnsRecord, ...mailRecords(shape.domain, mailDomains, a.mail, dkimPublic)],
  };
  const db = runServer({
    prefix, role: "db", network, address: a.db, dns: a.dns, image: image("db"),
    volume: { name: volume("db", "/var/lib/mysql"), path: "/var/lib/mysql" }, health: "/usr/local/sbin/db-healthcheck",
    files: renderDbServerFiles("debian", a.db),
  }).then(async (name) => {
    const sql = [
      "CREATE DATABASE IF NOT EXISTS mailserver CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;",
      `CREATE USER IF NOT EXISTS 'mailrl'@${sqlString(a.mail)} IDENTIFIED BY ${sqlString(appPassword)};`,
      `GRANT SELECT ON mailserver.* TO 'mailrl'@${sqlString(a.mail)};`,
      "USE mailserver;", MAIL_SCHEMA_SQL,
      ...mailDomains.map(upsertDomainSql), ...users.map((u) => upsertUserSql(u.email, u.hash)),
      ...shape.aliases.map((x) => upsertAliasSql(x.source, x.destination)),
    ].join("\n");
    await dockerWithInput(["exec", "-i", name, "mysql", "--batch"], sql);
  });
  const dns = runServer({
    prefix, role: "dns", network, address: a.dns, dns: a.dns, image: image("dns"),
    env: [`DNS_ZONES=${shape.domain}`, `NAMED_CONF=${bindPaths("debian").namedConf}`],
    health: "/usr/local/sbin/dns-healthcheck", files: renderBindFiles({ listenAddress: a.dns, zones: [zone], layout: "debian" }),
  });
  await db;
  const settings = {
    hostname, domain: shape.domain, listenAddress: a.mail, tls: TLS, milters: [opendkimMilter()], logTo: "stdout" as const,
    database: { host: a.db, port: 3306, name: "mailserver", user: "mailrl", password: appPassword },
  };
  await runServer({
    prefix, role: "mail", network, address: a.mail, dns: a.dns, image: image("mail"),
    volume: { name: volume("mail", "/var/mail/vhosts"), path: "/var/mail/vhosts" }, health: "/usr/local/sbin/mail-healthcheck",
    files: [
      ...renderPostfixFiles(settings), ...renderDovecotFiles(settings),
      ...renderOpendkimFiles({ selector: "mail", keys: dkimPems }),
      { path: TLS.certificateFile, content: cert.certificate + cert.ca, owner: "root", group: "root", mode: "0644" },
      { path: TLS.keyFile, content: cert.key, owner: "root", group: "root", mode: "0600" },
    ],
  });
  await dns;
  // The same proof as the deploy's: one message from the first user to themselves, found over IMAPS.
  const report = await new Promise<string>((resolve, reject) =>
    execFile("node", [path.join(FILES_DIR, "check", "roundtrip.js")], {
      timeout: 90_000,
      env: { ...process.env, MAIL_HOST: a.mail, MAIL_SERVERNAME: hostname, MAIL_CA: cert.ca, MAIL_USER: users[0].email, MAIL_PASSWORD: users[0].password, MAIL_TIMEOUT: "60" },
    }, (e, out, err) => (e ? reject(new Error(`baseline round trip: ${err || e.message}`)) : resolve(out))),
  );
  note(`baseline: ${report.trim()}`);
  return { prefix, network };
}

/** Removes everything a baseline run made (found by its label and names), whatever state it is in. */
export async function destroyDockerLab(prefix: string): Promise<void> {
  const ids = (await docker("ps", "-aq", "--filter", `label=${LABEL}=${prefix}`)).split("\n").filter(Boolean);
  if (ids.length > 0) await docker("rm", "-f", "-v", ...ids);
  const volumes = (await docker("volume", "ls", "-q", "--filter", `label=${LABEL}=${prefix}`)).split("\n").filter(Boolean);
  if (volumes.length > 0) await docker("volume", "rm", ...volumes);
  const nets = (await docker("network", "ls", "-q", "--filter", `label=${LABEL}=${prefix}`)).split("\n").filter(Boolean);
  if (nets.length > 0) await docker("network", "rm", ...nets);
  for (const role of ["db", "mail", "dns"]) await docker("image", "rm", `${prefix}-${role}:latest`).catch(() => undefined);
}
