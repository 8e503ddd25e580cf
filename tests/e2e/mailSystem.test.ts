// The product, end to end: the real program on a throwaway stack with its own
// subnet, driven by real clients (Node's DNS resolver; Python's smtplib,
// imaplib and poplib) against the real servers, then a user is added and the
// stack destroyed.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Resolver } from "dns/promises";
import { Stack } from "@pulumi/pulumi/automation";
import { Lab, mailClient, waitForMail } from "./clients";
import { changesOf, docker, freeSubnet, log, sh, toPathConfig, uniqueName, withStack } from "./lab";

jest.setTimeout(30 * 60_000);

const root = path.join(__dirname, "..", "..");
const zone = "rockylinux.me";
const mailName = `mail.${zone}`;

test("pulumi up gives working, secure mail; adding a user touches only that user; destroy leaves nothing", async () => {
  const name = uniqueName("ms");
  const subnet = await freeSubnet();
  const net = subnet.replace(/\.0\/24$/, "");
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-ca-"));
  const users = [{ email: `frank@${mailName}` }, { email: `leeo@${mailName}` }];
  const config = {
    "mail-system:domain": zone,
    "mail-system:mailDomains": [mailName, zone],
    "mail-system:users": users,
    "mail-system:aliases": users.map((u) => ({ source: `all@${mailName}`, destination: u.email })),
    "mail-system:subnet": subnet,
    "mail-system:dnsAddress": `${net}.7`,
    "mail-system:dbAddress": `${net}.5`,
    "mail-system:mailAddress": `${net}.6`,
    "mail-system:namePrefix": name,
    ...(process.env.BASE_IMAGE ? { "mail-system:baseImage": process.env.BASE_IMAGE } : {}),
  };

  try {
    await withStack(root, name, config, async (stack: Stack) => {
      const up = await stack.up({ onOutput: log });
      const out = up.outputs;
      const caFile = path.join(caDir, "ca.pem");
      fs.writeFileSync(caFile, out.caCertificate.value as string);
      const lab: Lab & { dns: string } = {
        mail: out.mailServer.value as string,
        servername: mailName,
        dns: out.dnsServer.value as string,
        ca: caFile,
        passwords: out.userPasswords.value as Record<string, string>,
      };
      expect(out.userPasswords.secret).toBe(true);
      expect(lab.mail).toBe(`${net}.6`);
      expect(lab.dns).toBe(`${net}.7`);

      // DNS: the lab's BIND answers for the zone with the mail server's own address.
      const resolver = new Resolver({ timeout: 3000, tries: 2 });
      resolver.setServers([lab.dns]);
      expect(await resolver.resolve4(mailName)).toEqual([lab.mail]);
      expect(await resolver.resolve4(`dns.${zone}`)).toEqual([lab.dns]);
      expect(await resolver.resolveMx(zone)).toEqual([{ exchange: mailName, priority: 2 }]);
      expect(await resolver.resolveNs(zone)).toEqual([`dns.${zone}`]);
      expect((await resolver.resolveSoa(zone)).serial).toBe(out.zoneSerial.value);
      // SPF and DMARC (the defaults) and RFC 6186 SRV records, per mail domain.
      for (const d of [zone, mailName]) {
        expect(await resolver.resolveTxt(d)).toEqual([["v=spf1 mx -all"]]);
        expect(await resolver.resolveTxt(`_dmarc.${d}`)).toEqual([[`v=DMARC1; p=quarantine; rua=mailto:postmaster@${zone}`]]);
        for (const [service, port, priority] of [["submission", 587, 10], ["imaps", 993, 0], ["imap", 143, 10], ["pop3s", 995, 0]] as const) {
          expect(await resolver.resolveSrv(`_${service}._tcp.${d}`)).toEqual([{ name: mailName, port, priority, weight: 1 }]);
        }
      }
      expect(out.manualRecords.value).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ zone: "me", name: `${zone}.`, type: "NS", value: `dns.${zone}.` }),
          expect.objectContaining({ zone: "me", name: `dns.${zone}.`, type: "A", value: lab.dns }),
          expect.objectContaining({ name: `6.${net.split(".").reverse().join(".")}.in-addr.arpa.`, type: "PTR", value: `${mailName}.` }),
        ]),
      );

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

      // A second preview changes nothing.
      expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});

      // Adding a user creates only that user's resources; no container is replaced.
      const containersBefore = await docker("ps", "-q", "--no-trunc", "--filter", `label=mail-system.stack=${name}`);
      await stack.setAllConfig(toPathConfig({ "mail-system:users": [...users, { email: `ann@${mailName}` }] }), true);
      const added = await stack.up({ onOutput: log });
      expect(changesOf(added.summary.resourceChanges ?? {})).toEqual({ create: 3 });
      expect(await docker("ps", "-q", "--no-trunc", "--filter", `label=mail-system.stack=${name}`)).toBe(containersBefore);
      const ann = `ann@${mailName}`;
      const annPassword = (added.outputs.userPasswords.value as Record<string, string>)[ann];
      lab.passwords[ann] = annPassword;
      const welcome = `welcome ${name}`;
      expect(await mailClient(lab, "send", { port: 587, user: frank, sender: frank, to: ann, subject: welcome, body: "x" }, lab.passwords[frank])).toEqual({ ok: true, refused: {} });
      await waitForMail(lab, ann, welcome);
      // Mail delivered before the change is still there.
      expect(await waitForMail(lab, leeo, hello)).toContain(fanout);
    });

    // destroy (done by withStack) left nothing of the stack behind.
    expect(await docker("ps", "-a", "-q", "--filter", `label=mail-system.stack=${name}`)).toBe("");
    expect(await docker("network", "ls", "-q", "--filter", `name=${name}-net`)).toBe("");
    expect(await docker("volume", "ls", "-q", "--filter", `name=${name}-`)).toBe("");
    expect(await sh("docker", ["images", "-q", "--filter", `reference=${name}-*`])).toBe("");
  } finally {
    fs.rmSync(caDir, { recursive: true, force: true });
  }
});

test("an invalid configuration fails before any resource is created, naming each bad key", async () => {
  const name = uniqueName("bad");
  const config = {
    "mail-system:domain": "not a domain",
    "mail-system:users": [{ email: "frank@" }, { email: "a@elsewhere.org" }],
    "mail-system:dbAddress": "192.168.100.7",
    "mail-system:mailAddress": "10.9.9.9",
    "mail-system:namePrefix": name,
  };
  await withStack(root, name, config, async (stack: Stack) => {
    const failure = stack.up({ onOutput: log }).then(
      () => "succeeded",
      (err: Error) => err.message,
    );
    const message = await failure;
    for (const expected of [
      'mail-system:domain: "not a domain" is not a valid domain name',
      'mail-system:users[0].email: "frank@" is not a valid e-mail address',
      "mail-system:users[1].email: the domain of \"a@elsewhere.org\" is not served",
      "mail-system:dbAddress: 192.168.100.7 is already the address of dnsAddress",
      "mail-system:mailAddress: 10.9.9.9 is outside the subnet 192.168.100.0/24",
    ]) {
      expect(message).toContain(expected);
    }
    const state = await stack.exportStack();
    const resources = (state.deployment.resources ?? []) as { type: string }[];
    expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });
});
