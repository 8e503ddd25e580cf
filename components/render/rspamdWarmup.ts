// The mail image's warm-up (ServerSpec.imageWarmup). At its first start
// Rspamd compiles its rules (Hyperscan databases of its regular expressions
// and pattern lists) into /var/lib/rspamd: about 10 s of a core before its
// milter listens, in every new container's empty volume. The image build
// does it once, with the program's own Rspamd configuration at its defaults
// (nothing in it reaches the internet), then removes that configuration and
// everything but the compiled rules: Docker copies them into a new volume
// mounted there, and what a stack's own settings add (its domains' lists) is
// compiled at its start. A host compiles at Rspamd's first start and keeps it.
import { renderMailFilterFiles } from "./mailFiles";
import { DEFAULT_FILTERING, RSPAMD_MILTER } from "./rspamd";
import { shq } from "./template";

/** Where Rspamd keeps what it compiled (its Debian default), and what of it the image keeps. */
export const RSPAMD_CACHE = { dir: "/var/lib/rspamd", kept: ["*.hs", "*.hs.unser", "*.hsmp", "*.hsmc"] } as const;

/** The warm-up's shell (sh -e, as root, at image build): bounded, and leaves nothing running. */
export function rspamdWarmupScript(): string {
  const files = renderMailFilterFiles({ mailDomains: ["warmup.invalid"], filtering: DEFAULT_FILTERING, container: true });
  const keep = RSPAMD_CACHE.kept.map((k) => `-name ${shq(k)}`).join(" -o ");
  return [
    ...files.map((f) => `mkdir -p ${shq(f.path.replace(/\/[^/]+$/, ""))}; printf '%s' ${shq(Buffer.from(f.content).toString("base64"))} | base64 -d >${shq(f.path)}`),
    "install -d -o _rspamd -g _rspamd -m 0755 /run/rspamd",
    // As the container runs it (MAIL_SERVICES), so what it writes is its user's.
    "setpriv --reuid=_rspamd --regid=_rspamd --init-groups rspamd -f >/tmp/rspamd-warmup.log 2>&1 &",
    "pid=$!",
    // Its milter takes connections once the main process has compiled the
    // pattern lists and started the workers (the health check's proof; no
    // Redis here, which rspamc stat would want).
    'up=""',
    `for i in $(seq 1 240); do if python3 -c ${shq(`import socket; socket.create_connection(("${RSPAMD_MILTER.host}", ${RSPAMD_MILTER.port}), 1)`)} 2>/dev/null; then up=1; break; fi; sleep 0.5; done`,
    // Then its helper compiles the regular expressions: until no file is added for 5 s (at most 2 min).
    "n=-1; same=0",
    `for i in $(seq 1 120); do c=$(ls ${RSPAMD_CACHE.dir} | wc -l); if [ "$c" = "$n" ]; then same=$((same + 1)); else same=0; fi; n=$c; [ "$same" -lt 5 ] || break; sleep 1; done`,
    'kill "$pid"; wait "$pid" || true',
    'if [ -z "$up" ]; then echo "rspamd did not start:" >&2; cat /tmp/rspamd-warmup.log >&2; exit 1; fi',
    `rm -f ${files.map((f) => shq(f.path)).join(" ")}`,
    `rmdir ${shq(`${files.find((f) => f.path.includes("/maps.d/"))!.path.replace(/\/[^/]+$/, "")}`)} 2>/dev/null || true`,
    "rm -rf /run/rspamd /tmp/rspamd-warmup.log /var/log/rspamd/*",
    `find ${RSPAMD_CACHE.dir} -mindepth 1 ! \\( ${keep} \\) -exec rm -rf {} +`,
    `test -n "$(find ${RSPAMD_CACHE.dir} -name '*.hsmp')" || { echo "rspamd compiled nothing into ${RSPAMD_CACHE.dir}" >&2; exit 1; }`,
  ].join("\n");
}
