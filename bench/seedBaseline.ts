// The throughput baseline of the seed's own configuration: Postfix and
// Dovecot set up as ../shared/seed/basic-email-system.md sets them up (its
// main.cf, master.cf services, MySQL maps and Dovecot edits, in bench/seed/),
// in a container from the product's own mail image (the same Debian
// packages) on the same lab network, reading the same database rows through
// an account of its own. What differs from the product is the configuration,
// nothing else: both log to the container's log, both run without chroot.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fill, TemplateValues } from "../components/render/template";
import { sqlString } from "../components/render/mailSql";
import { docker, dockerWithInput, waitFor } from "./common";

const SEED_DIR = path.join(__dirname, "seed");
/** The database account the seed's maps and Dovecot log in as (the seed's own name for it). */
const SEED_DB_USER = "mailrl";

export interface SeedServer {
  name: string;
  address: string;
  /** The database container whose account it made (dropped again by removeSeedMail). */
  dbContainer: string;
  /** The database's max_connections before the run (restored by removeSeedMail). */
  maxConnections: string;
}

/**
 * Room on the database for the seed's connections. Its maps are not shared
 * through proxymap: every smtpd and cleanup process opens one connection per
 * map (the product's go through one proxymap), so 20 parallel sessions pass
 * MariaDB's and MySQL's default of 151 ("Too many connections": mail refused
 * with 451, and the product's own lookups refused with it). Measured, not
 * hidden: bench/README.md says so.
 */
const SEED_MAX_CONNECTIONS = 1000;

const sql = (container: string, text: string) => dockerWithInput(["exec", "-i", container, "mysql", "--batch", "--skip-column-names"], text);

/** Fills `template` with those of `values` it names (the seed's files each use a few of them). */
function fillSome(template: string, values: TemplateValues, name: string): string {
  const named = new Set([...template.matchAll(/\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g)].map((m) => m[1]));
  return fill(template, Object.fromEntries(Object.entries(values).filter(([k]) => named.has(k))), name);
}

/** bench/seed's files rendered into a new private directory (they hold the password); returns it. */
function renderSeedFiles(values: TemplateValues): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-seed-"));
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(SEED_DIR, rel), { withFileTypes: true })) {
      const relPath = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        fs.mkdirSync(path.join(out, relPath), { mode: 0o700 });
        walk(relPath);
      } else {
        const text = fs.readFileSync(path.join(SEED_DIR, relPath), "utf8");
        fs.writeFileSync(path.join(out, relPath), fillSome(text, values, `bench/seed/${relPath}`), { mode: entry.name.endsWith(".sh") ? 0o700 : 0o600 });
      }
    }
  };
  walk("");
  return out;
}

/**
 * Starts the seed-configured mail server at `address` on `network` and waits
 * until Postfix and Dovecot run (LMTP socket present, `postfix status` 0,
 * `doveconf -n` valid).
 */
export async function startSeedMail(o: {
  name: string; image: string; network: string; label: string; address: string; dns: string;
  hostname: string; domain: string; db: { container: string; address: string };
}): Promise<SeedServer> {
  const password = crypto.randomBytes(24).toString("hex");
  const account = `${sqlString(SEED_DB_USER)}@${sqlString(o.address)}`;
  // On stdin, never on a command line.
  const maxConnections = (await sql(o.db.container, "SELECT @@GLOBAL.max_connections;\n")).trim();
  await sql(o.db.container, `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${sqlString(password)};\nGRANT SELECT ON mailserver.* TO ${account};\n` +
    `SET GLOBAL max_connections = ${SEED_MAX_CONNECTIONS};\n`);
  const server = { name: o.name, address: o.address, dbContainer: o.db.container, maxConnections };
  try {
    const dir = renderSeedFiles({ hostname: o.hostname, domain: o.domain, address: o.address, dbAddress: o.db.address, user: SEED_DB_USER, password });
    try {
      await docker("create", "--name", o.name, "--network", o.network, "--ip", o.address, "--dns", o.dns, "--label", o.label,
        "--hostname", o.hostname, "--init", "-e", `SEED_HOSTNAME=${o.hostname}`, "-e", `SEED_ADDRESS=${o.address}`,
        "-v", "/var/mail", "-v", "/var/spool/postfix", "--entrypoint", "/bin/sh", o.image, "/seed/start.sh");
      await docker("cp", `${dir}/.`, `${o.name}:/seed`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await docker("start", o.name);
    const up = await waitFor(async () => {
      await docker("exec", o.name, "sh", "-c", "test -S /var/spool/postfix/private/dovecot-lmtp && postfix status 2>/dev/null");
      return true;
    }, 90_000);
    if (!up) {
      const logs = await docker("logs", "--tail", "40", o.name).catch((e) => String(e));
      throw new Error(`the seed-configured mail server did not start:\n${logs}`);
    }
    await docker("exec", o.name, "doveconf", "-n");
  } catch (e) {
    // Not left on the lab's network, where it would stop the stack's destroy from removing the network.
    await removeSeedMail(server);
    throw e;
  }
  return server;
}

/** Removes the container (with its anonymous volumes) and the database account, and restores max_connections. */
export async function removeSeedMail(s: SeedServer): Promise<void> {
  await docker("rm", "-f", "-v", s.name).catch(() => undefined);
  const limit = /^\d+$/.test(s.maxConnections) ? `SET GLOBAL max_connections = ${s.maxConnections};\n` : "";
  await sql(s.dbContainer, `DROP USER IF EXISTS ${sqlString(SEED_DB_USER)}@${sqlString(s.address)};\n${limit}`).catch(() => undefined);
}
