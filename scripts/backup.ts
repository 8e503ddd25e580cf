// npm run backup -- <command> --stack <stack> [options]: runs mail-backup on
// a deployed stack's servers (in their containers, or over SSH with the
// stack's own host settings), so backups are listed, taken and restored with
// one documented command.
//   snapshots              each server's snapshots in the repository
//   status                 each server's last backup (and whether health calls it stale)
//   run                    backs up now (database first, then mail)
//   dkim-keys [--snapshot ID]
//                          puts the DKIM signing keys of a snapshot into the
//                          stack's configuration (mail-system:dkimKeys,
//                          secret): the next `pulumi up` signs with them and
//                          publishes their records, as the old stack did
//   restore [--user A]... [--snapshot ID] [--dry-run] [--overwrite] [--database]
//                          mail into the live maildirs (a message already
//                          there is kept unless --overwrite); with --database
//                          also the dump into the database
// It needs the stack's passphrase like `pulumi` does (PULUMI_CONFIG_PASSPHRASE).
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readRawConfig, validateConfig, describeProblems } from "../components/config";
import { BACKUP } from "../components/render/backup";

type Role = "db" | "mail";
const USAGE =
  "usage: npm run backup -- snapshots|status|run|dkim-keys|restore --stack <stack> [--user <address>]... [--snapshot <id>] [--dry-run] [--overwrite] [--database]";

function fail(message: string, code = 2): never {
  process.stderr.write(`backup: ${message}\n`);
  process.exit(code);
}

function pulumi(args: string[]): string {
  const r = spawnSync("pulumi", args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`pulumi ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim().split("\n").pop()}`, 1);
  return r.stdout;
}

interface Options {
  command: string;
  stack: string;
  users: string[];
  snapshot?: string;
  dryRun: boolean;
  overwrite: boolean;
  database: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { command: argv[0] ?? "", stack: "", users: [], dryRun: false, overwrite: false, database: false };
  if (!["snapshots", "status", "run", "dkim-keys", "restore"].includes(o.command)) fail(USAGE);
  for (let i = 1; i < argv.length; i++) {
    const value = () => argv[++i] ?? fail(`${argv[i - 1]} needs a value\n${USAGE}`);
    switch (argv[i]) {
      case "--stack": o.stack = value(); break;
      case "--user": o.users.push(value().toLowerCase()); break;
      case "--snapshot": o.snapshot = value(); break;
      case "--dry-run": o.dryRun = true; break;
      case "--overwrite": o.overwrite = true; break;
      case "--database": o.database = true; break;
      default: fail(`unknown argument ${argv[i]}\n${USAGE}`);
    }
  }
  if (!o.stack) fail(`--stack is required\n${USAGE}`);
  if (o.command !== "restore" && (o.users.length || o.dryRun || o.overwrite || o.database)) fail(`only restore takes these options\n${USAGE}`);
  if (o.snapshot !== undefined && !["restore", "dkim-keys"].includes(o.command)) fail(`--snapshot is for restore and dkim-keys\n${USAGE}`);
  if (o.users.length && o.database) fail("--database restores the whole database: it does not go with --user");
  return o;
}

/** How to run a command on a role's server: docker exec, or ssh with the stack's key and pinned host key. */
function runnerFor(stack: string): { run: (role: Role, argv: string[]) => SpawnSyncReturns<string>; cleanup: () => void } {
  const all = JSON.parse(pulumi(["config", "--json", "--show-secrets", "--stack", stack])) as Record<string, { value?: string }>;
  const raw = readRawConfig(Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.value ?? ""])));
  const { config, problems } = validateConfig(raw, stack);
  if (problems.length > 0) fail(describeProblems(problems));
  if (!config.backup) fail(`stack ${stack} has no backups (mail-system:backup is unset)`);
  const outputs = JSON.parse(pulumi(["stack", "output", "--json", "--stack", stack])) as { servers?: Record<Role, string> };
  if (!outputs.servers) fail(`stack ${stack} has no servers output: is it deployed?`);
  const servers = outputs.servers;
  if (config.target !== "ssh") {
    return { run: (role, argv) => spawnSync("docker", ["exec", servers[role], ...argv], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 }), cleanup: () => undefined };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-backup-"));
  const run = (role: Role, argv: string[]) => {
    const host = config.hosts![role];
    const key = path.join(dir, `${role}.key`);
    fs.writeFileSync(key, host.privateKey.trimEnd() + "\n", { mode: 0o600 });
    const known = path.join(dir, `${role}.known_hosts`);
    const target = host.port === 22 ? host.address : `[${host.address}]:${host.port}`;
    if (host.hostKey) fs.writeFileSync(known, `${target} ${host.hostKey}\n`);
    const ssh = ["-i", key, "-p", String(host.port), "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${known}`,
      "-o", `StrictHostKeyChecking=${host.hostKey ? "yes" : "accept-new"}`, `${host.user}@${host.address}`];
    // Over SSH the arguments are one shell line: each is quoted.
    const line = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
    return spawnSync("ssh", [...ssh, host.user === "root" ? line : `sudo -n ${line}`], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
  };
  return { run, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The snapshot's DKIM keys into the stack's configuration, replacing mail-system:dkimKeys (the keys never printed). */
function adoptDkimKeys(o: Options, run: (role: Role, argv: string[]) => SpawnSyncReturns<string>): number {
  const r = run("mail", [BACKUP.program, "dkim-keys", ...(o.snapshot ? ["--snapshot", o.snapshot] : [])]);
  if (r.error || r.status !== 0) fail(`reading the DKIM keys from the snapshot failed (exit ${r.status})`, 1);
  const keys = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { domain: string; selector: string; privateKey: string });
  if (keys.length === 0) fail("the snapshot holds no DKIM keys", 1);
  const set = (key: string, value: string, secret = false) =>
    pulumi(["config", "set", "--stack", o.stack, "--path", ...(secret ? ["--secret"] : ["--plaintext"]), `mail-system:dkimKeys${key}`, "--", value]);
  spawnSync("pulumi", ["config", "rm", "--stack", o.stack, "mail-system:dkimKeys"], { encoding: "utf8" });
  keys.forEach((k, i) => {
    set(`[${i}].domain`, k.domain);
    set(`[${i}].selector`, k.selector);
    set(`[${i}].privateKey`, k.privateKey, true);
  });
  process.stdout.write(
    `set ${keys.length} DKIM key(s) in stack ${o.stack}'s mail-system:dkimKeys (${keys.map((k) => `${k.selector}._domainkey.${k.domain}`).join(", ")}); ` +
      "run pulumi up to sign with them and publish their records\n",
  );
  return 0;
}

function main(): number {
  const o = parseArgs(process.argv.slice(2));
  const { run, cleanup } = runnerFor(o.stack);
  const step = (role: Role, argv: string[]): boolean => {
    const r = run(role, [BACKUP.program, ...argv]);
    if (r.error) fail(`cannot reach the ${role} server: ${r.error.message}`, 1);
    process.stdout.write(r.stdout);
    if (r.status !== 0) process.stderr.write(`backup: ${argv[0]} on the ${role} server failed (exit ${r.status})\n`);
    return r.status === 0;
  };
  try {
    switch (o.command) {
      case "snapshots":
        return ["db", "mail"].every((role) => (process.stdout.write(`${role}:\n`), step(role as Role, ["snapshots"]))) ? 0 : 1;
      case "status":
        return (["db", "mail"] as Role[]).map((role) => {
          process.stdout.write(`${role}:\n`);
          const shown = step(role, ["status"]);
          return run(role, [BACKUP.program, "health"]).status === 0 && shown;
        }).every(Boolean) ? 0 : 1;
      case "run":
        return step("db", ["run"]) && step("mail", ["run"]) ? 0 : 1;
      case "dkim-keys":
        return adoptDkimKeys(o, run);
      default: {
        const common = [...(o.snapshot ? ["--snapshot", o.snapshot] : []), ...(o.dryRun ? ["--dry-run"] : [])];
        if (o.database && !step("db", ["restore", ...common])) return 1;
        return step("mail", ["restore", ...common, ...(o.overwrite ? ["--overwrite"] : []), ...o.users.flatMap((u) => ["--user", u])]) ? 0 : 1;
      }
    }
  } finally {
    cleanup();
  }
}

process.exitCode = main();
