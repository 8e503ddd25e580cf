#!/usr/bin/env python3
"""mail-restore-maildirs: merge a restored copy of /var/mail/vhosts into the live one.

Restic restores a snapshot into a staging directory; this merges its Maildir++
mailboxes (<root>/<domain>/<local>/, INBOX in the mailbox directory itself,
folders in its .Name/ subdirectories) into the live tree while Dovecot runs:

- A message is known by the part of its file name before ":2,". If the live
  folder has it (in cur/ or new/), the live copy wins: its flags may be newer.
  --overwrite replaces the live file(s) with the restored one instead.
- Each message is copied into the folder's tmp/ and renamed into cur/ or new/,
  as a delivery is, so Dovecot never sees half a message; mtimes (Maildir's
  received date) are kept.
- Keywords are letters in file names, meaning what the folder's
  dovecot-keywords says; where the live file says otherwise, the restored
  messages' letters are remapped (and missing names added to the live file).
- subscriptions are merged; sieve/ and dovecot.sieve are restored only where
  the live mailbox has no sieve/. Indexes, dovecot-uidlist, maildirsize and
  tmp/ are never copied: the caller runs `doveadm force-resync` and
  `doveadm quota recalc` for each mailbox listed, and Dovecot rebuilds them.

Symlinks in the restored tree are not followed (dovecot.sieve is recreated
as a link if it stays inside the mailbox). --dry-run changes nothing and
reports the same plan. Exit 0 done, 2 usage, 1 I/O error.
Counts: "copied" are new to the live folder, "replaced" overwrote a live
copy, "skipped" kept one; "bytes" is what was (or would be) written.
Python 3.6+ (Rocky 8's python3), standard library only.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

PROG = "mail-restore-maildirs"
SUBDIRS = ("cur", "new")
KEYWORDS = "dovecot-keywords"


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def check_address(address):
    """(domain, local) of a valid address, lower-cased; UsageError otherwise."""
    address = address.strip().lower()
    if address.count("@") != 1:
        raise UsageError(f"{address!r}: not an address (exactly one @ expected)")
    local, domain = address.split("@")
    for part in (local, domain):
        if not safe_name(part):
            raise UsageError(f"{address!r}: not a valid mailbox address")
    return domain, local


def safe_name(name):
    # One path component that cannot climb out or hide: no /, .., leading dot.
    return bool(name) and "/" not in name and "\0" not in name and not name.startswith(".") and ".." not in name


def is_dir(path):  # a real directory, not a symlink to one
    return os.path.isdir(path) and not os.path.islink(path)


def is_file(path):
    return os.path.isfile(path) and not os.path.islink(path)


def entries(path):
    """A directory's entries sorted by name; none if it is missing or a symlink."""
    if not is_dir(path):
        return []
    return sorted((e for e in os.scandir(path) if e.name not in (".", "..")), key=lambda e: e.name)


def identity(name):
    return name.split(":2,", 1)[0]


def read_keywords(path):
    """dovecot-keywords as {letter: name}, None if there is no such file."""
    if not is_file(path):
        return None
    result = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            number, _, name = line.rstrip("\n").partition(" ")
            if number.isdigit() and int(number) < 26 and name:
                result[chr(ord("a") + int(number))] = name
    return result


def append_lines(path, lines):
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        if f.tell():
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
        f.write(b"".join(line + b"\n" for line in lines))


class Restorer:
    def __init__(self, dry_run, overwrite, uid, gid):
        self.dry_run, self.overwrite, self.uid, self.gid = dry_run, overwrite, uid, gid

    def own(self, path, mode):
        if not os.path.islink(path):
            os.chmod(path, mode)
        if self.uid is not None:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def mkdir(self, path):
        """Create a directory (0700, owned); False if it was there already."""
        if os.path.isdir(path):
            return False
        if not self.dry_run:
            os.mkdir(path, 0o700)
            self.own(path, 0o700)
        return True

    def copy_file(self, src, dst):
        shutil.copy2(src, dst)
        self.own(dst, 0o600)

    def mailbox(self, address, src, dst):
        report = {"address": address, "copied": 0, "bytes": 0, "skipped": 0, "replaced": 0,
                  "foldersCreated": [], "folders": [], "subscriptionsAdded": 0, "sieve": False}
        self.mkdir(os.path.dirname(dst))
        folders = [("INBOX", "")] + [
            (e.name[1:], e.name) for e in entries(src)
            if e.name.startswith(".") and e.is_dir(follow_symlinks=False)
            and any(is_dir(os.path.join(e.path, s)) for s in SUBDIRS)]
        for label, name in folders:
            self.folder(report, label, os.path.join(src, name), os.path.join(dst, name))
        report["subscriptionsAdded"] = self.subscriptions(src, dst)
        report["sieve"] = self.sieve(src, dst)
        return report

    def folder(self, report, label, src, dst):
        if self.mkdir(dst):
            report["foldersCreated"].append(label)
            if label != "INBOX" and is_file(os.path.join(src, "maildirfolder")) and not self.dry_run:
                self.copy_file(os.path.join(src, "maildirfolder"), os.path.join(dst, "maildirfolder"))
        for sub in SUBDIRS + ("tmp",):
            self.mkdir(os.path.join(dst, sub))
        src_kw = read_keywords(os.path.join(src, KEYWORDS))
        live_kw = read_keywords(os.path.join(dst, KEYWORDS))
        if src_kw is not None and live_kw is None and not self.dry_run:
            self.copy_file(os.path.join(src, KEYWORDS), os.path.join(dst, KEYWORDS))
        remap = src_kw is not None and live_kw is not None and src_kw != live_kw
        live = {}
        for sub in SUBDIRS:
            for e in entries(os.path.join(dst, sub)):
                live.setdefault(identity(e.name), []).append(e.path)
        seen = set()
        for sub in SUBDIRS:
            for e in entries(os.path.join(src, sub)):
                if not e.is_file(follow_symlinks=False) or e.name.startswith("."):
                    continue
                ident = identity(e.name)
                old = live.get(ident, [])
                if ident in seen or (old and not self.overwrite):
                    report["skipped"] += 1
                    continue
                seen.add(ident)
                name = self.remap(e.name, src_kw, live_kw, os.path.join(dst, KEYWORDS)) if remap else e.name
                if not self.dry_run:
                    self.deliver(e.path, dst, sub, name, old)
                report["replaced" if old else "copied"] += 1
                report["bytes"] += e.stat(follow_symlinks=False).st_size
                if label not in report["folders"]:
                    report["folders"].append(label)

    def remap(self, name, src_kw, live_kw, live_path):
        """The file name with its keyword letters as the live folder spells them."""
        ident, sep, flags = name.partition(":2,")
        result = set()
        for c in flags:
            if "a" <= c <= "z":
                keyword = src_kw.get(c)
                # A letter the restored folder never defined means nothing: dropped.
                c = self.live_letter(keyword, live_kw, live_path) if keyword else None
                if c is None:
                    continue
            result.add(c)
        return ident + sep + "".join(sorted(result))  # Maildir wants flags in ASCII order

    def live_letter(self, keyword, live_kw, live_path):
        for letter, name in live_kw.items():
            if name == keyword:
                return letter
        free = [chr(ord("a") + i) for i in range(26) if chr(ord("a") + i) not in live_kw]
        if not free:
            print(f"{PROG}: {live_path}: no free keyword letter for {keyword!r}, dropped", file=sys.stderr)
            return None
        live_kw[free[0]] = keyword
        if not self.dry_run:  # before the message lands, so Dovecot knows the letter
            append_lines(live_path, [f"{ord(free[0]) - ord('a')} {keyword}".encode("utf-8", "surrogateescape")])
        return free[0]

    def deliver(self, src, folder, sub, name, old):
        fd, tmp = tempfile.mkstemp(prefix="restore.", dir=os.path.join(folder, "tmp"))
        os.close(fd)
        try:
            self.copy_file(src, tmp)
            dest = os.path.join(folder, sub, name)
            for path in old:  # --overwrite: the restored copy takes the live one's place
                if path != dest:
                    os.unlink(path)
            os.rename(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def subscriptions(self, src, dst):
        """Union of the lines, live order first (Dovecot 2.3's version header is in both)."""
        src_path, dst_path = os.path.join(src, "subscriptions"), os.path.join(dst, "subscriptions")
        if not is_file(src_path):
            return 0
        with open(src_path, "rb") as f:
            wanted = [line for line in f.read().splitlines() if line]
        live = None
        if os.path.isfile(dst_path):
            with open(dst_path, "rb") as f:
                live = f.read()
        if not live:
            if not self.dry_run:
                self.copy_file(src_path, dst_path)
            return len(wanted)
        have = set(live.splitlines())
        missing = []
        for line in wanted:
            if line not in have:
                have.add(line)
                missing.append(line)
        if missing and not self.dry_run:
            append_lines(dst_path, missing)
        return len(missing)

    def sieve(self, src, dst):
        src_dir, dst_dir = os.path.join(src, "sieve"), os.path.join(dst, "sieve")
        if not is_dir(src_dir) or os.path.lexists(dst_dir):
            return False
        if not self.dry_run:
            self.copy_tree(src_dir, dst_dir)
        link, dst_link = os.path.join(src, "dovecot.sieve"), os.path.join(dst, "dovecot.sieve")
        if os.path.islink(link) and not os.path.lexists(dst_link):
            target = os.readlink(link)
            if os.path.isabs(target) or ".." in target.split("/"):
                print(f"{PROG}: {link}: points out of the mailbox ({target}), not restored", file=sys.stderr)
            elif not self.dry_run:
                os.symlink(target, dst_link)
                self.own(dst_link, 0o600)
        return True

    def copy_tree(self, src, dst):
        self.mkdir(dst)
        for e in entries(src):
            if e.is_symlink():
                continue
            if e.is_dir() and e.name != "tmp":
                self.copy_tree(e.path, os.path.join(dst, e.name))
            elif e.is_file():
                self.copy_file(e.path, os.path.join(dst, e.name))


def summary(r, dry_run):
    parts = [f"{r['copied']} messages {'to copy' if dry_run else 'copied'} ({r['bytes']} bytes)"
             + (f" into {', '.join(r['folders'])}" if r["folders"] else "")]
    if r["skipped"]:
        parts.append(f"{r['skipped']} already there (kept, newer flags win)")
    if r["replaced"]:
        parts.append(f"{r['replaced']} already there {'to replace' if dry_run else 'replaced'} by the restored copy")
    if r["foldersCreated"]:
        parts.append(f"folders {'to create' if dry_run else 'created'}: {', '.join(r['foldersCreated'])}")
    if r["subscriptionsAdded"]:
        parts.append(f"{r['subscriptionsAdded']} subscriptions {'to add' if dry_run else 'added'}")
    if r["sieve"]:
        parts.append(f"sieve scripts {'to restore' if dry_run else 'restored'}")
    return f"{r['address']}: " + "; ".join(parts)


def main(argv):
    parser = Parser(prog=PROG, description="Merge restored Maildirs into the live ones (the live copy of a message wins).")
    parser.add_argument("--source", required=True, help="restored copy of /var/mail/vhosts")
    parser.add_argument("--target", required=True, help="live /var/mail/vhosts")
    parser.add_argument("--user", action="append", default=[], help="only this address (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="change nothing, print the plan")
    parser.add_argument("--overwrite", action="store_true", help="restored messages replace live ones")
    parser.add_argument("--owner", default="vmail")
    parser.add_argument("--group", default="vmail")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    for root in (args.source, args.target):
        if not os.path.isdir(root):
            raise UsageError(f"{root}: no such directory")
    if os.path.realpath(args.source) == os.path.realpath(args.target):
        raise UsageError("--source and --target are the same directory")
    mailboxes = []
    if args.user:
        for address in args.user:
            domain, local = check_address(address)
            if not is_dir(os.path.join(args.source, domain)) or not is_dir(os.path.join(args.source, domain, local)):
                raise UsageError(f"{local}@{domain}: no mailbox in the source ({os.path.join(args.source, domain, local)})")
            if (domain, local) not in mailboxes:
                mailboxes.append((domain, local))
    else:
        for d in entries(args.source):
            for m in entries(d.path) if d.is_dir(follow_symlinks=False) else []:
                if not m.is_dir(follow_symlinks=False):
                    continue
                if safe_name(d.name) and safe_name(m.name):
                    mailboxes.append((d.name, m.name))
                else:
                    print(f"{PROG}: {m.path}: not a mailbox name, skipped", file=sys.stderr)
    uid = gid = None
    if os.geteuid() == 0:  # only root can give files away; anyone else writes as themselves
        import grp
        import pwd
        try:
            uid, gid = pwd.getpwnam(args.owner).pw_uid, grp.getgrnam(args.group).gr_gid
        except KeyError as e:
            raise UsageError(f"no such user or group: {e.args[0]}")

    restorer = Restorer(args.dry_run, args.overwrite, uid, gid)
    reports = []
    for domain, local in mailboxes:
        r = restorer.mailbox(f"{local}@{domain}", os.path.join(args.source, domain, local),
                             os.path.join(args.target, domain, local))
        reports.append(r)
        if not args.json:
            print(summary(r, args.dry_run))
    totals = {k: sum(r[k] for r in reports) for k in ("copied", "bytes", "skipped", "replaced")}
    if args.json:
        keys = ("address", "copied", "bytes", "skipped", "replaced", "foldersCreated", "folders")
        print(json.dumps({"dryRun": args.dry_run, "mailboxes": [{k: r[k] for k in keys} for r in reports],
                          "copied": totals["copied"], "skipped": totals["skipped"], "replaced": totals["replaced"]}))
    else:
        print(f"total: {len(reports)} mailboxes, {totals['copied']} messages {'to copy' if args.dry_run else 'copied'}"
              f" ({totals['bytes']} bytes), {totals['skipped']} skipped, {totals['replaced']} replaced"
              + (" (dry run: nothing changed)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        print(f"{PROG}: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        sys.exit(1)
