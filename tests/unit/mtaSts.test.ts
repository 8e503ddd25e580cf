import { createHash } from "crypto";
import { DEFAULT_MTA_STS_MAX_AGE, isTlsRptUri, mtaStsTxt, renderMtaStsPolicy, tlsRptTxt } from "../../components/render/mtaSts";

const enforce = { mode: "enforce", maxAgeSeconds: DEFAULT_MTA_STS_MAX_AGE } as const;

test("the policy: RFC 8461's four fields, CRLF lines, the mail host as the one mx", () => {
  expect(renderMtaStsPolicy(enforce, "Mail.Example.test")).toBe("version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 604800\r\n");
  expect(renderMtaStsPolicy({ mode: "testing", maxAgeSeconds: 86400 }, "mail.example.test")).toContain("mode: testing\r\n");
});

test("the id is a digest of the policy: it changes exactly when the policy does", () => {
  const policy = renderMtaStsPolicy(enforce, "mail.example.test");
  const txt = mtaStsTxt(policy);
  expect(txt).toBe(`v=STSv1; id=${createHash("sha256").update(policy).digest("hex").slice(0, 20)}`);
  expect(txt).toMatch(/^v=STSv1; id=[0-9a-f]{20}$/);
  expect(mtaStsTxt(renderMtaStsPolicy(enforce, "mail.example.test"))).toBe(txt);
  for (const other of [
    renderMtaStsPolicy({ ...enforce, mode: "testing" }, "mail.example.test"),
    renderMtaStsPolicy({ ...enforce, maxAgeSeconds: 86400 }, "mail.example.test"),
    renderMtaStsPolicy(enforce, "mx.example.test"),
  ]) {
    expect(mtaStsTxt(other)).not.toBe(txt);
  }
});

test.each([
  [{ mode: "strict" as "enforce", maxAgeSeconds: 86400 }, "mail.example.test", /MTA-STS: mode "strict" must be one of enforce, testing, none/],
  [{ mode: "enforce" as const, maxAgeSeconds: 31557601 }, "mail.example.test", /maxAgeSeconds 31557601 must be a whole number of seconds from 0 to 31557600/],
  [{ mode: "enforce" as const, maxAgeSeconds: 1.5 }, "mail.example.test", /maxAgeSeconds 1.5/],
  [{ mode: "enforce" as const, maxAgeSeconds: 86400 }, "mail example", /mx "mail example" is not a host name/],
])("a bad policy is refused with its field: %j %s", (policy, mx, message) => {
  expect(() => renderMtaStsPolicy(policy, mx)).toThrow(message);
});

test("TLS-RPT: mailto and https URIs, comma-separated; anything else refused", () => {
  expect(tlsRptTxt(["mailto:tls@example.test"])).toBe("v=TLSRPTv1; rua=mailto:tls@example.test");
  expect(tlsRptTxt(["mailto:tls@example.test", "https://reports.example.test/tlsrpt"])).toBe(
    "v=TLSRPTv1; rua=mailto:tls@example.test,https://reports.example.test/tlsrpt",
  );
  for (const bad of ["tls@example.test", "http://example.test/", "mailto:a@b.test,mailto:c@d.test", "mailto:x;y@example.test", "https://exa mple.test/"]) {
    expect(isTlsRptUri(bad)).toBe(false);
    expect(() => tlsRptTxt([bad])).toThrow(/TLS-RPT: reportTo .* must be mailto:<address> or https:\/\/<host>\/<path>/);
  }
  expect(() => tlsRptTxt([])).toThrow(/at least one/);
});
