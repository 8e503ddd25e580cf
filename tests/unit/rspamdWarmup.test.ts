// The mail image's warm-up script (components/render/rspamdWarmup.ts); the
// image build runs it for real (tests/checkers/rspamd.test.ts looks at what
// it left).
import { execFileSync } from "child_process";
import { renderMailFilterFiles } from "../../components/render/mailFiles";
import { DEFAULT_FILTERING } from "../../components/render/rspamd";
import { RSPAMD_CACHE, rspamdWarmupScript } from "../../components/render/rspamdWarmup";
import { MAIL_IMAGE_WARMUP } from "../../components/mailServer";

const script = rspamdWarmupScript();

test("it parses (sh -n) and is the mail image's warm-up", () => {
  execFileSync("sh", ["-n"], { input: script });
  expect(MAIL_IMAGE_WARMUP).toBe(script);
});

test("it writes the program's Rspamd files at their defaults and removes every one of them again", () => {
  const files = renderMailFilterFiles({ mailDomains: ["warmup.invalid"], filtering: DEFAULT_FILTERING, container: true });
  expect(files.length).toBeGreaterThan(10);
  for (const f of files) {
    expect(script).toContain(`printf '%s' '${Buffer.from(f.content).toString("base64")}' | base64 -d >'${f.path}'`);
    expect(script.split("\n").find((l) => l.startsWith("rm -f "))).toContain(`'${f.path}'`);
  }
});

test("Rspamd runs as its own user, every wait is bounded, and it fails when the milter never listened or nothing was compiled", () => {
  expect(script).toContain("setpriv --reuid=_rspamd --regid=_rspamd --init-groups rspamd -f");
  for (const loop of script.match(/for i in [^;]*;/g) ?? []) expect(loop).toMatch(/^for i in \$\(seq 1 \d+\);$/);
  expect(script.match(/for i in/g)).toHaveLength(2);
  expect(script).toContain('kill "$pid"; wait "$pid" || true');
  expect(script).toContain('if [ -z "$up" ]; then echo "rspamd did not start:" >&2; cat /tmp/rspamd-warmup.log >&2; exit 1; fi');
  expect(script).toContain(`|| { echo "rspamd compiled nothing into ${RSPAMD_CACHE.dir}" >&2; exit 1; }`);
  // Only the compiled rules stay.
  expect(script).toContain(`find ${RSPAMD_CACHE.dir} -mindepth 1 ! \\( -name '*.hs' -o -name '*.hs.unser' -o -name '*.hsmp' -o -name '*.hsmc' \\) -exec rm -rf {} +`);
});
