// mail-restore-maildirs (files/mail/backup/mail-restore-maildirs.py) run on
// this machine's python3 against restored and live Maildir++ trees built in
// a temporary directory: what lands in the live tree, what is left alone.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const PROGRAM = path.join(__dirname, "../../files/mail/backup/mail-restore-maildirs.py");
// As root the program chowns to --owner/--group; as anyone else it skips that.
const OWNER =
  process.getuid?.() === 0
    ? ["--owner", "root", "--group", "root"]
    : ["--owner", os.userInfo().username, "--group", execFileSync("id", ["-gn"], { encoding: "utf8" }).trim()];

interface MailboxReport {
  address: string;
  copied: number;
  bytes: number;
  skipped: number;
  replaced: number;
  foldersCreated: string[];
  folders: string[];
}
interface Report {
  dryRun: boolean;
  mailboxes: MailboxReport[];
  copied: number;
  skipped: number;
  replaced: number;
}

let dir: string;
let src: string; // the restored vhosts root, as restic leaves it in staging
let dst: string; // the live vhosts root
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "restore-maildirs-"));
  src = path.join(dir, "staging/var/mail/vhosts");
  dst = path.join(dir, "live");
  fs.mkdirSync(src, { recursive: true });
  fs.mkdirSync(dst, { recursive: true });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Files (path relative to root -> content); directories made as needed. */
function write(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
}

/** A mailbox with cur/new/tmp in each of its folders ("" is INBOX). */
function mailbox(root: string, mbox: string, folders: string[] = [""]): string {
  for (const f of folders) for (const s of ["cur", "new", "tmp"]) fs.mkdirSync(path.join(root, mbox, f, s), { recursive: true });
  return path.join(root, mbox);
}

/** Every entry under root: type, mode, content or link target. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(root, p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`L ${rel} -> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`D ${rel} ${mode}`);
        walk(p);
      } else out.push(`F ${rel} ${mode} ${st.mtimeMs} ${fs.readFileSync(p, "base64")}`);
    }
  };
  walk(root);
  return out;
}

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("python3", [PROGRAM, "--source", src, "--target", dst, ...OWNER, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runJson(...args: string[]): Report {
  const r = run("--json", ...args);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

const read = (p: string): string => fs.readFileSync(p, "utf8");

/** alice's restored mailbox: INBOX, Sent, Archive.2024, keywords, subscriptions, sieve, Dovecot's own files. */
function aliceSource(): string {
  const a = mailbox(src, "example.org/alice", ["", ".Sent", ".Archive.2024"]);
  write(a, {
    "cur/1700000001.M1P1.mx,S=10,W=11:2,FSa": "message 1\n",
    "new/1700000002.M2P2.mx": "message 2\n",
    ".Sent/cur/1700000003.M3P3.mx:2,S": "message 3\n",
    ".Sent/maildirfolder": "",
    ".Archive.2024/cur/1700000004.M4P4.mx:2,RS": "message 4\n",
    ".Archive.2024/maildirfolder": "",
    "dovecot-keywords": "0 $Forwarded\n",
    subscriptions: "Sent\nArchive.2024\n",
    "sieve/vacation.sieve": 'require "vacation";\n',
    "dovecot.index": "index",
    "dovecot.index.log": "log",
    "dovecot-uidlist": "3 V1 N5\n",
    "dovecot-uidvalidity.65000000": "",
    maildirsize: "1000S\n",
    "tmp/1700000009.half": "half a message",
    ".Sent/dovecot-uidlist": "3 V1 N2\n",
  });
  fs.symlinkSync("sieve/vacation.sieve", path.join(a, "dovecot.sieve"));
  fs.utimesSync(path.join(a, "cur/1700000001.M1P1.mx,S=10,W=11:2,FSa"), 1600000000, 1600000000);
  return a;
}

test("into an empty target every message is copied with its name, folders made, Dovecot's own files left out", () => {
  aliceSource();
  const report = runJson();
  expect(report).toEqual({
    dryRun: false,
    mailboxes: [
      {
        address: "alice@example.org",
        copied: 4,
        bytes: 40,
        skipped: 0,
        replaced: 0,
        foldersCreated: ["INBOX", "Archive.2024", "Sent"],
        folders: ["INBOX", "Archive.2024", "Sent"],
      },
    ],
    copied: 4,
    skipped: 0,
    replaced: 0,
  });
  const a = path.join(dst, "example.org/alice");
  expect(read(path.join(a, "cur/1700000001.M1P1.mx,S=10,W=11:2,FSa"))).toBe("message 1\n");
  expect(read(path.join(a, "new/1700000002.M2P2.mx"))).toBe("message 2\n");
  expect(read(path.join(a, ".Sent/cur/1700000003.M3P3.mx:2,S"))).toBe("message 3\n");
  expect(read(path.join(a, ".Archive.2024/cur/1700000004.M4P4.mx:2,RS"))).toBe("message 4\n");
  // Maildir's received date is the file's mtime.
  expect(fs.statSync(path.join(a, "cur/1700000001.M1P1.mx,S=10,W=11:2,FSa")).mtimeMs).toBe(1600000000 * 1000);
  expect(fs.statSync(path.join(a, "new/1700000002.M2P2.mx")).mode & 0o777).toBe(0o600);
  for (const f of ["", ".Sent", ".Archive.2024"])
    for (const s of ["cur", "new", "tmp"]) expect(fs.statSync(path.join(a, f, s)).mode & 0o777).toBe(0o700);
  expect(fs.existsSync(path.join(a, ".Sent/maildirfolder"))).toBe(true);
  expect(read(path.join(a, "dovecot-keywords"))).toBe("0 $Forwarded\n");
  expect(read(path.join(a, "subscriptions"))).toBe("Sent\nArchive.2024\n");
  expect(read(path.join(a, "sieve/vacation.sieve"))).toBe('require "vacation";\n');
  expect(fs.readlinkSync(path.join(a, "dovecot.sieve"))).toBe("sieve/vacation.sieve");
  for (const gone of ["dovecot.index", "dovecot.index.log", "dovecot-uidlist", "dovecot-uidvalidity.65000000", "maildirsize", ".Sent/dovecot-uidlist"])
    expect(fs.existsSync(path.join(a, gone))).toBe(false);
  expect(fs.readdirSync(path.join(a, "tmp"))).toEqual([]); // nor restic's tmp/, nor our own temporaries
  expect(fs.readdirSync(path.join(a, ".Sent/tmp"))).toEqual([]);
});

test("a message the live folder has is kept and counted skipped; subscriptions are merged", () => {
  aliceSource();
  const a = mailbox(dst, "example.org/alice");
  // The live copy of message 1 was read and answered since the backup; message 2 was read.
  write(a, {
    "cur/1700000001.M1P1.mx,S=10,W=11:2,RS": "live 1\n",
    "cur/1700000002.M2P2.mx:2,S": "live 2\n",
    "cur/1800000000.M9P9.mx:2,": "newer\n",
    subscriptions: "Trash\nSent\n",
  });
  const report = runJson();
  expect(report.mailboxes[0]).toMatchObject({ copied: 2, skipped: 2, replaced: 0, foldersCreated: ["Archive.2024", "Sent"] });
  expect(fs.readdirSync(path.join(a, "cur")).sort()).toEqual([
    "1700000001.M1P1.mx,S=10,W=11:2,RS",
    "1700000002.M2P2.mx:2,S",
    "1800000000.M9P9.mx:2,",
  ]);
  expect(fs.readdirSync(path.join(a, "new"))).toEqual([]);
  expect(read(path.join(a, "cur/1700000001.M1P1.mx,S=10,W=11:2,RS"))).toBe("live 1\n");
  expect(read(path.join(a, "subscriptions"))).toBe("Trash\nSent\nArchive.2024\n");

  // Run again: everything is there now, nothing changes.
  const before = snapshot(dst);
  const again = run();
  expect(again.status).toBe(0);
  expect(again.stdout).toContain("alice@example.org: 0 messages copied (0 bytes); 4 already there (kept, newer flags win)");
  expect(snapshot(dst)).toEqual(before);
});

test("--overwrite puts the restored copy in the live one's place", () => {
  aliceSource();
  const a = mailbox(dst, "example.org/alice");
  write(a, { "cur/1700000001.M1P1.mx,S=10,W=11:2,RS": "live 1\n", "cur/1800000000.M9P9.mx:2,": "newer\n" });
  const report = runJson("--overwrite");
  expect(report).toMatchObject({ copied: 3, skipped: 0, replaced: 1 });
  expect(fs.readdirSync(path.join(a, "cur")).sort()).toEqual(["1700000001.M1P1.mx,S=10,W=11:2,FSa", "1800000000.M9P9.mx:2,"]);
  expect(read(path.join(a, "cur/1700000001.M1P1.mx,S=10,W=11:2,FSa"))).toBe("message 1\n");
  expect(read(path.join(a, "cur/1800000000.M9P9.mx:2,"))).toBe("newer\n"); // not in the backup: untouched
});

test("--dry-run changes nothing and reports what the real run then does", () => {
  aliceSource();
  const a = mailbox(dst, "example.org/alice");
  write(a, { "cur/1700000001.M1P1.mx,S=10,W=11:2,RS": "live 1\n", subscriptions: "Trash\n", "dovecot-keywords": "0 $Label1\n" });
  const before = snapshot(dst);
  const planned = runJson("--dry-run");
  expect(snapshot(dst)).toEqual(before);
  const human = run("--dry-run");
  expect(human.status).toBe(0);
  expect(human.stdout).toContain(
    "alice@example.org: 3 messages to copy (30 bytes) into INBOX, Archive.2024, Sent; 1 already there (kept, newer flags win); folders to create: Archive.2024, Sent",
  );
  expect(human.stdout).toMatch(/^total: 1 mailboxes, 3 messages to copy \(30 bytes\), 1 skipped, 0 replaced \(dry run: nothing changed\)$/m);
  expect(snapshot(dst)).toEqual(before);
  const done = runJson();
  expect(planned.dryRun).toBe(true);
  expect(done.dryRun).toBe(false);
  expect({ ...planned, dryRun: false }).toEqual(done);
  expect(snapshot(dst)).not.toEqual(before);

  // The same for --overwrite, on the now-restored tree.
  write(a, { "cur/1700000002.M2P2.mx:2,S": "live 2\n" });
  fs.unlinkSync(path.join(a, "new/1700000002.M2P2.mx"));
  const before2 = snapshot(dst);
  const planned2 = runJson("--dry-run", "--overwrite");
  expect(snapshot(dst)).toEqual(before2);
  expect(planned2).toMatchObject({ copied: 0, replaced: 4, skipped: 0 });
  expect({ ...planned2, dryRun: false }).toEqual(runJson("--overwrite"));
});

test("--user restores that mailbox only", () => {
  aliceSource();
  write(mailbox(src, "example.org/bob"), { "cur/1.M1P1.mx:2,S": "bob's\n" });
  write(mailbox(src, "example.net/carol"), { "new/2.M2P2.mx": "carol's\n" });
  const report = runJson("--user", "Bob@Example.org");
  expect(report.mailboxes.map((m) => m.address)).toEqual(["bob@example.org"]);
  expect(report.copied).toBe(1);
  expect(fs.readdirSync(dst)).toEqual(["example.org"]);
  expect(fs.readdirSync(path.join(dst, "example.org"))).toEqual(["bob"]);
  expect(read(path.join(dst, "example.org/bob/cur/1.M1P1.mx:2,S"))).toBe("bob's\n");

  // Without --user: every mailbox, listed for doveadm force-resync.
  const all = runJson();
  expect(all.mailboxes.map((m) => m.address)).toEqual(["carol@example.net", "alice@example.org", "bob@example.org"]);
  expect(all).toMatchObject({ copied: 5, skipped: 1 });
});

test.each([
  ["no-at-sign", "not an address"],
  ["a@b@example.org", "not an address"],
  ["@example.org", "not a valid mailbox address"],
  ["alice@", "not a valid mailbox address"],
  ["../alice@example.org", "not a valid mailbox address"],
  ["alice@../../etc", "not a valid mailbox address"],
  [".alice@example.org", "not a valid mailbox address"],
  ["al/ice@example.org", "not a valid mailbox address"],
])("a bad address (%s) is refused before anything changes", (address, message) => {
  aliceSource();
  const before = snapshot(dst);
  const r = run("--user", "alice@example.org", "--user", address);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^mail-restore-maildirs: .*${message}`));
  expect(r.stdout).toBe("");
  expect(snapshot(dst)).toEqual(before);
});

test("a mailbox the backup does not have is refused before anything changes", () => {
  aliceSource();
  const before = snapshot(dst);
  const r = run("--user", "alice@example.org", "--user", "nobody@example.org");
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^mail-restore-maildirs: nobody@example\.org: no mailbox in the source/);
  expect(snapshot(dst)).toEqual(before);
  // Nor are missing roots or a missing option accepted.
  expect(run("--user", "alice@example.org", "--target", path.join(dir, "nowhere")).status).toBe(2);
  const usage = spawnSync("python3", [PROGRAM, "--source", src], { encoding: "utf8" });
  expect(usage.status).toBe(2);
  expect(usage.stderr).toMatch(/^mail-restore-maildirs: .*--target/);
});

test("keyword letters are remapped where the live dovecot-keywords differs", () => {
  const s = mailbox(src, "example.org/alice", ["", ".Work"]);
  write(s, {
    "dovecot-keywords": "0 $Forwarded\n1 Important\n2 $Junk\n",
    "cur/1.M1P1.mx:2,Sa": "forwarded\n",
    "cur/2.M2P2.mx:2,FSbc": "important junk\n",
    "cur/3.M3P3.mx:2,Sz": "undefined letter\n",
    ".Work/dovecot-keywords": "0 Project\n",
    ".Work/cur/4.M4P4.mx:2,a": "project\n",
  });
  const a = mailbox(dst, "example.org/alice");
  write(a, { "dovecot-keywords": "0 Important\n1 $Forwarded\n" });
  const report = runJson();
  expect(report.copied).toBe(4);
  // $Forwarded is b, Important a live; $Junk is added as c; z meant nothing in the backup.
  expect(fs.readdirSync(path.join(a, "cur")).sort()).toEqual(["1.M1P1.mx:2,Sb", "2.M2P2.mx:2,FSac", "3.M3P3.mx:2,S"]);
  expect(read(path.join(a, "dovecot-keywords"))).toBe("0 Important\n1 $Forwarded\n2 $Junk\n");
  expect(read(path.join(a, "cur/2.M2P2.mx:2,FSac"))).toBe("important junk\n");
  // A folder the live mailbox lacks takes the restored keywords file as it is.
  expect(fs.readdirSync(path.join(a, ".Work/cur"))).toEqual(["4.M4P4.mx:2,a"]);
  expect(read(path.join(a, ".Work/dovecot-keywords"))).toBe("0 Project\n");

  // In a dry run the live file stays as it is.
  write(a, { ".Work/dovecot-keywords": "0 Other\n" });
  fs.unlinkSync(path.join(a, ".Work/cur/4.M4P4.mx:2,a"));
  const before = snapshot(dst);
  expect(runJson("--dry-run").copied).toBe(1);
  expect(snapshot(dst)).toEqual(before);
  runJson();
  expect(fs.readdirSync(path.join(a, ".Work/cur"))).toEqual(["4.M4P4.mx:2,b"]);
  expect(read(path.join(a, ".Work/dovecot-keywords"))).toBe("0 Other\n1 Project\n");
});

test("symlinks in the restored tree are not followed", () => {
  const outside = path.join(dir, "outside");
  write(outside, { "secret:2,S": "secret\n", "cur/5.M5P5.mx:2,S": "outside folder\n", "sieve/x.sieve": "outside sieve\n" });
  const a = mailbox(src, "example.org/alice");
  write(a, { "cur/1.M1P1.mx:2,S": "real\n" });
  fs.symlinkSync(path.join(outside, "secret:2,S"), path.join(a, "cur/6.M6P6.mx:2,S"));
  fs.symlinkSync(outside, path.join(a, ".Evil"));
  fs.symlinkSync(outside, path.join(src, "example.org/mallory"));
  fs.symlinkSync(path.join(outside, "sieve"), path.join(src, "example.org/alice/sieve"));
  const b = mailbox(src, "example.org/bob");
  fs.mkdirSync(path.join(b, "sieve"));
  fs.symlinkSync("/etc/passwd", path.join(b, "dovecot.sieve"));

  const r = run("--json");
  expect(r.status).toBe(0);
  expect(r.stderr).toContain("dovecot.sieve: points out of the mailbox (/etc/passwd), not restored");
  const report = JSON.parse(r.stdout) as Report;
  expect(report.mailboxes.map((m) => m.address)).toEqual(["alice@example.org", "bob@example.org"]);
  expect(report.copied).toBe(1);
  const live = path.join(dst, "example.org");
  expect(fs.readdirSync(path.join(live, "alice/cur"))).toEqual(["1.M1P1.mx:2,S"]);
  expect(fs.existsSync(path.join(live, "alice/.Evil"))).toBe(false);
  expect(fs.existsSync(path.join(live, "alice/sieve"))).toBe(false);
  expect(fs.existsSync(path.join(live, "mallory"))).toBe(false);
  expect(fs.existsSync(path.join(live, "bob/sieve"))).toBe(true);
  expect(fs.existsSync(path.join(live, "bob/dovecot.sieve"))).toBe(false);
  expect(run("--user", "mallory@example.org").status).toBe(2);
});

test("a live sieve/ is left alone", () => {
  aliceSource();
  const a = mailbox(dst, "example.org/alice");
  write(a, { "sieve/mine.sieve": "keep;\n" });
  fs.symlinkSync("sieve/mine.sieve", path.join(a, "dovecot.sieve"));
  runJson();
  expect(fs.readdirSync(path.join(a, "sieve"))).toEqual(["mine.sieve"]);
  expect(fs.readlinkSync(path.join(a, "dovecot.sieve"))).toBe("sieve/mine.sieve");
});
