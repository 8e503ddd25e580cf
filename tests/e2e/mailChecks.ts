// The end-to-end checks every deployed mail system must pass, whatever the
// target (containers or SSH hosts): DNS answers, TLS-only authentication,
// submission and delivery (IMAPS, POP3S), DKIM verified against the lab's own
// DNS, alias fan-out, the refusals (wrong password, forged sender, relay),
// and the clients' autoconfiguration over HTTPS.
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Resolver } from "dns/promises";
import { promisify } from "util";
import { OutputMap } from "@pulumi/pulumi/automation";
import { databaseTlsProbe, expectDatabaseTls } from "../fixtures/mail";
import { childText, elements, parseXml } from "../fixtures/xml";
import { inbox, Lab, mailClient, waitForMail } from "./clients";

/**
 * The system checkMailSystem expects: zone `zone` and mail.<zone> as mail
 * domains, frank and leeo at mail.<zone> (generated passwords), all@ to both;
 * at <zone>, info@ to leeo and a catch-all to frank; alias.<zone> an alias
 * domain of mail.<zone>; MTA-STS in testing mode, TLS reports to
 * tls-reports@<zone>.
 */
export function checkedSystem(zone: string): { users: { email: string }[]; config: Record<string, unknown> } {
  const mailName = `mail.${zone}`;
  const users = [{ email: `frank@${mailName}` }, { email: `leeo@${mailName}` }];
  return {
    users,
    config: {
      "mail-system:domain": zone,
      "mail-system:mailDomains": [mailName, zone],
      "mail-system:users": users,
      "mail-system:aliases": [
        ...users.map((u) => ({ source: `all@${mailName}`, destination: u.email })),
        // The zone's own domain has no mailboxes: info@ goes to leeo, every other address to frank.
        { source: `info@${zone}`, destination: users[1].email },
        { source: `@${zone}`, destination: users[0].email },
      ],
      "mail-system:aliasDomains": [{ domain: `alias.${zone}`, target: mailName }],
      "mail-system:mtaSts": { mode: "testing", maxAge: 86400 },
      "mail-system:tlsReportsTo": [`mailto:tls-reports@${zone}`],
    },
  };
}

/** The deployed system's clients' view: addresses, CA file, passwords, from the stack's outputs. */
export function labOf(out: OutputMap, caDir: string, mailName: string): Lab & { dns: string } {
  const caFile = path.join(caDir, "ca.pem");
  fs.writeFileSync(caFile, out.caCertificate.value as string);
  return {
    mail: out.mailServer.value as string,
    servername: mailName,
    dns: out.dnsServer.value as string,
    ca: caFile,
    passwords: out.userPasswords.value as Record<string, string>,
  };
}

/**
 * Runs the checks against a system serving `zone` with mail domains `zone`
 * and mail.<zone>, users frank and leeo at mail.<zone> and the alias all@ to
 * both. `tag` makes this run's subjects unique. Returns the subjects sent to leeo.
 */
export async function checkMailSystem(
  out: OutputMap,
  lab: Lab & { dns: string },
  zone: string,
  tag: string,
): Promise<{ hello: string; fanout: string }> {
  const mailName = `mail.${zone}`;
  const name = tag;
  expect(out.userPasswords.secret).toBe(true);

  // DNS: the lab's BIND answers for the zone with the mail server's own address.
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([lab.dns]);
  expect(await resolver.resolve4(mailName)).toEqual([lab.mail]);
  expect(await resolver.resolve4(`dns.${zone}`)).toEqual([lab.dns]);
  expect(await resolver.resolveMx(zone)).toEqual([{ exchange: mailName, priority: 2 }]);
  expect(await resolver.resolveNs(zone)).toEqual([`dns.${zone}`]);
  // Signed (DNSSEC): named raises the serial it serves when it signs.
  expect((await resolver.resolveSoa(zone)).serial).toBeGreaterThanOrEqual(out.zoneSerial.value);
  // SPF and DMARC (the defaults) and RFC 6186 SRV records, per mail domain.
  for (const d of [zone, mailName]) {
    expect(await resolver.resolveTxt(d)).toEqual([["v=spf1 mx -all"]]);
    expect(await resolver.resolveTxt(`_dmarc.${d}`)).toEqual([[`v=DMARC1; p=quarantine; rua=mailto:postmaster@${zone}`]]);
    for (const [service, port, priority] of [["submission", 587, 10], ["imaps", 993, 0], ["imap", 143, 10], ["pop3s", 995, 0], ["sieve", 4190, 0]] as const) {
      expect(await resolver.resolveSrv(`_${service}._tcp.${d}`)).toEqual([{ name: mailName, port, priority, weight: 1 }]);
    }
  }
  expect(out.manualRecords.value).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ zone: "me", name: `${zone}.`, type: "NS", value: `dns.${zone}.` }),
      expect.objectContaining({ zone: "me", name: `dns.${zone}.`, type: "A", value: lab.dns }),
      expect.objectContaining({ name: `${lab.mail.split(".").reverse().join(".")}.in-addr.arpa.`, type: "PTR", value: `${mailName}.` }),
    ]),
  );
  // DNSSEC: the mail host's address and the MX validate from the DS the
  // parent would hold down (dnspython as a validating resolver); a DS of
  // another key does not.
  const ds = (out.manualRecords.value as { type: string; value: string }[]).find((r) => r.type === "DS")?.value ?? "";
  expect(ds).toMatch(/^\d+ 13 2 [0-9A-F]{64}$/);
  const validated = (qname: string, qtype: string, anchor = ds) => mailClient(lab, "dnssec", { port: 53, dns: lab.dns, zone, ds: anchor, qname, qtype });
  expect(await validated(mailName, "A")).toMatchObject({ ok: true, validated: true, keyTags: [Number(ds.split(" ")[0])], answers: [lab.mail] });
  expect(await validated(zone, "MX")).toMatchObject({ validated: true, answers: [`2 ${mailName}.`] });
  const otherKey = ds.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
  expect(await validated(mailName, "A", otherKey)).toMatchObject({ validated: false, error: expect.stringContaining("matches the DS") });
  // DANE: the TLSA record of _25._tcp.<mail host>, validated from the DS,
  // is the digest of the key the server presents after STARTTLS on 25.
  const dane = await mailClient(lab, "dane", { port: 25, dns: lab.dns, zone, ds });
  expect(dane).toMatchObject({ ok: true, validated: true, tlsa: [expect.stringMatching(/^3 1 1 [0-9A-F]{64}$/)], match: true });
  expect(dane.served).toBe((dane.tlsa as string[])[0]);

  // No AUTH on 25, nor on 587 before STARTTLS; AUTH after STARTTLS on 587.
  const port25 = await mailClient(lab, "features", { port: 25 });
  expect(port25.before).not.toContain("auth");
  const port587 = await mailClient(lab, "features", { port: 587, starttls: true });
  expect(port587.before).not.toContain("auth");
  expect(port587.after).toContain("auth");
  // IMAP refuses LOGIN before STARTTLS.
  const plainImap = await mailClient(lab, "imap", { port: 143, user: `leeo@${mailName}` }, lab.passwords[`leeo@${mailName}`]);
  expect(plainImap.ok).toBe(false);
  expect(plainImap.capabilities).toContain("LOGINDISABLED");

  // frank submits on 587 to leeo; leeo reads it over IMAPS and POP3S.
  const frank = `frank@${mailName}`;
  const leeo = `leeo@${mailName}`;
  const hello = `hello ${name}`;
  const sent = await mailClient(lab, "send", { port: 587, user: frank, sender: frank, to: leeo, subject: hello, body: "hi" }, lab.passwords[frank]);
  expect(sent).toEqual({ ok: true, refused: {} });
  await waitForMail(lab, leeo, hello);
  const pop = await mailClient(lab, "pop3", { port: 995, user: leeo }, lab.passwords[leeo]);
  expect(pop.subjects).toContain(hello);

  // DKIM: each mail domain's key is in the lab's DNS, as MailServer published it...
  const published = out.mailDnsRecords.value as { name: string; type: string; value: string }[];
  for (const d of [zone, mailName]) {
    const txt = (await resolver.resolveTxt(`mail._domainkey.${d}`)).map((strings) => strings.join(""));
    expect(txt).toEqual([expect.stringMatching(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{300,}={0,2}$/)]);
    const owner = d === zone ? "mail._domainkey" : `mail._domainkey.${d.slice(0, -(zone.length + 1))}`;
    expect(published).toContainEqual({ name: owner, type: "TXT", value: txt[0] });
  }
  // ...and frank's message, as leeo received it, carries a signature that
  // dkimpy verifies with the key fetched from that DNS server.
  const dkim = await mailClient(lab, "dkim-verify", { port: 993, user: leeo, subject: hello, dns: lab.dns }, lab.passwords[leeo]);
  expect(dkim).toMatchObject({ ok: true, signatures: 1, domain: mailName, selector: "mail", error: null });
  expect(dkim.queried).toEqual([`mail._domainkey.${mailName}`]);
  expect(dkim.verified).toBe(true);
  // Mail from outside (port 25, no login) is delivered unsigned.
  const inbound = `inbound ${name}`;
  expect(
    await mailClient(lab, "send", { port: 25, sender: "someone@example.org", to: leeo, subject: inbound, body: "x" }),
  ).toEqual({ ok: true, refused: {} });
  await waitForMail(lab, leeo, inbound);
  expect(await mailClient(lab, "dkim-verify", { port: 993, user: leeo, subject: inbound, dns: lab.dns }, lab.passwords[leeo])).toMatchObject({
    ok: true,
    signatures: 0,
    verified: false,
  });

  // The alias fans out to both users (submitted over implicit TLS on 465).
  const fanout = `to all ${name}`;
  expect(
    await mailClient(lab, "send", { port: 465, user: leeo, sender: leeo, to: `all@${mailName}`, subject: fanout, body: "x" }, lab.passwords[leeo]),
  ).toEqual({ ok: true, refused: {} });
  await waitForMail(lab, frank, fanout);
  await waitForMail(lab, leeo, fanout);

  // Refusals: a wrong password, a forged sender, an unauthenticated relay.
  const wrong = await mailClient(lab, "send", { port: 587, user: frank, sender: frank, to: leeo, subject: "x", body: "x" }, "wrong-password");
  expect(wrong).toMatchObject({ ok: false, stage: "auth", code: 535 });
  expect((await mailClient(lab, "imap", { port: 993, user: frank }, "wrong-password")).ok).toBe(false);
  const forged = await mailClient(lab, "send", { port: 587, user: frank, sender: leeo, to: leeo, subject: "x", body: "x" }, lab.passwords[frank]);
  expect(forged).toMatchObject({ ok: false, code: 553 });
  const relay = await mailClient(lab, "send", { port: 25, sender: "someone@example.org", to: "victim@example.com", subject: "x", body: "x" });
  expect(relay).toMatchObject({ ok: false, stage: "recipient" });
  expect(relay.code).toBeGreaterThanOrEqual(500);

  // The catch-all takes the zone's unknown addresses; an explicit alias wins over it; mail.<zone> has none.
  const caught = `caught ${name}`;
  expect(await mailClient(lab, "send", { port: 587, user: leeo, sender: leeo, to: `nobody-${name}@${zone}`, subject: caught, body: "x" }, lab.passwords[leeo])).toEqual({ ok: true, refused: {} });
  await waitForMail(lab, frank, caught);
  const info = `info ${name}`;
  expect(await mailClient(lab, "send", { port: 587, user: frank, sender: frank, to: `info@${zone}`, subject: info, body: "x" }, lab.passwords[frank])).toEqual({ ok: true, refused: {} });
  await waitForMail(lab, leeo, info);
  expect((await inbox(lab, frank)).subjects).not.toContain(info);
  const unknown = await mailClient(lab, "send", { port: 25, sender: "someone@example.org", to: `nobody@${mailName}`, subject: "x", body: "x" });
  expect(unknown).toMatchObject({ ok: false, stage: "recipient" });
  expect(unknown.code).toBeGreaterThanOrEqual(500);

  await checkAliasDomain(lab, resolver, zone, name);
  await checkSieve(lab, frank, leeo, name);
  await checkAutoconfig(out, lab, zone, resolver);
  await checkMtaSts(lab, zone, resolver);
  return { hello, fanout };
}

/** curl over HTTPS to the mail server's address for `url`'s name, verified with the lab's CA: status, content type, body. */
async function https(lab: Lab, url: string, args: readonly string[] = []): Promise<{ status: number; type: string; body: string }> {
  const name = new URL(url).hostname;
  const { stdout } = await promisify(execFile)(
    "curl",
    ["-sS", "--max-time", "10", "--resolve", `${name}:443:${lab.mail}`, "--cacert", lab.ca, "-w", "\n%{http_code} %{content_type}", ...args, url],
    { timeout: 20_000 },
  );
  const at = stdout.lastIndexOf("\n");
  const [status, type] = stdout.slice(at + 1).split(" ");
  return { status: Number(status), type, body: stdout.slice(0, at) };
}

/**
 * Autoconfiguration (mail-system:autoconfig, on by default): the lab's DNS
 * names autoconfig.<d> and autodiscover.<d> of each mail domain at the mail
 * server and points _autodiscover._tcp at the mail host on 443; over HTTPS,
 * verified with the stack's CA for those names, Thunderbird's file lists
 * exactly the client ports of the endpoints output at the mail host, and
 * Outlook's POST is answered with IMAP and SMTP over implicit TLS.
 */
async function checkAutoconfig(out: OutputMap, lab: Lab, zone: string, resolver: Resolver): Promise<void> {
  const mailName = out.mailHostname.value as string;
  const endpoints = out.endpoints.value as Record<string, string>;
  const port = (service: string) => Number(endpoints[service].split(":").pop());
  // Every endpoint clients set up: not relaying (25) nor ManageSieve (its own SRV record).
  const clientPorts = Object.keys(endpoints).filter((k) => k !== "smtp" && k !== "managesieve").map(port).sort();
  for (const d of [zone, `mail.${zone}`]) {
    expect(await resolver.resolve4(`autoconfig.${d}`)).toEqual([lab.mail]);
    expect(await resolver.resolve4(`autodiscover.${d}`)).toEqual([lab.mail]);
    expect(await resolver.resolveSrv(`_autodiscover._tcp.${d}`)).toEqual([{ name: mailName, port: 443, priority: 0, weight: 0 }]);

    const config = await https(lab, `https://autoconfig.${d}/mail/config-v1.1.xml?emailaddress=frank%40${d}`);
    expect([config.status, config.type]).toEqual([200, "application/xml"]);
    const root = parseXml(config.body);
    expect(elements(root, "domain").map((e) => e.text)).toEqual([d]);
    const servers = [...elements(root, "incomingServer"), ...elements(root, "outgoingServer")];
    expect(new Set(servers.map((s) => childText(s, "hostname")))).toEqual(new Set([mailName]));
    expect(servers.map((s) => Number(childText(s, "port"))).sort()).toEqual(clientPorts);

    const discover = await https(lab, `https://autodiscover.${d}/Autodiscover/Autodiscover.xml`, [
      "-X", "POST", "-H", "Content-Type: text/xml", "--data-binary",
      `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>frank@${d}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`,
    ]);
    expect([discover.status, discover.type]).toEqual([200, "text/xml"]);
    expect(elements(parseXml(discover.body), "Protocol").map((p) => [childText(p, "Type"), childText(p, "Server"), Number(childText(p, "Port")), childText(p, "SSL")])).toEqual([
      ["IMAP", mailName, port("imaps"), "on"],
      ["SMTP", mailName, port("smtps"), "on"],
    ]);
  }
  // Nothing else is served.
  expect((await https(lab, `https://autoconfig.${zone}/`)).status).toBe(404);
}

/**
 * MTA-STS as a sender fetches it: for each mail domain, the policy over
 * HTTPS (verified with the stack's CA) at mta-sts.<d>, whose id is in the
 * _mta-sts TXT record; TLS-RPT's _smtp._tls TXT names the configured address.
 */
async function checkMtaSts(lab: Lab, zone: string, resolver: Resolver): Promise<void> {
  const mailName = `mail.${zone}`;
  for (const d of [zone, mailName]) {
    expect(await resolver.resolve4(`mta-sts.${d}`)).toEqual([lab.mail]);
    const policy = await https(lab, `https://mta-sts.${d}/.well-known/mta-sts.txt`);
    expect([policy.status, policy.type]).toEqual([200, "text/plain"]);
    expect(policy.body).toBe(`version: STSv1\r\nmode: testing\r\nmx: ${mailName}\r\nmax_age: 86400\r\n`);
    const id = createHash("sha256").update(policy.body).digest("hex").slice(0, 20);
    expect(await resolver.resolveTxt(`_mta-sts.${d}`)).toEqual([[`v=STSv1; id=${id}`]]);
    expect(await resolver.resolveTxt(`_smtp._tls.${d}`)).toEqual([[`v=TLSRPTv1; rua=mailto:tls-reports@${zone}`]]);
  }
  expect((await https(lab, `https://mta-sts.${zone}/`)).status).toBe(404);
}

/**
 * alias.<zone> mirrors mail.<zone>: published like a mail domain, its
 * addresses deliver to the users of mail.<zone>, one nobody receives is
 * refused at RCPT, and frank sends as his address there, signed with the
 * alias domain's own DKIM key, but not as leeo's.
 */
async function checkAliasDomain(lab: Lab & { dns: string }, resolver: Resolver, zone: string, name: string): Promise<void> {
  const [mailName, aliasDomain] = [`mail.${zone}`, `alias.${zone}`];
  const [frank, leeo] = [`frank@${mailName}`, `leeo@${mailName}`];
  expect(await resolver.resolveMx(aliasDomain)).toEqual([{ exchange: mailName, priority: 2 }]);
  const mirrored = `mirrored ${name}`;
  expect(await mailClient(lab, "send", { port: 25, sender: "someone@example.org", to: `leeo@${aliasDomain}`, subject: mirrored, body: "x" })).toEqual({
    ok: true,
    refused: {},
  });
  await waitForMail(lab, leeo, mirrored);
  const nobody = await mailClient(lab, "send", { port: 25, sender: "someone@example.org", to: `nobody@${aliasDomain}`, subject: "x", body: "x" });
  expect(nobody).toMatchObject({ ok: false, stage: "recipient" });
  expect(nobody.code).toBeGreaterThanOrEqual(500);
  const asAlias = `as alias domain ${name}`;
  const sender = `frank@${aliasDomain}`;
  expect(
    await mailClient(lab, "send", { port: 587, user: frank, sender, "from-header": sender, to: leeo, subject: asAlias, body: "x" }, lab.passwords[frank]),
  ).toEqual({ ok: true, refused: {} });
  await waitForMail(lab, leeo, asAlias);
  const dkim = await mailClient(lab, "dkim-verify", { port: 993, user: leeo, subject: asAlias, dns: lab.dns }, lab.passwords[leeo]);
  expect(dkim).toMatchObject({ ok: true, signatures: 1, domain: aliasDomain, verified: true });
  const notHis = await mailClient(lab, "send", { port: 587, user: frank, sender: `leeo@${aliasDomain}`, to: leeo, subject: "x", body: "x" }, lab.passwords[frank]);
  expect(notHis).toMatchObject({ ok: false, code: 553 });
}

/**
 * Sieve: `to` uploads a filter and a vacation reply over ManageSieve (no
 * login offered before STARTTLS). Mail matching the filter is filed into a
 * folder it creates; `from` gets one vacation reply for two messages, and a
 * message from a mailing list gets none.
 */
async function checkSieve(lab: Lab, from: string, to: string, name: string): Promise<void> {
  const away = `Away ${name}`;
  const script = [
    'require ["fileinto", "mailbox", "vacation"];',
    'if header :contains "subject" "[news]" { fileinto :create "News"; stop; }',
    `vacation :days 1 :subject "${away}" "Back on Monday.";`,
    "",
  ].join("\n");
  const uploaded = await mailClient(lab, "managesieve", { port: 4190, user: to, "script-name": "mine", body: script }, lab.passwords[to]);
  expect(uploaded).toEqual({ ok: true, saslBeforeTls: ['"SASL" ""'], scripts: ['"mine" ACTIVE'] });
  const send = (subject: string, header: string[] = []) =>
    mailClient(lab, "send", { port: 587, user: from, sender: from, to, subject, body: "x", header }, lab.passwords[from]);
  const news = `[news] ${name}`;
  expect(await send(news)).toMatchObject({ ok: true });
  await waitForMail(lab, to, news, "News");
  const asks = [`question ${name}`, `again ${name}`, `list ${name}`];
  expect(await send(asks[0])).toMatchObject({ ok: true });
  await waitForMail(lab, from, away);
  expect(await send(asks[1])).toMatchObject({ ok: true });
  expect(await send(asks[2], [`List-Id: <news.${name}.example.org>`])).toMatchObject({ ok: true });
  for (const subject of asks) await waitForMail(lab, to, subject);
  // Time for any (wrong) second reply to arrive.
  await new Promise((r) => setTimeout(r, 5000));
  const replies = ((await inbox(lab, from)).subjects ?? []).filter((s) => s === away);
  expect(replies).toHaveLength(1);
}

/**
 * The database server's accounts, read as root through `mysql` by `run`
 * (docker exec or ssh): besides the server's own local ones, only the
 * application user, allowed from the mail server alone, over TLS alone
 * (REQUIRE SSL), with SELECT on the mail database alone. (No administrator
 * account is reachable over TCP.) The server offers TLS 1.2 and 1.3 only.
 */
export async function checkDatabaseAccounts(run: (sql: string) => Promise<string>, mailAddress: string): Promise<void> {
  const accounts = (await run("SELECT CONCAT(user, '@', host) FROM mysql.user WHERE host <> 'localhost' ORDER BY 1"))
    .split("\n")
    .filter(Boolean);
  expect(accounts).toEqual([`mailrl@${mailAddress}`]);
  const grants = (await run(`SHOW GRANTS FOR 'mailrl'@'${mailAddress}'`)).split("\n").filter(Boolean);
  expect(grants).toHaveLength(2);
  expect(grants[0]).toMatch(new RegExp(`^GRANT USAGE ON \\*\\.\\* TO \`mailrl\`@\`${mailAddress.replace(/\./g, "\\.")}\` IDENTIFIED BY PASSWORD '\\*[0-9A-F]{40}' REQUIRE SSL$`));
  expect(grants[1]).toBe(`GRANT SELECT ON \`mailserver\`.* TO \`mailrl\`@\`${mailAddress}\``);
  expect(await run("SELECT @@have_ssl, @@tls_version")).toBe("YES\tTLSv1.2,TLSv1.3\n");
}

/**
 * The mail server's database connection, probed on the mail server by `run`
 * (a script as root, through docker exec or ssh) with Postfix's own client:
 * lookups go over TLS 1.2+ with the database's certificate verified; the
 * application user is refused in clear, and a client trusting another CA
 * (the mail host's own) refuses the database's certificate.
 */
export async function checkDatabaseTls(run: (script: string) => Promise<string>, zone: string): Promise<void> {
  const output = await run(databaseTlsProbe(`mail.${zone}`, "/etc/ssl/mail/fullchain.pem"));
  // (The server names the client by its address, or its name where it resolves one.)
  expectDatabaseTls(output, /'mailrl'@'[\w.-]+'/);
}
