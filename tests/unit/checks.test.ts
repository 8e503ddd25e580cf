// The shared name and address checks, and that the configuration and the
// renderers apply the same ones: what a stack may configure, they render.
import { validateConfig } from "../../components/config";
import { checkMailServerSettings } from "../../components/render/postfix";
import { isDkimSelector } from "../../components/render/opendkim";
import { upsertDomainSql, upsertUserSql } from "../../components/render/mailSql";
import { renderZone } from "../../components/render/bind";
import { sha512Crypt } from "../../components/passwordHash";
import {
  isDnsLabel,
  isDnsName,
  isDomainName,
  isEmailAddress,
  isIPv4,
  isPort,
  parseIPv4,
  splitAddress,
} from "../../components/render/checks";

describe("shared checks", () => {
  test("a DNS label: letters, digits, inner hyphens, 1-63 characters, any case", () => {
    expect(["a", "mail", "Mail-2", "x".repeat(63), "0"].every((l) => isDnsLabel(l))).toBe(true);
    expect(["", "-a", "a-", "a_b", "a.b", "x".repeat(64), "é", "a b"].some((l) => isDnsLabel(l))).toBe(false);
    expect(isDnsLabel("_dmarc", { underscores: true })).toBe(true);
    expect(isDnsLabel("-x", { underscores: true })).toBe(false);
  });

  test("a DNS name: labels and dots, at most 253 characters; a domain has two labels and no numeric top", () => {
    const long = Array.from({ length: 4 }, () => "x".repeat(63)).join(".");
    expect(isDnsName("db")).toBe(true);
    expect(isDnsName("db", { minLabels: 2 })).toBe(false);
    expect(isDnsName(long.slice(0, 253))).toBe(true);
    expect(isDnsName(`${long}`)).toBe(false);
    expect(["", "a..b", ".a", "a.", "a b.c"].some((n) => isDnsName(n))).toBe(false);
    expect(isDomainName("mail.rockylinux.me")).toBe(true);
    expect(["rockylinux", "192.168.100.6", "a.123"].some(isDomainName)).toBe(false);
  });

  test("an e-mail address: a plain local part at a domain", () => {
    expect(["frank@mail.rockylinux.me", "a.b+c_d-e@x.org"].every(isEmailAddress)).toBe(true);
    expect(["frank@", "@x.org", "a..b@x.org", ".a@x.org", "o'brien@x.org", "a@x", "a@b@x.org"].some(isEmailAddress)).toBe(false);
    expect(splitAddress("a@b@x.org")).toEqual({ local: "a@b", domain: "x.org" });
    expect(splitAddress("nobody")).toBeUndefined();
  });

  test("an IPv4 address: dotted quad, no leading zeros; and a port", () => {
    expect(parseIPv4("192.168.100.6")).toBe(0xc0a86406);
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff);
    expect(["192.168.100.256", "10.0.0.01", "10.0.0", "1.2.3.4.5", " 1.2.3.4"].some(isIPv4)).toBe(false);
    expect([1, 22, 65535].every(isPort)).toBe(true);
    expect([0, 65536, 1.5, "22", NaN].some(isPort)).toBe(false);
  });
});

describe("the configuration accepts only what the renderers render", () => {
  const HASH = sha512Crypt("password", "salt");
  const base = { domain: "rockylinux.me", users: [{ email: "frank@rockylinux.me" }] };

  test.each(["rockylinux.me", "Mail-1.Rockylinux.me", "a-b.c-d.e"])("the zone %j", (zone) => {
    const { config, problems } = validateConfig({ ...base, domain: zone, users: [{ email: `ann@${zone}` }] }, "s");
    expect(problems).toEqual([]);
    const hostname = `${config.mailHost}.${config.domain}`;
    const database = { host: config.dbAddress, port: 3306, name: "mailserver", user: "mailuser", password: "pw", caFile: "/db-ca.pem" };
    const tls = { certificateFile: "/c.pem", keyFile: "/k.pem" };
    expect(() => checkMailServerSettings({ hostname, domain: config.domain, listenAddress: config.mailAddress, database, tls })).not.toThrow();
    expect(() => upsertDomainSql(config.domain)).not.toThrow();
    expect(() => upsertUserSql(config.users[0].email, HASH)).not.toThrow();
    const zoneSpec = {
      origin: config.domain,
      serial: 1,
      primaryNameserver: `${config.dnsHost}.${config.domain}.`,
      hostmaster: `hostmaster.${config.domain}.`,
      records: [{ name: config.dnsHost, type: "A" as const, value: config.dnsAddress }],
    };
    expect(() => renderZone(zoneSpec)).not.toThrow();
  });

  test.each(["mail", "s2026", "a".repeat(63), " Sel-1 "])("the DKIM selector %j", (selector) => {
    const { config, problems } = validateConfig({ ...base, dkimSelector: selector }, "s");
    expect(problems).toEqual([]);
    expect(isDkimSelector(config.dkimSelector)).toBe(true);
  });
});
