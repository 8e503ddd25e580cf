// The mail system: reads and validates the stack configuration, picks where
// the servers go (containers on a lab network, or hosts over SSH), then wires
// MysqlServer -> MailServer -> BindServer, so the database credentials flow
// into Postfix and Dovecot and the mail server's records (A, MX, SRV, SPF,
// DMARC, DKIM, autoconfig) into the zone. The components are the same for both targets.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BindServer } from "./components/bindServer";
import { describeProblems, ROLES, readRawConfig, validateConfig } from "./components/config";
import { LabNetwork } from "./components/labNetwork";
import { MailCertificate, uncoveredNames } from "./components/mailCertificate";
import { MailRoundTrip } from "./components/mailRoundTrip";
import { MailServer } from "./components/mailServer";
import { manualRecordsFor } from "./components/manualRecords";
import { MysqlServer } from "./components/mysqlServer";
import { userPasswordHash } from "./components/passwordHash";
import { skipPromiseLeakStacks } from "./components/promiseStacks";
import { ACME } from "./components/render/acme";
import { autoconfigNames, mtaStsNames } from "./components/render/mailRecords";
import { DockerTarget } from "./components/targets/docker";
import { ServerTarget } from "./components/targets/server";
import { SshTarget } from "./components/targets/ssh";
import { labPassphraseProblem } from "./components/stackPassphrase";

// Before the first resource: the SDK's promise bookkeeping need not format stacks (promiseStacks.ts).
skipPromiseLeakStacks(process.env);

// The published lab passphrase only for the dev stack and the tests' throwaway stacks.
const passphraseProblem = labPassphraseProblem(pulumi.getStack(), process.env);
if (passphraseProblem) throw new pulumi.RunError(passphraseProblem);
const { config, problems } = validateConfig(readRawConfig(pulumi.runtime.allConfig()), pulumi.getStack());
// A RunError is reported as its message alone: the problems, no stack trace.
if (problems.length > 0) throw new pulumi.RunError(describeProblems(problems));

function dockerTarget(): ServerTarget {
  const network = new LabNetwork("lab", { name: `${config.namePrefix}-net`, subnet: config.subnet, gateway: config.gateway });
  return new DockerTarget({
    network: network.name,
    gateway: config.gateway,
    namePrefix: config.namePrefix,
    baseImage: config.baseImage,
    dnsServers: [config.dnsAddress],
    imageContexts: { db: config.databaseImage },
  });
}

function sshTarget(): ServerTarget {
  const hosts = config.hosts!;
  return new SshTarget(
    Object.fromEntries(ROLES.map((role) => [role, { ...hosts[role], privateKey: pulumi.secret(hosts[role].privateKey) }])),
  );
}

const target = config.target === "ssh" ? sshTarget() : dockerTarget();

// Each user's password: from config (secret) or generated; its hash is made
// once with a salt kept in state and kept in state itself (passwordHash.ts).
const users = config.users.map((u) => {
  const password = u.password
    ? pulumi.secret(u.password)
    : new random.RandomPassword(`password-${u.email}`, { length: 20, special: false }).result;
  const salt = new random.RandomString(`salt-${u.email}`, { length: 16, special: false }).result;
  const passwordHash = userPasswordHash(`hash-${u.email}`, password, salt);
  return { email: u.email, password, passwordHash, quotaBytes: u.quotaBytes };
});

// Backups: each server's snapshots under <zone>-<role>, the same for every
// stack of the zone, so a new stack restores what an old one backed up.
const backupFor = (role: "db" | "mail") => (config.backup ? { backup: { settings: config.backup, snapshotHost: `${config.domain}-${role}` } } : {});

const db = new MysqlServer("db", {
  target,
  address: config.dbAddress,
  clientHost: config.mailAddress,
  domains: config.mailDomains,
  users,
  aliases: config.aliases,
  aliasDomains: config.aliasDomains,
  ...backupFor("db"),
});

// An alias domain is a mail domain to the world (MX, SPF, DMARC, a DKIM key
// that signs its mail); only the database tells it apart.
const hostedDomains = [...config.mailDomains, ...config.aliasDomains.map((a) => a.domain)];

// With autoconfig, clients fetch their settings from autoconfig.<d> and
// autodiscover.<d> over HTTPS, and with MTA-STS senders the policy from
// mta-sts.<d>: the certificate must name those too.
const mailHost = `${config.mailHost}.${config.domain}`;
const webNames = [...(config.autoconfig ? autoconfigNames(hostedDomains) : []), ...(config.mtaSts ? mtaStsNames(hostedDomains) : [])];
const uncovered = config.tls ? uncoveredNames(config.tls.certificate, [mailHost, ...webNames]) : [];
if (uncovered.length > 0) {
  pulumi.log.warn(`mail-system:tlsCertificate does not name ${uncovered.join(", ")}: clients will refuse it there`);
}
// With ACME the per-stack certificate below is served only until the CA's
// first arrives, for the same key (so the TLSA record holds for both). For
// dns-01 the program's BIND takes the challenges' TXT records, signed with a
// TSIG key made once and kept in state.
const certificateNames = [mailHost, ...webNames];
const acmeTsigSecret =
  config.acme?.challenge === "dns-01"
    ? new random.RandomPassword("acme-tsig", { length: 44, special: false }).result.apply((p) => Buffer.from(p).toString("base64"))
    : undefined;
const certificate = new MailCertificate("mail-tls", {
  hostname: mailHost,
  address: config.mailAddress,
  extraNames: webNames,
  ...(config.tls ? { own: { certificate: config.tls.certificate, privateKey: pulumi.secret(config.tls.privateKey) } } : {}),
});

const mail = new MailServer("mail", {
  target,
  address: config.mailAddress,
  zone: config.domain,
  hostLabel: config.mailHost,
  mailDomains: hostedDomains,
  mailboxes: config.users.map((u) => u.email),
  purgeRemovedMailboxes: config.purgeRemovedMailboxes,
  purgeMailOnDestroy: config.purgeMailOnDestroy,
  database: db.connection,
  certificate: certificate.certificate,
  privateKey: certificate.privateKey,
  spf: config.spf,
  dmarc: config.dmarc,
  dkimSelector: config.dkimSelector,
  dkimPublishedSelectors: config.dkimPublishedSelectors,
  dkimRolloverWaitSeconds: config.dkimRolloverWaitSeconds,
  dkimKeys: config.dkimKeys.map((k) => ({ ...k, privateKey: pulumi.secret(k.privateKey) })),
  limits: config.limits,
  filtering: config.filtering,
  quota: config.quota,
  autoconfig: config.autoconfig,
  // DANE needs the signed zone: TLSA records are trusted only through DNSSEC.
  dane: config.dnssec,
  ...(config.mtaSts ? { mtaSts: config.mtaSts } : {}),
  tlsReportsTo: config.tlsReportsTo,
  ...(config.acme
    ? { acme: { settings: config.acme, names: certificateNames, ...(acmeTsigSecret ? { nameserver: config.dnsAddress, tsigSecret: acmeTsigSecret } : {}) } }
    : {}),
  ...backupFor("mail"),
});

const dns = new BindServer("dns", {
  target,
  address: config.dnsAddress,
  zone: config.domain,
  hostLabel: config.dnsHost,
  // The mail server's records, then the user's own (mail-system:records).
  records: mail.dnsRecords.apply((records) => [...records, ...config.records]),
  dnssec: config.dnssec,
  ...(acmeTsigSecret ? { acmeUpdates: { names: certificateNames, keyName: ACME.keyName, secret: acmeTsigSecret } } : {}),
});

// The CA's first certificate, once the DNS server takes the challenges.
const acmeCertificate = config.acme ? mail.obtainAcmeCertificate({ dependsOn: [dns] }) : undefined;
// Whom clients trust for the served certificate: the ACME CA's root (a
// public one: the system's, ""), else the per-stack CA.
const trustedCa = config.acme ? pulumi.output(config.acme.rootCertificate ?? "") : certificate.caCertificate;

// The deploy succeeds only when mail works: the first user sends to
// themselves on 587 and finds the message over IMAPS.
const roundTrip = new MailRoundTrip(
  "deploy-check",
  {
    host: mail.address,
    servername: mail.hostname,
    caCertificate: trustedCa,
    user: users[0].email,
    password: users[0].password,
    triggers: [mail.serverId, db.serverId, users[0].passwordHash],
  },
  // After every row, file and record exists (a component waits for its children).
  { dependsOn: [db, mail, dns, ...(acmeCertificate ? [acmeCertificate] : [])] },
);

export const dnsServer = dns.address;
export const mailServer = mail.address;
export const mailHostname = mail.hostname;
export const zoneSerial = dns.serial;
export const deployCheck = roundTrip.result;
export const caCertificate = trustedCa;
export const endpoints = mail.endpoints;
/** The records the mail server puts in the zone (A, MX, SRV, SPF, DMARC, DKIM, autoconfig). */
export const mailDnsRecords = mail.dnsRecords;
export const userPasswords = pulumi.secret(
  pulumi.all(users.map((u) => pulumi.all([u.email, u.password]))).apply((pairs) => Object.fromEntries(pairs)),
);
// What the domain's owner must still publish elsewhere: delegation, glue, DS, PTR.
export const manualRecords = pulumi
  .all([dns.hostname, dns.address, mail.hostname, mail.address, dns.ds])
  .apply(([nameserver, nameserverAddress, mailHostname, mailAddress, ds]) =>
    manualRecordsFor({ zone: config.domain, nameserver, nameserverAddress, mailHostname, mailAddress, ds }),
  );
/** Where each server is: its container's name (docker) or user@host (ssh). */
export const servers = { dns: dns.location, db: db.location, mail: mail.location };
/** Where backups go and under which snapshot hosts; `npm run backup -- snapshots` lists them. */
export const backup = config.backup
  ? { repository: config.backup.repository, snapshotHosts: { db: `${config.domain}-db`, mail: `${config.domain}-mail` }, intervalMinutes: config.backup.intervalMinutes }
  : undefined;
