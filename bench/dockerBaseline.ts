// The baseline of deploy time: the same three servers as the Pulumi program,
// with the same images, addresses, files (rendered by the project's own pure
// renderers), volumes, health checks and rows, made with plain `docker`
// commands and no Pulumi, then the same SMTP-to-IMAP round trip
// (files/check/roundtrip.js). Each server is made as DockerServer makes it
// (tests/checkers/images.ts): the supervisor as the entrypoint with the
// role's units, then the program's own scripts through `docker exec`
// (packages, files, units, health). Independent steps run in parallel, as a
// careful hand-written script would.
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as path from "path";
import { ADDRESS_ISSUE_SCRIPT, MAIL_ISSUE_SCRIPT } from "../components/mailCertificate";
import { sha512Crypt } from "../components/passwordHash";
import { bindPaths, renderBindFiles } from "../components/render/bind";
import { renderDbServerFiles } from "../components/render/dbServer";
import { renderMailFilterFiles, renderMailServerFiles } from "../components/render/mailFiles";
import { DEFAULT_FILTERING } from "../components/render/rspamd";
import { MAIL_SCHEMA_SQL, sqlString, upsertAliasSql, upsertDomainSql, upsertUserSql } from "../components/render/mailSql";
import { mailDnsRecords } from "../components/render/mailRecords";
import { dkimPublicKey } from "../components/render/opendkim";
import { LAB_FILTERING, LOAD_LIMITS } from "../tests/e2e/lab";
import { FILES_DIR } from "../components/render/template";
import { DnsRecord, RenderedFile } from "../components/render/types";
import { IMAGE_CONTEXT } from "../components/targets/docker";
import { imageBuildArgs, Role, ServerContainer } from "../tests/checkers/images";
import { docker, dockerWithInput, note, sh } from "./common";
import { DevShape, labAddresses } from "./devConfig";

const LABEL = "mail-system.stack";
const TLS = { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" };

const alnum = (n: number) => {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.randomBytes(n), (b) => chars[b % chars.length]).join("");
};

/** A per-run CA and server certificate, issued by the program's own script (MailCertificate, AddressCertificate). */
async function issueCertificate(script: string, host: string, address: string): Promise<{ ca: string; certificate: string; key: string }> {
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
    execFile("sh", ["-c", script], { env: { ...process.env, HOST: host, ADDRESS: address, DAYS: "825" } }, (err, stdout) =>
      err ? reject(err) : resolve({ stdout }),
    ),
  );
  return JSON.parse(stdout) as { ca: string; certificate: string; key: string };
}

/** The build arguments DockerTarget passes: the base image, the role's Debian packages and debconf answers. */
export function buildArgs(role: Role, baseImage: string): string[] {
  return imageBuildArgs(role, baseImage);
}

/**
 * Makes a server as DockerServer and ScriptedServer do (container, packages,
 * early files and units, files, units) and waits for its health step. `files`
 * may still be on their way (the mail server's wait for the database).
 */
async function runServer(o: {
  prefix: string; role: Role; network: string; address: string; dns: string; image: string;
  env?: Record<string, string>; volumes: { name: string; path: string }[];
  files: readonly RenderedFile[] | Promise<readonly RenderedFile[]>; earlyFiles?: readonly RenderedFile[];
}): Promise<string> {
  const server = await ServerContainer.create(o.image, o.role, {
    name: `${o.prefix}-${o.role}`, network: o.network, ip: o.address, dns: o.dns, env: o.env,
    volumes: o.volumes.map((v) => `${v.name}:${v.path}`), labels: { [LABEL]: o.prefix }, dockerHealth: true,
  });
  await server.setUp(o.files, 120, o.earlyFiles);
  return server.name;
}

export interface BaselineLab {
  prefix: string;
  network: string;
}

/** The program's volumes by role: each server's data and state directories. */
const VOLUME_DIRS: Record<"db" | "mail", readonly string[]> = {
  db: ["/var/lib/mysql"],
  mail: ["/var/mail/vhosts", "/var/spool/postfix", "/var/lib/redis", "/var/lib/rspamd"],
};

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
  const build = (role: Role) => sh("docker", ["build", "-q", "-t", image(role), ...buildArgs(role, baseImage), IMAGE_CONTEXT], 600_000);
  const [, , , , dkimPems, cert, dbCert] = await Promise.all([
    build("db"), build("mail"), build("dns"),
    docker("network", "create", "--subnet", a.subnet, "--gateway", a.gateway, "--label", `${LABEL}=${prefix}`, network).then(() =>
      // The program's volumes: each role's data and state directories, made
      // here with the run's label (`docker run` would make them unlabelled,
      // and destroyDockerLab finds what to remove by the label).
      Promise.all(Object.entries(VOLUME_DIRS).flatMap(([role, dirs]) =>
        dirs.map((dir) => docker("volume", "create", "--label", `${LABEL}=${prefix}`, volume(role, dir))))),
    ),
    Promise.all(mailDomains.map((d) => sh("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]).then((pem) => ({ domain: d, privateKey: pem })))),
    issueCertificate(MAIL_ISSUE_SCRIPT, hostname, a.mail),
    issueCertificate(ADDRESS_ISSUE_SCRIPT, a.db, a.db),
  ]);
  const dkimPublic = dkimPems.map((k) => ({ domain: k.domain, publicKey: dkimPublicKey(k.privateKey) }));

  // The three servers start together; the mail server's files (but its filter's) wait for the database's rows.
  const zone = {
    origin: shape.domain, primaryNameserver: `dns.${shape.domain}.`, hostmaster: `hostmaster.${shape.domain}.`,
    serial: Math.floor(Date.now() / 1000),
    records: [
      { name: "dns", type: "A", value: a.dns } as DnsRecord,
      // As MailServer publishes them, with the program's default SPF and DMARC.
      ...mailDnsRecords({
        zone: shape.domain, hostLabel: "mail", address: a.mail, mailDomains, mxPreference: 2,
        spf: "v=spf1 mx -all", dmarc: `v=DMARC1; p=quarantine; rua=mailto:postmaster@${shape.domain}`,
        dkimSelector: "mail", dkimKeys: dkimPublic,
        // The baseline's mail server runs no web server (ROLE_SPECS' mail units).
        autoconfig: false,
      }),
    ],
  };
  const db = runServer({
    prefix, role: "db", network, address: a.db, dns: a.dns, image: image("db"),
    volumes: VOLUME_DIRS.db.map((dir) => ({ name: volume("db", dir), path: dir })),
    files: renderDbServerFiles("debian", a.db, { certificate: dbCert.certificate, privateKey: dbCert.key, caCertificate: dbCert.ca }),
  }).then(async (name) => {
    const sql = [
      "CREATE DATABASE IF NOT EXISTS mailserver CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;",
      `CREATE USER IF NOT EXISTS 'mailrl'@${sqlString(a.mail)} IDENTIFIED BY ${sqlString(appPassword)} REQUIRE SSL;`,
      `GRANT SELECT ON mailserver.* TO 'mailrl'@${sqlString(a.mail)};`,
      "USE mailserver;", MAIL_SCHEMA_SQL,
      ...mailDomains.map(upsertDomainSql), ...users.map((u) => upsertUserSql(u.email, u.hash)),
      ...shape.aliases.map((x) => upsertAliasSql(x.source, x.destination)),
    ].join("\n");
    await dockerWithInput(["exec", "-i", name, "mysql", "--batch"], sql);
  });
  const dns = runServer({
    prefix, role: "dns", network, address: a.dns, dns: a.dns, image: image("dns"),
    env: { DNS_ZONES: shape.domain, NAMED_CONF: bindPaths("debian").namedConf }, volumes: [],
    files: renderBindFiles({ listenAddress: a.dns, zones: [zone], layout: "debian" }),
  });
  // The mail server starts with the others, as the program's does: its early
  // files and units (Rspamd) at once, the rest once the database is there.
  const mail = runServer({
    prefix, role: "mail", network, address: a.mail, dns: a.dns, image: image("mail"),
    volumes: VOLUME_DIRS.mail.map((dir) => ({ name: volume("mail", dir), path: dir })),
    // As DockerTarget places it: Rspamd asks the lab's DNS server directly.
    earlyFiles: renderMailFilterFiles({ mailDomains, filtering: { ...DEFAULT_FILTERING, ...LAB_FILTERING }, container: true, nameservers: [a.dns] }),
    files: db.then(() =>
      renderMailServerFiles({
        hostname, domain: shape.domain, listenAddress: a.mail, tls: TLS,
        database: { host: a.db, port: 3306, name: "mailserver", user: "mailrl", password: appPassword, caCertificate: dbCert.ca },
        // As the program's side is configured for the flood (devStackConfig).
        limits: LOAD_LIMITS,
        mailDomains,
        dkim: { selector: "mail", keys: dkimPems }, certificate: cert.certificate + cert.ca, privateKey: cert.key, container: true,
      }),
    ),
  });
  await Promise.all([db, mail]);
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
