// The mail server's web server: Thunderbird's autoconfig and Outlook's
// autodiscover, parsed by a real XML parser, offer exactly the ports of
// MAIL_PORTS at the mail host; nginx.conf serves them over HTTPS only, for
// the autoconfig names of every mail domain and the mail host.
import { MAIL_PORTS, WEB_PORT } from "../../components/render/mailRecords";
import { renderMtaStsPolicy } from "../../components/render/mtaSts";
import { CLIENT_TLS12_CIPHERS } from "../../components/render/postfix";
import { renderAutoconfigXml, renderAutodiscoverXml, renderWebFiles, WEB, WebServerSettings } from "../../components/render/web";
import { childText, elements, parseXml } from "../fixtures/xml";

const SETTINGS: WebServerSettings = {
  hostname: "mail.example.test",
  mailDomains: ["example.test", "sub.example.test"],
  tls: { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" },
  container: true,
  family: "debian",
};
const fileAt = (files: { path: string; content: string }[], p: string) => {
  const f = files.find((x) => x.path === p);
  if (!f) throw new Error(`no ${p} in ${files.map((x) => x.path).join(", ")}`);
  return f;
};
// The ports clients are offered: every MAIL_PORTS entry but relaying (25) and ManageSieve (its own SRV record).
const CLIENT_PORTS = Object.entries(MAIL_PORTS).filter(([k]) => k !== "smtp" && k !== "managesieve").map(([, p]) => p);

describe("Thunderbird's autoconfig (clientConfig 1.1)", () => {
  const root = parseXml(renderAutoconfigXml({ domain: "sub.example.test", hostname: "mail.example.test" }));
  const servers = [...elements(root, "incomingServer"), ...elements(root, "outgoingServer")];

  test("is well-formed, version 1.1, for the domain", () => {
    expect(root).toMatchObject({ tag: "clientConfig", attributes: { version: "1.1" } });
    const provider = elements(root, "emailProvider");
    expect(provider.map((p) => p.attributes.id)).toEqual(["sub.example.test"]);
    expect(elements(provider[0], "domain").map((d) => d.text)).toEqual(["sub.example.test"]);
  });

  test("lists exactly the client ports of MAIL_PORTS, implicit TLS first, at the mail host, the address as user name", () => {
    expect(servers.map((s) => [s.tag, s.attributes.type, Number(childText(s, "port")), childText(s, "socketType")])).toEqual([
      ["incomingServer", "imap", MAIL_PORTS.imaps, "SSL"],
      ["incomingServer", "imap", MAIL_PORTS.imap, "STARTTLS"],
      ["incomingServer", "pop3", MAIL_PORTS.pop3s, "SSL"],
      ["incomingServer", "pop3", MAIL_PORTS.pop3, "STARTTLS"],
      ["outgoingServer", "smtp", MAIL_PORTS.smtps, "SSL"],
      ["outgoingServer", "smtp", MAIL_PORTS.submission, "STARTTLS"],
    ]);
    expect(servers.map((s) => Number(childText(s, "port"))).sort()).toEqual([...CLIENT_PORTS].sort());
    for (const s of servers) {
      expect(childText(s, "hostname")).toBe("mail.example.test");
      expect(childText(s, "username")).toBe("%EMAILADDRESS%");
      expect(childText(s, "authentication")).toBe("password-cleartext");
    }
  });
});

describe("Outlook's autodiscover (POX)", () => {
  const root = parseXml(renderAutodiscoverXml({ hostname: "mail.example.test" }));

  test("is well-formed, in the 2006 response schema with Outlook's 2006a response", () => {
    expect(root).toMatchObject({ tag: "Autodiscover", ns: "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006" });
    const response = elements(root, "Response");
    expect(response.map((r) => r.ns)).toEqual(["http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"]);
    const account = elements(root, "Account")[0];
    expect([childText(account, "AccountType"), childText(account, "Action")]).toEqual(["email", "settings"]);
  });

  test("offers IMAP and SMTP with implicit TLS at the mail host, the ports from MAIL_PORTS, no LoginName", () => {
    const protocols = elements(root, "Protocol").map((p) => [childText(p, "Type"), childText(p, "Server"), Number(childText(p, "Port")), childText(p, "SSL")]);
    expect(protocols).toEqual([
      ["IMAP", "mail.example.test", MAIL_PORTS.imaps, "on"],
      ["SMTP", "mail.example.test", MAIL_PORTS.smtps, "on"],
    ]);
    expect(elements(root, "LoginName")).toEqual([]);
  });
});

describe("renderWebFiles", () => {
  const files = renderWebFiles(SETTINGS);
  const conf = fileAt(files, WEB.config).content;

  test("nginx.conf, one autoconfig file per mail domain and the autodiscover answer, root's and world-readable (nothing secret)", () => {
    expect(files.map((f) => [f.path, f.owner, f.group, f.mode, f.secret])).toEqual([
      ["/etc/nginx/nginx.conf", "root", "root", "0644", undefined],
      ["/etc/nginx/mail-system/autoconfig/example.test.xml", "root", "root", "0644", undefined],
      ["/etc/nginx/mail-system/autoconfig/sub.example.test.xml", "root", "root", "0644", undefined],
      ["/etc/nginx/mail-system/autodiscover.xml", "root", "root", "0644", undefined],
    ]);
    expect(fileAt(files, "/etc/nginx/mail-system/autoconfig/sub.example.test.xml").content).toBe(
      renderAutoconfigXml({ domain: "sub.example.test", hostname: "mail.example.test" }),
    );
  });

  test("HTTPS only, TLS 1.2+, the mail certificate, no version in replies", () => {
    expect([...conf.matchAll(/^\s*listen\s+(.*);$/gm)].map((m) => m[1])).toEqual([`${WEB_PORT} ssl default_server`, `${WEB_PORT} ssl`]);
    expect(conf).toMatch(/^\s*server_tokens off;$/m);
    expect(conf).toMatch(/^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
    expect(conf).toContain(`ssl_ciphers ${CLIENT_TLS12_CIPHERS};`);
    expect(conf).toMatch(/^\s*ssl_certificate \/etc\/ssl\/mail\/fullchain\.pem;$/m);
    expect(conf).toMatch(/^\s*ssl_certificate_key \/etc\/ssl\/mail\/privkey\.pem;$/m);
    // No include of the distribution's sites (their port 80) nor a `daemon` line (the units and the supervisor set it).
    expect(conf).not.toMatch(/^\s*(include|daemon)\b/m);
  });

  test("answers for the mail host and the autoconfig names of every mail domain; anything else is 404", () => {
    expect(/^\s*server_name (.*);$/m.exec(conf.replace(/^\s*server_name _;$/m, ""))?.[1].split(" ")).toEqual([
      "mail.example.test",
      "autoconfig.example.test",
      "autodiscover.example.test",
      "autoconfig.sub.example.test",
      "autodiscover.sub.example.test",
    ]);
    expect(conf).toMatch(/^\s*autoconfig\.sub\.example\.test sub\.example\.test;$/m);
    expect(conf).toContain("alias /etc/nginx/mail-system/autoconfig/$mail_domain.xml;");
    // Outlook's path in any case, and its POST.
    expect(conf).toContain("location ~* ^/autodiscover/autodiscover\\.xml$ {");
    expect(conf).toContain("error_page 405 =200 $uri;");
    expect(conf).toMatch(/location \/ \{\s*return 404;\s*\}/);
  });

  test("logs to the container's log in a container, to nginx's files on a host; the workers' account is the family's", () => {
    expect(conf).toMatch(/^error_log stderr warn;$/m);
    expect(conf).toMatch(/^\s*access_log \/dev\/stdout;$/m);
    expect(conf).toMatch(/^user www-data;$/m);
    const host = fileAt(renderWebFiles({ ...SETTINGS, container: false, family: "rhel" }), WEB.config).content;
    expect(host).toMatch(/^error_log \/var\/log\/nginx\/error\.log warn;$/m);
    expect(host).toMatch(/^\s*access_log \/var\/log\/nginx\/access\.log;$/m);
    expect(host).toMatch(/^user nginx;$/m);
  });

  test("names are lower-cased, and a domain listed twice is served once", () => {
    const again = renderWebFiles({ ...SETTINGS, hostname: "Mail.Example.TEST", mailDomains: ["Example.test", "example.test"] });
    expect(again.map((f) => f.path)).toEqual(["/etc/nginx/nginx.conf", "/etc/nginx/mail-system/autoconfig/example.test.xml", "/etc/nginx/mail-system/autodiscover.xml"]);
    expect(fileAt(again, WEB.config).content).toContain("server_name mail.example.test autoconfig.example.test autodiscover.example.test;");
  });

  test.each([
    [{ hostname: "mail example" }, 'web server settings: hostname "mail example" is not a DNS name'],
    [{ hostname: "localhost" }, 'web server settings: hostname "localhost" is not a DNS name'],
    [{ mailDomains: [] }, "web server settings: mailDomains [] must list at least one mail domain"],
    [{ mailDomains: ["example.test", "x;y.test"] }, 'web server settings: mailDomains[1] "x;y.test" is not a DNS name'],
    [{ hostname: "autoconfig.example.test" }, 'web server settings: hostname "autoconfig.example.test" is one of the autoconfig names'],
    [{ tls: { certificateFile: "/etc/ssl/mail/cert.pem; include /x", keyFile: "/k.pem" } }, "web server settings: tls.certificateFile"],
    [{ tls: { certificateFile: "/etc/ssl/../cert.pem", keyFile: "/k.pem" } }, "web server settings: tls.certificateFile"],
    [{ family: "arch" as never }, 'web server settings: family "arch" must be "debian" or "rhel"'],
    [{ autoconfig: false }, "web server settings: autoconfig false and no mtaSts: the web server would serve nothing"],
    [{ hostname: "mta-sts.example.test", mtaSts: { mode: "enforce" as const, maxAgeSeconds: 86400 } }, 'web server settings: hostname "mta-sts.example.test" is one of the MTA-STS names'],
  ])("refuses %j", (change, message) => {
    expect(() => renderWebFiles({ ...SETTINGS, ...change })).toThrow(message);
  });

  test("the XML renderers refuse what is not a DNS name", () => {
    expect(() => renderAutoconfigXml({ domain: "<x>", hostname: "mail.example.test" })).toThrow('domain "<x>" is not a DNS name');
    expect(() => renderAutodiscoverXml({ hostname: "mail.example.test&" })).toThrow("is not a DNS name");
  });
});

describe("the MTA-STS policy", () => {
  const mtaSts = { mode: "enforce", maxAgeSeconds: 604800 } as const;

  test("served at mta-sts.<d>/.well-known/mta-sts.txt as text/plain for every mail domain, next to autoconfig", () => {
    const files = renderWebFiles({ ...SETTINGS, mtaSts });
    expect(fileAt(files, WEB.mtaStsFile)).toMatchObject({ owner: "root", mode: "0644", content: renderMtaStsPolicy(mtaSts, "mail.example.test") });
    const conf = fileAt(files, WEB.config).content;
    const block = conf.slice(conf.indexOf("# MTA-STS"));
    expect(/server_name (.*);/.exec(block)?.[1]).toBe("mta-sts.example.test mta-sts.sub.example.test");
    expect(block).toMatch(/location = \/\.well-known\/mta-sts\.txt \{\s*types \{ \}\s*default_type text\/plain;\s*alias \/etc\/nginx\/mail-system\/mta-sts\.txt;\s*\}/);
    // The autoconfiguration is still there.
    expect(conf).toContain("location = /mail/config-v1.1.xml {");
  });

  test("without autoconfig: the policy alone, no autoconfig files or names", () => {
    const files = renderWebFiles({ ...SETTINGS, autoconfig: false, mtaSts });
    expect(files.map((f) => f.path)).toEqual([WEB.config, WEB.mtaStsFile]);
    const conf = fileAt(files, WEB.config).content;
    expect(conf).not.toMatch(/server_name .*auto|\$mail_domain|location = \/mail\//);
    expect([...conf.matchAll(/^\s*listen\s+(.*);$/gm)].map((m) => m[1])).toEqual([`${WEB_PORT} ssl default_server`, `${WEB_PORT} ssl`]);
  });

  test("without it (the default): no policy, no mta-sts names", () => {
    expect(files().map((f) => f.path)).not.toContain(WEB.mtaStsFile);
    expect(fileAt(files(), WEB.config).content).not.toContain("mta-sts");
  });
  const files = () => renderWebFiles(SETTINGS);
});
