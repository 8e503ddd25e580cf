// The SSH target's scripts, for both families: what they run (apt or dnf,
// systemd or the service scripts), that they parse (sh -n), and that they
// refuse values that could change their meaning.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PACKAGES } from "../../components/packages";
import {
  FACTS_SCRIPT,
  LOCK_FILE,
  RUN_DIR,
  STATE_DIR,
  SUPERVISOR_PATH,
  execScript,
  filesDigest,
  filesScript,
  healthScript,
  packagesScript,
  parseFacts,
  rootCommand,
  containerCommand,
  servicesManifest,
  serviceScript,
} from "../../components/targets/hostScripts";
import { ServiceSpec } from "../../components/targets/server";

/** sh -n: the script parses (dash, as /bin/sh on Debian). */
function parses(script: string): void {
  execFileSync("sh", ["-n"], { input: script });
}

const named: ServiceSpec = {
  id: "named",
  unit: { debian: "named", rhel: "named" },
  reads: () => true,
  onChange: "reload",
  check: { debian: "/usr/bin/named-checkconf -z /etc/bind/named.conf", rhel: "/usr/sbin/named-checkconf -z /etc/named.conf" },
  container: { run: "exec named -g -c /etc/bind/named.conf" },
};
const database: ServiceSpec = {
  id: "server",
  unit: { debian: "mariadb", rhel: "mysqld" },
  reads: () => true,
  onChange: "restart",
  container: { run: "exec mariadbd", stop: "mariadb-admin shutdown" },
};

/** Two digests of files, as filesDigest makes them. */
const D1 = filesDigest([]);
const D2 = filesDigest([{ path: "/etc/x", content: "x", owner: "root", group: "root", mode: "0644" }]);

describe("rootCommand", () => {
  test.each(["create", "update", "delete"] as const)("%s: script from stdin, as root directly or through sudo -n", (phase) => {
    const cmd = rootCommand(phase);
    expect(cmd).toContain('[ "$(id -u)" -eq 0 ] || sudo="sudo -n"');
    expect(cmd).toContain(`mail-system ${phase}`);
    expect(cmd).toContain('script="$(cat)"');
    parses(cmd);
  });

  test("runs the phase it names, with the script read whole from stdin", () => {
    const script = 'case "$1" in create) echo made ;; delete) echo gone ;; esac\ncat >/dev/null; echo after';
    expect(execFileSync("sh", ["-c", rootCommand("create")], { input: script }).toString()).toBe("made\nafter\n");
    expect(execFileSync("sh", ["-c", rootCommand("delete")], { input: script }).toString()).toBe("gone\nafter\n");
  });
});

describe("facts", () => {
  test("parses the facts script's output", () => {
    expect(parseFacts("family=rhel\nos=rocky 8.9\ninit=systemd\nclient=10.0.0.1\n")).toEqual({
      family: "rhel",
      os: "rocky 8.9",
      systemd: true,
      clientAddress: "10.0.0.1",
    });
    expect(parseFacts("family=debian\nos=debian 12\ninit=sysv\nclient=192.168.1.9").systemd).toBe(false);
  });

  test.each(["family=arch\nclient=10.0.0.1", "family=debian\nclient=", "nothing"])("refuses %j", (out) => {
    expect(() => parseFacts(out)).toThrow(/host facts/);
  });

  test.each([
    ["ID=debian\nVERSION_ID=12", "debian", "debian 12"],
    ['ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"', "debian", "ubuntu 24.04"],
    ['ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"', "rhel", "rocky 8.9"],
    ['ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"', "rhel", "almalinux 9.4"],
  ])("the facts script reads the family from os-release (%j)", (osRelease, family, os) => {
    const script = FACTS_SCRIPT.replace(". /etc/os-release", osRelease.replace(/\n/g, "; "));
    const out = execFileSync("sh", ["-c", script], { env: { PATH: process.env.PATH, SSH_CLIENT: "10.9.8.7 50000 22" } }).toString();
    expect(parseFacts(out)).toMatchObject({ family, os, clientAddress: "10.9.8.7" });
  });

  test("an unknown distribution fails with its name", () => {
    const script = FACTS_SCRIPT.replace(". /etc/os-release", "ID=arch");
    expect(() => execFileSync("sh", ["-c", script], { stdio: "pipe" })).toThrow(/unsupported distribution arch/);
  });
});

describe("packagesScript", () => {
  test("debian: apt-get with a lock timeout, debconf answers first, only missing packages, recorded for removal", () => {
    const s = packagesScript("mail", "debian", PACKAGES.mail.debian, {
      debconf: ["postfix postfix/main_mailer_type select No configuration"],
    });
    expect(s).toContain("debconf-set-selections");
    expect(s).toContain("'postfix postfix/main_mailer_type select No configuration'");
    expect(s).toContain("dpkg-query -W");
    expect(s).toContain("apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-remove --no-install-recommends $missing </dev/null 9>&-");
    expect(s).toContain(`for p in ${PACKAGES.mail.debian[0].join(" ")}; do`);
    expect(s).toContain("/var/lib/mail-system/mail.packages");
    expect(s).toContain('for p in $(sort -u "$record"); do if dpkg-query -W');
    expect(s).toContain("apt-get -o DPkg::Lock::Timeout=600 remove -y -qq $pkgs </dev/null 9>&-");
    expect(s).not.toContain("dnf");
    parses(s);
  });

  test("rhel: dnf, rpm -q, EPEL installed before the group that needs it", () => {
    const s = packagesScript("mail", "rhel", PACKAGES.mail.rhel);
    expect(s).toContain('rpm -q "$p"');
    expect(s).toContain("dnf install -y -q $missing");
    expect(s).toContain('for p in $(sort -u "$record"); do if rpm -q "$p"');
    expect(s).toContain("dnf remove -y -q $pkgs </dev/null 9>&-");
    expect(s.indexOf("for p in epel-release;")).toBeGreaterThan(0);
    expect(s.indexOf("for p in epel-release;")).toBeLessThan(s.indexOf("for p in postfix postfix-mysql dovecot"));
    // Rspamd's repository (which needs EPEL) before Rspamd.
    expect(s.indexOf("rspamd.repo")).toBeGreaterThan(s.indexOf("for p in epel-release;"));
    expect(s.indexOf("rspamd.repo")).toBeLessThan(s.lastIndexOf("dnf install"));
    expect(s).not.toContain("apt-get");
    expect(s).not.toContain("debconf");
    parses(s);
  });

  test("debian: apt never removes a package silently: a simulation first, --no-remove, and the names in the error", () => {
    const s = packagesScript("dns", "debian", [["bind9"]]);
    expect(s).toContain("apt-get -s install --no-install-recommends $missing");
    expect(s).toContain("--no-remove");
    expect(s.indexOf("apt-get -s install")).toBeLessThan(s.indexOf("install -y -qq --no-remove"));
    expect(s).toContain("apt-get -s remove $pkgs");
    expect(s.indexOf("apt-get -s remove")).toBeLessThan(s.indexOf("remove -y -qq"));
    parses(s);
  });

  test("rhel: rpm's dependency check before dnf removes anything; dnf install never erases (no --allowerasing)", () => {
    const s = packagesScript("dns", "rhel", [["bind"]]);
    expect(s).toContain("rpm -e --test $pkgs");
    expect(s.indexOf("rpm -e --test")).toBeLessThan(s.indexOf("dnf remove"));
    expect(s).not.toContain("allowerasing");
    parses(s);
  });

  test("the role's prepare runs after the packages, its revert before they are removed", () => {
    const s = packagesScript("db", "debian", [["mariadb-server"]], { prepare: { apply: "echo PREPARE", revert: "echo UNPREPARE" } });
    expect(s.indexOf("echo PREPARE")).toBeGreaterThan(s.indexOf("install -y"));
    expect(s.indexOf("echo UNPREPARE")).toBeLessThan(s.indexOf("remove -y"));
  });

  test.each([["x; rm -rf /"], ["$(id)"], ["a b"]])("refuses the package name %j", (bad) => {
    expect(() => packagesScript("dns", "debian", [[bad]])).toThrow(/not a package name/);
  });

  test("refuses a debconf line that could escape its quotes", () => {
    expect(() => packagesScript("mail", "debian", [["postfix"]], { debconf: ["postfix x select '; rm -rf /"] })).toThrow(/debconf/);
  });
});

/**
 * Runs packagesScript's phase with stub package tools on PATH, its state and
 * lock in a temporary directory. The stubs keep the "installed" packages as
 * files in $STUB/installed; `conflicts` lists what installing would remove,
 * `dependents` what else removing would remove (apt) or needs them (rpm).
 */
function withStubs(setup: { installed?: string[]; conflicts?: string[]; dependents?: string[] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pkgstub-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  fs.mkdirSync(path.join(dir, "installed"));
  for (const p of setup.installed ?? []) fs.writeFileSync(path.join(dir, "installed", p), "");
  fs.writeFileSync(path.join(dir, "conflicts"), (setup.conflicts ?? []).map((p) => `${p}\n`).join(""));
  fs.writeFileSync(path.join(dir, "dependents"), (setup.dependents ?? []).map((p) => `${p}\n`).join(""));
  const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >>"$STUB/log"\n${body}\n`, { mode: 0o755 });
  // The package names among the arguments: after the mode, skipping options and -o's value.
  const names = 'names=; mode=; sim=no; skip=no; for a in "$@"; do if [ $skip = yes ]; then skip=no; continue; fi; case "$a" in -o) skip=yes ;; -s) sim=yes ;; -*) ;; *) if [ -z "$mode" ]; then mode=$a; else names="$names $a"; fi ;; esac; done';
  stub("dpkg-query", 'for p; do :; done; [ -e "$STUB/installed/$p" ] && echo "install ok installed"');
  stub(
    "apt-get",
    `${names}
case "$sim $mode" in
  "yes install") for p in $(cat "$STUB/conflicts"); do echo "Remv $p [1.0]"; done; for p in $names; do echo "Inst $p (1.0 Debian:12)"; done ;;
  "yes remove") for p in $names $(cat "$STUB/dependents"); do echo "Remv $p:amd64 [1.0]"; done ;;
  "no install") for p in $names; do touch "$STUB/installed/$p"; done ;;
  "no remove") for p in $names; do rm -f "$STUB/installed/$p"; done ;;
esac`,
  );
  stub("rpm", 'if [ "$1" = -q ]; then [ -e "$STUB/installed/$2" ]; exit; fi\nif [ -s "$STUB/dependents" ]; then for d in $(cat "$STUB/dependents"); do echo "$3 is needed by (installed) $d-1.0.x86_64" >&2; done; exit 1; fi');
  stub("dnf", `${names}\ncase "$mode" in install) for p in $names; do touch "$STUB/installed/$p"; done ;; remove) for p in $names; do rm -f "$STUB/installed/$p"; done ;; esac`);
  const run = (script: string, phase: "create" | "delete") => {
    const local = script.split(STATE_DIR).join(path.join(dir, "state")).split(RUN_DIR).join(path.join(dir, "run"));
    const r = spawnSync("sh", ["-s", phase], {
      input: local,
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, STUB: dir },
    });
    return { code: r.status, stderr: r.stderr, log: fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : "" };
  };
  const installed = () => fs.readdirSync(path.join(dir, "installed")).sort();
  const record = () => {
    const f = path.join(dir, "state", "dns.packages");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : undefined;
  };
  return { dir, run, installed, record, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe("packagesScript: a package from its publisher's repository (RHEL)", () => {
  test("rspamd: the .repo file for this major version fetched before the install, once, recorded, removed on destroy", () => {
    const stubs = withStubs();
    try {
      const repos = path.join(stubs.dir, "repos");
      fs.mkdirSync(repos);
      const bin = path.join(stubs.dir, "bin");
      // rpm -E %rhel answers 9; curl writes the URL it was given into the -o file.
      const rpmStub = fs.readFileSync(path.join(bin, "rpm"), "utf8").replace('echo "rpm $*" >>"$STUB/log"\n', 'echo "rpm $*" >>"$STUB/log"\nif [ "$1" = -E ]; then echo 9; exit 0; fi\n');
      fs.writeFileSync(path.join(bin, "rpm"), rpmStub, { mode: 0o755 });
      fs.writeFileSync(path.join(bin, "curl"), '#!/bin/sh\necho "curl $*" >>"$STUB/log"\nwhile [ $# -gt 1 ]; do if [ "$1" = -o ]; then out=$2; fi; shift; done\necho "$1" >"$out"\n', { mode: 0o755 });
      const script = packagesScript("dns", "rhel", [["epel-release"], ["rspamd"]]).split("/etc/yum.repos.d").join(repos);
      const up = stubs.run(script, "create");
      expect(up).toMatchObject({ code: 0, stderr: "" });
      expect(fs.readFileSync(path.join(repos, "rspamd.repo"), "utf8")).toBe("https://rspamd.com/rpm-stable/centos-9/rspamd.repo\n");
      expect(up.log.indexOf("curl ")).toBeGreaterThan(up.log.indexOf("dnf install -y -q epel-release"));
      expect(up.log.indexOf("curl ")).toBeLessThan(up.log.indexOf("dnf install -y -q rspamd"));
      // Installed now: a second run fetches nothing.
      expect(stubs.run(script, "create").log.match(/^curl /gm)).toHaveLength(1);
      expect(stubs.run(script, "delete")).toMatchObject({ code: 0, stderr: "" });
      expect(fs.existsSync(path.join(repos, "rspamd.repo"))).toBe(false);
      expect(stubs.installed()).toEqual([]);
    } finally {
      stubs.cleanup();
    }
  });

  test("rspamd: an unreachable repository stops the step with what to do, installing nothing", () => {
    const stubs = withStubs();
    try {
      fs.writeFileSync(path.join(stubs.dir, "bin", "curl"), "#!/bin/sh\nexit 7\n", { mode: 0o755 });
      fs.writeFileSync(path.join(stubs.dir, "bin", "rpm"), '#!/bin/sh\nif [ "$1" = -E ]; then echo 9; exit 0; fi\n[ -e "$STUB/installed/$2" ]\n', { mode: 0o755 });
      const repos = path.join(stubs.dir, "repos");
      fs.mkdirSync(repos);
      const up = stubs.run(packagesScript("dns", "rhel", [["rspamd"]]).split("/etc/yum.repos.d").join(repos), "create");
      expect(up.stderr).toContain("mail-system: rspamd is not in RHEL or EPEL and its repository (https://rspamd.com/rpm-stable/centos-9/rspamd.repo) could not be fetched");
      expect(up.code).toBe(1);
      expect(stubs.installed()).toEqual([]);
      expect(fs.readdirSync(repos)).toEqual([]);
    } finally {
      stubs.cleanup();
    }
  });

  test("debian never adds a repository", () => {
    expect(packagesScript("mail", "debian", PACKAGES.mail.debian)).not.toContain("curl");
  });
});

describe("packagesScript against stub package tools", () => {
  const deb = packagesScript("dns", "debian", [["bind9", "bind9utils"]]);
  const rpm = packagesScript("dns", "rhel", [["bind", "bind-utils"]]);
  let stubs: ReturnType<typeof withStubs>;
  afterEach(() => stubs.cleanup());

  test("debian: installs the missing ones with --no-remove, records them; destroy removes them when nothing else goes", () => {
    stubs = withStubs({ installed: ["bind9utils"] });
    const up = stubs.run(deb, "create");
    expect(up).toMatchObject({ code: 0, stderr: "" });
    expect(up.log).toMatch(/^apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-remove --no-install-recommends bind9$/m);
    expect(stubs.installed()).toEqual(["bind9", "bind9utils"]);
    expect(stubs.record()).toBe("bind9\n");
    const down = stubs.run(deb, "delete");
    expect(down).toMatchObject({ code: 0, stderr: "" });
    expect(down.log).toContain("apt-get -s remove bind9\n");
    expect(stubs.installed()).toEqual(["bind9utils"]);
    expect(stubs.record()).toBeUndefined();
  });

  test("debian: an install that would remove a conflicting package stops, naming it, and installs nothing", () => {
    stubs = withStubs({ installed: ["nsd", "unbound"], conflicts: ["nsd", "unbound"] });
    const up = stubs.run(deb, "create");
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("mail-system: installing bind9 bind9utils would remove nsd unbound (conflicting packages)");
    expect(up.log).not.toMatch(/install -y/);
    expect(stubs.installed()).toEqual(["nsd", "unbound"]);
    expect(stubs.record()).toBe("");
  });

  test("debian: destroy keeps packages that others depend on, says which and why, and succeeds", () => {
    stubs = withStubs({ dependents: ["dnsutils-extra"] });
    expect(stubs.run(deb, "create").code).toBe(0);
    const down = stubs.run(deb, "delete");
    expect(down.code).toBe(0);
    expect(down.stderr).toContain(
      "mail-system: keeping bind9 bind9utils (installed by the program): removing them would also remove dnsutils-extra, which depend on them",
    );
    expect(down.log).not.toMatch(/remove -y/);
    expect(stubs.installed()).toEqual(["bind9", "bind9utils"]);
    expect(stubs.record()).toBeUndefined();
  });

  test("debian: destroy skips recorded packages that are gone already", () => {
    stubs = withStubs();
    expect(stubs.run(deb, "create").code).toBe(0);
    fs.rmSync(path.join(stubs.dir, "installed", "bind9utils"));
    const down = stubs.run(deb, "delete");
    expect(down).toMatchObject({ code: 0, stderr: "" });
    expect(down.log).toMatch(/^apt-get -o DPkg::Lock::Timeout=600 remove -y -qq bind9$/m);
  });

  test("rhel: destroy removes with dnf when rpm's check passes, and keeps them, printing rpm's reason, when it does not", () => {
    stubs = withStubs();
    expect(stubs.run(rpm, "create").code).toBe(0);
    expect(stubs.run(rpm, "delete")).toMatchObject({ code: 0, stderr: "" });
    expect(stubs.installed()).toEqual([]);
    stubs.cleanup();

    stubs = withStubs({ dependents: ["webmin"] });
    expect(stubs.run(rpm, "create").code).toBe(0);
    const down = stubs.run(rpm, "delete");
    expect(down.code).toBe(0);
    expect(down.stderr).toContain("mail-system: keeping bind bind-utils (installed by the program): other packages need them:");
    expect(down.stderr).toContain("is needed by (installed) webmin-1.0.x86_64");
    expect(down.log).not.toContain("dnf remove");
    expect(stubs.installed()).toEqual(["bind", "bind-utils"]);
  });
});

describe("filesScript", () => {
  const files = [
    { path: "/etc/postfix/main.cf", content: "myhostname = mail.example.test\n", owner: "root", group: "root", mode: "0644" },
    { path: "/etc/postfix/mysql-users.cf", content: "password = it's $secret\n", owner: "root", group: "postfix", mode: "0640", secret: true },
  ];

  test("writes each file atomically with owner, group and mode set before it appears; content as base64", () => {
    const s = filesScript("mail", files);
    expect(s).toContain(`put '/etc/postfix/main.cf' root root 0644 '${Buffer.from(files[0].content).toString("base64")}'`);
    expect(s).toContain(`put '/etc/postfix/mysql-users.cf' root postfix 0640 '${Buffer.from(files[1].content).toString("base64")}'`);
    // The secret never appears in clear (it travels on stdin, base64).
    expect(s).not.toContain("$secret");
    expect(s).toContain('chown -h "$2:$3" "$tmp"');
    expect(s.indexOf('chmod "$4" "$tmp"')).toBeLessThan(s.indexOf('mv -f "$tmp" "$1"'));
    parses(s);
  });

  test("keeps the system's own copy of a file it replaces and puts it back on delete", () => {
    const s = filesScript("mail", files);
    expect(s).toContain('cp -p "$1" "$tmp"\n    mv -f "$tmp" "$1$orig"');
    expect(s).toContain(`orig='.mail-system-orig'`);
    expect(s).toContain('if [ -f "$1$orig" ] && [ ! -L "$1$orig" ]; then mv -f "$1$orig" "$1"; else rm -f "$1"; fi');
  });

  test.each([
    [{ path: "etc/x", owner: "root", group: "root", mode: "0644" }, /plain absolute path/],
    [{ path: "/etc/../x", owner: "root", group: "root", mode: "0644" }, /plain absolute path/],
    [{ path: "/etc/a b", owner: "root", group: "root", mode: "0644" }, /plain absolute path/],
    [{ path: "/etc/x", owner: "root;id", group: "root", mode: "0644" }, /account name/],
    [{ path: "/etc/x", owner: "root", group: "root", mode: "rw" }, /not octal/],
  ])("refuses %j", (f, why) => {
    expect(() => filesScript("mail", [{ content: "", ...f }])).toThrow(why);
  });

  test("refuses a path listed twice", () => {
    expect(() => filesScript("mail", [files[0], files[0]])).toThrow(/listed twice/);
  });

  test("the digest follows content, owner and mode, not the order of the list", () => {
    const d = filesDigest(files);
    expect(filesDigest([...files].reverse())).toBe(d);
    expect(filesDigest([{ ...files[0], content: "x" }, files[1]])).not.toBe(d);
    expect(filesDigest([{ ...files[0], mode: "0600" }, files[1]])).not.toBe(d);
  });
});

describe("services", () => {
  test("systemd when it is PID 1, else the distribution's service scripts", () => {
    const s = serviceScript("dns", named, "debian", D1);
    expect(s).toContain("if [ -d /run/systemd/system ]; then");
    // Units the program writes itself (mail-guard) are read again before they are used.
    expect(s).toContain('enable) systemctl daemon-reload; systemctl enable --quiet "$2" ;;');
    expect(s).toContain('start|restart) systemctl daemon-reload; systemctl "$1" "$2" ;;');
    // Without systemd, the daemon must not inherit the SSH session's output nor the lock (fd 9).
    expect(s).toContain('service "$2" "$1" </dev/null >"$svc_log" 2>&1 9>&-');
    expect(s).toContain("update-rc.d");
    expect(s).toContain("chkconfig");
    parses(s);
  });

  test("apply: check, enable, restart (run again: start if stopped, reload if its files changed); revert: stop if running, disable", () => {
    const s = serviceScript("db", database, "rhel", D1);
    expect(s).toContain(
      [
        "svc enable mysqld",
        'if [ "$phase" = create ]; then svc restart mysqld',
        "elif ! svc running mysqld; then svc start mysqld",
        `elif [ "$(cat /run/mail-system/db.mysqld.files 2>/dev/null || :)" != ${D1} ]; then svc restart mysqld`,
        "fi",
        `echo ${D1} >/run/mail-system/db.mysqld.files`,
      ].join("\n"),
    );
    expect(s).toContain('phase="$1"');
    expect(s).toContain("if svc running mysqld; then svc stop mysqld; fi\nsvc disable mysqld\nrm -f /run/mail-system/db.mysqld.files");
    const d = serviceScript("db", database, "debian", D1);
    expect(d).toContain("svc enable mariadb");
    const n = serviceScript("dns", named, "rhel", D1);
    expect(n.indexOf("/usr/sbin/named-checkconf -z /etc/named.conf")).toBeLessThan(n.indexOf("svc enable named"));
    // A reload falls back to a restart; the service says which it takes.
    expect(serviceScript("dns", named, "debian", D1)).toContain(`!= ${D1} ]; then svc reload named || svc restart named`);
    expect(s).not.toContain("svc reload");
    parses(s);
  });

  test("the digest of the files it reads is part of the script (a change of them updates the step); anything else is refused", () => {
    expect(serviceScript("dns", named, "debian", D1)).not.toBe(serviceScript("dns", named, "debian", D2));
    expect(serviceScript("dns", named, "debian", D1)).toContain(`# the files named reads: sha256 ${D1}`);
    expect(() => serviceScript("dns", named, "debian", "x; reboot")).toThrow(/not a SHA-256 in hex/);
    expect(() => serviceScript("dns", named, "debian", D1.toUpperCase())).toThrow(/not a SHA-256 in hex/);
  });

  test("refuses a unit name that is not one", () => {
    expect(() => serviceScript("dns", { ...named, unit: { debian: "named; id", rhel: "named" } }, "debian", D1)).toThrow(/service name/);
  });
});

describe("health and exec", () => {
  test("the health check is retried until a deadline, and fails with its last message", () => {
    const s = healthScript("dns", { DNS_ZONES: "example.test", NAMED_CONF: "/etc/named.conf" }, 90);
    expect(s).toContain("export DNS_ZONES='example.test'");
    expect(s).toContain("/usr/local/sbin/mail-system-dns-healthcheck");
    expect(s).toContain("deadline=$(( $(date +%s) + 90 ))");
    expect(s).toContain("is not healthy after 90s: $out");
    parses(s);
    expect(() => healthScript("dns", { "A;B": "x" })).toThrow(/not a name/);
  });

  test("exec feeds the input through a here-document whose delimiter it does not contain", () => {
    const s = execScript(["mysql", "--batch", "mailserver"], "SELECT 1;\nMAIL_SYSTEM_INPUT\n", "DELETE FROM t;");
    expect(s).toContain("'mysql' '--batch' 'mailserver' <<'MAIL_SYSTEM_INPUT_0'\nSELECT 1;\nMAIL_SYSTEM_INPUT\n\nMAIL_SYSTEM_INPUT_0");
    expect(s).toContain("<<'MAIL_SYSTEM_INPUT'\nDELETE FROM t;\nMAIL_SYSTEM_INPUT");
    parses(s);
  });

  test("every phased script takes the host's lock and dispatches on the phase", () => {
    for (const s of [execScript(["sh"], ":"), healthScript("db", {}), filesScript("db", []), packagesScript("db", "rhel", [["mysql-server"]])]) {
      expect(s.startsWith("set -eu\n")).toBe(true);
      expect(s).toContain("exec 9>/run/mail-system/scripts.lock");
      expect(s).not.toContain("/run/lock");
      expect(s).toContain("flock -w 600 9");
      expect(s).toContain('case "$1" in create|update) mail_system_apply ;; delete) mail_system_revert ;;');
    }
  });
});

/** Runs `then` in bash after sourcing `manifest` as the supervisor does. */
function sourced(manifest: string, then: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "manifest-"));
  try {
    fs.writeFileSync(path.join(dir, "services"), manifest);
    return execFileSync("bash", ["-c", `declare -a order; declare -A run reload stop; . "$1"; ${then}`, "x", path.join(dir, "services")], { encoding: "utf8" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("containers", () => {
  test.each(["create", "update", "delete"] as const)("containerCommand(%s): the script from stdin, as root in $CONTAINER", (phase) => {
    const cmd = containerCommand(phase);
    expect(cmd).toContain(`docker exec -i "$CONTAINER" sh -c 'script="$(cat)"; eval "$script"' mail-system ${phase}`);
    parses(cmd);
  });

  test("a container that is gone has nothing to delete; create and update need it", () => {
    expect(containerCommand("delete")).toMatch(/^if docker container inspect "\$CONTAINER" >\/dev\/null 2>&1; then docker exec /);
    expect(containerCommand("create")).toMatch(/^docker exec /);
  });

  test("the supervisor's manifest lists the units in order, with their commands, as bash reads them", () => {
    const out = sourced(servicesManifest([named, database]), 'printf "%s|" "${order[@]}" "${run[named]}" "${run[mariadb]}" "${stop[mariadb]}" "${reload[named]:-none}"');
    expect(out).toBe("named|mariadb|exec named -g -c /etc/bind/named.conf|exec mariadbd|mariadb-admin shutdown|none|");
  });

  test("the manifest quotes commands and refuses a unit twice or a unit that is no name", () => {
    const tricky: ServiceSpec = { ...named, container: { run: `echo 'it'"'"'s' $HOME; exec x` } };
    const out = sourced(servicesManifest([tricky]), 'printf "%s" "${run[named]}"');
    expect(out).toBe(`echo 'it'"'"'s' $HOME; exec x`);
    expect(() => servicesManifest([named, named])).toThrow(/listed twice/);
    expect(() => servicesManifest([{ ...named, unit: { debian: "a b", rhel: "x" } }])).toThrow(/is not one/);
  });

  test("the supervisor's liveness check: a running daemon counts; a zombie, a gone PID, a garbled or missing PID file do not", () => {
    const supervisor = fs.readFileSync(path.join(__dirname, "..", "..", "files", "common", "supervisor.sh"), "utf8");
    const alive = supervisor.slice(supervisor.indexOf("alive() {"), supervisor.indexOf("\n}\n", supervisor.indexOf("alive() {")) + 3);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alive-"));
    try {
      // A zombie: a child that exits after its parent has exec'd into sleep,
      // which never reaps it.
      const out = execFileSync("bash", ["-c", `rundir="$1"; ${alive}
        sleep 30 & echo "$!" >"$rundir/live.pid"; printf %s "$!" >"$rundir/nonewline.pid"
        bash -c 'sleep 0.2 & echo $! >"$1/zombie.pid"; exec sleep 30' x "$rundir" & parent=$!
        for i in $(seq 1 50); do [ -s "$rundir/zombie.pid" ] && grep -q "^State:.Z" "/proc/$(cat "$rundir/zombie.pid")/status" 2>/dev/null && break; sleep 0.1; done
        grep -q "^State:.Z" "/proc/$(cat "$rundir/zombie.pid")/status" || echo "no zombie made"
        echo 2147483646 >"$rundir/gone.pid"; echo "12 34" >"$rundir/garbled.pid"
        for u in live nonewline zombie gone garbled missing; do if alive "$u"; then echo "$u yes"; else echo "$u no"; fi; done
        kill %1 "$parent" 2>/dev/null; true`, "x", dir], { encoding: "utf8" });
      expect(out.trim().split("\n")).toEqual(["live yes", "nonewline yes", "zombie no", "gone no", "garbled no", "missing no"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("svc goes to the supervisor when one runs (a container), else systemd or the init scripts", () => {
    const script = serviceScript("dns", named, "debian", D1);
    const supervisor = script.indexOf("/usr/local/sbin/mail-system-supervisor ctl");
    expect(supervisor).toBeGreaterThan(0);
    expect(supervisor).toBeLessThan(script.indexOf("/run/systemd/system"));
  });
});

/** The user and group running the tests: owners of the files the scripts write in them. */
const me = os.userInfo().username;
const group = execFileSync("id", ["-gn"], { encoding: "utf8" }).trim();

/** Runs a script's phase with its state and run-time directories under `dir` (sh -s, as the targets do). */
function runIn(dir: string, script: string, phase: "create" | "update" | "delete", env: Record<string, string> = {}) {
  const local = script.split(STATE_DIR).join(path.join(dir, "state")).split(RUN_DIR).join(path.join(dir, "run"));
  return spawnSync("sh", ["-s", phase], { input: local, encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
}

describe("a daemon's step, run against a supervisor: restarted when made, reloaded exactly when its files changed", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "unit-"));
    // svc goes to a supervisor (as in a container): a stub that records what
    // it is asked and says the daemon runs unless the file "stopped" exists.
    fs.mkdirSync(path.join(dir, "run"), { mode: 0o700 });
    fs.writeFileSync(path.join(dir, "run", "supervisor.pid"), "1\n");
    fs.writeFileSync(
      path.join(dir, "supervisor"),
      `#!/bin/sh\necho "$*" >>${path.join(dir, "calls")}\n[ "$2" != running ] || [ ! -e ${path.join(dir, "stopped")} ]\n`,
      { mode: 0o755 },
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (phase: "create" | "update" | "delete", digest: string, service = database) => {
    const r = runIn(dir, serviceScript("db", service, "debian", digest).split(SUPERVISOR_PATH).join(path.join(dir, "supervisor")), phase);
    expect(r).toMatchObject({ status: 0, stderr: "" });
  };
  const calls = () => {
    const file = path.join(dir, "calls");
    const all = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [];
    fs.rmSync(file, { force: true });
    return all;
  };
  const reloading = { ...database, onChange: "reload" as const };

  test("made: restarted; updated with the same files: nothing; with new files: reloaded (or restarted), once", () => {
    run("create", D1);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl restart mariadb"]);
    run("update", D1);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb"]);
    run("update", D2);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb", "ctl restart mariadb"]);
    run("update", D2);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb"]);
    run("update", D1, reloading);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb", "ctl reload mariadb"]);
  });

  test("updated while stopped: started (with the files it then reads), not reloaded", () => {
    run("create", D1);
    calls();
    fs.writeFileSync(path.join(dir, "stopped"), "");
    run("update", D2);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb", "ctl start mariadb"]);
    fs.rmSync(path.join(dir, "stopped"));
    run("update", D2);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb"]);
  });

  test("no record of what it runs (a reboot emptied /run), or a garbled one: the update reloads; the revert removes the record", () => {
    run("update", D1);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb", "ctl restart mariadb"]);
    fs.writeFileSync(path.join(dir, "run", "db.mariadb.files"), "x; rm -rf /\n");
    run("update", D1);
    expect(calls()).toEqual(["ctl enable mariadb", "ctl running mariadb", "ctl restart mariadb"]);
    run("delete", D1);
    expect(calls()).toEqual(["ctl running mariadb", "ctl stop mariadb", "ctl disable mariadb"]);
    expect(fs.existsSync(path.join(dir, "run", "db.mariadb.files"))).toBe(false);
  });
});

describe("the run-time directory: the lock and temporary files where only root can reach them", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "rundir-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const marker = () => fs.existsSync(path.join(dir, "ran"));
  const script = () => execScript(["touch", path.join(dir, "ran")], "");

  test("the lock is in /run/mail-system (not the world-writable /run/lock), made 0700 when missing", () => {
    expect(LOCK_FILE).toBe(`${RUN_DIR}/scripts.lock`);
    expect(RUN_DIR).toBe("/run/mail-system");
    const r = runIn(dir, script(), "create");
    expect(r).toMatchObject({ status: 0, stderr: "" });
    expect(marker()).toBe(true);
    expect(fs.statSync(path.join(dir, "run")).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(path.join(dir, "run", "scripts.lock"))).toBe(true);
  });

  test("an existing directory that is too open is closed to 0700", () => {
    fs.mkdirSync(path.join(dir, "run"), { mode: 0o777 });
    fs.chmodSync(path.join(dir, "run"), 0o777);
    expect(runIn(dir, script(), "create").status).toBe(0);
    expect(fs.statSync(path.join(dir, "run")).mode & 0o777).toBe(0o700);
  });

  test("a link in its place is refused: nothing runs, nothing is written through it", () => {
    fs.mkdirSync(path.join(dir, "elsewhere"));
    fs.symlinkSync(path.join(dir, "elsewhere"), path.join(dir, "run"));
    const r = runIn(dir, script(), "create");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`mail-system: ${path.join(dir, "run")} is not a directory owned by root (a link, or another user's): refusing to use it`);
    expect(marker()).toBe(false);
    expect(fs.readdirSync(path.join(dir, "elsewhere"))).toEqual([]);
  });

  (process.getuid?.() === 0 ? test : test.skip)("another user's directory is refused (run as root)", () => {
    fs.mkdirSync(path.join(dir, "run"), { mode: 0o700 });
    fs.chownSync(path.join(dir, "run"), 65534, 65534);
    const r = runIn(dir, script(), "create");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("is not a directory owned by root");
    expect(marker()).toBe(false);
  });

  test("svc's log of an init script is a mktemp file in the run-time directory, not in /tmp", () => {
    const s = serviceScript("dns", named, "debian", D1);
    expect(s).toContain('svc_log="$(mktemp /run/mail-system/svc-log.XXXXXX)"');
    expect(s).not.toMatch(/mktemp\)/);
  });
});

describe("filesScript in a directory others can write to (a daemon's data directory)", () => {
  let dir: string;
  let data: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "files-"));
    // As /var/lib/bind (root:bind 0775): the daemon's group may add, rename and remove entries.
    data = path.join(dir, "data");
    fs.mkdirSync(data);
    fs.chmodSync(data, 0o775);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const zone = (content: string) => ({ path: path.join(data, "db.zone"), content, owner: me, group, mode: "0640" });
  /** The script with a stub mktemp on PATH that logs where each temporary file is made. */
  function run(script: string, phase: "create" | "delete") {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "mktemp"), `#!/bin/sh\necho "$*" >>"${dir}/mktemp.log"\nexec /usr/bin/mktemp "$@"\n`, { mode: 0o755 });
    return runIn(dir, script, phase, { PATH: `${bin}:${process.env.PATH}` });
  }

  test("files are staged (mktemp, O_EXCL) in the nearest parent only root can write to, then renamed into place", () => {
    const r = run(filesScript("dns", [zone("zone v1\n")]), "create");
    expect(r).toMatchObject({ status: 0, stderr: "" });
    expect(fs.readFileSync(path.join(data, "db.zone"), "utf8")).toBe("zone v1\n");
    expect(fs.statSync(path.join(data, "db.zone")).mode & 0o777).toBe(0o640);
    expect(fs.readFileSync(path.join(dir, "mktemp.log"), "utf8")).toBe(`${dir}/.mail-system-new.XXXXXX\n`);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(".mail-system"))).toEqual([]);
  });

  test("the kept original is never written through a link planted in its place", () => {
    fs.writeFileSync(path.join(data, "db.zone"), "the system's zone\n");
    const victim = path.join(dir, "victim");
    fs.symlinkSync(victim, path.join(data, "db.zone.mail-system-orig"));
    expect(run(filesScript("dns", [zone("zone v1\n")]), "create")).toMatchObject({ status: 0, stderr: "" });
    expect(fs.existsSync(victim)).toBe(false);
    expect(fs.lstatSync(path.join(data, "db.zone.mail-system-orig")).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(path.join(data, "db.zone.mail-system-orig"), "utf8")).toBe("the system's zone\n");
  });

  test("destroy does not put back a link planted as the original", () => {
    expect(run(filesScript("dns", [zone("zone v1\n")]), "create").status).toBe(0);
    fs.writeFileSync(path.join(dir, "secret"), "secret\n");
    fs.symlinkSync(path.join(dir, "secret"), path.join(data, "db.zone.mail-system-orig"));
    expect(run(filesScript("dns", [zone("zone v1\n")]), "delete")).toMatchObject({ status: 0, stderr: "" });
    expect(fs.existsSync(path.join(data, "db.zone"))).toBe(false);
  });

  test("owners are set with chown -h (never through a link), in every files script", () => {
    const s = filesScript("dns", [zone("x")]);
    expect(s).toContain('chown -h "$2:$3" "$tmp"');
    expect(s).not.toMatch(/chown (?!-h)/);
  });
});

describe("filesScript with two sets of a role's files (ServerSpec.earlyFiles)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sets-"));
    fs.mkdirSync(path.join(dir, "etc"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => ({ path: path.join(dir, "etc", name), content, owner: me, group, mode: "0644" });
  const read = (name: string) => fs.readFileSync(path.join(dir, "etc", name), "utf8");
  const exists = (name: string) => fs.existsSync(path.join(dir, "etc", name));
  const run = (script: string, phase: "create" | "update" | "delete") => runIn(dir, script, phase);

  test("each set keeps its own record, and names it in the script's messages", () => {
    const s = filesScript("mail", [file("a", "a\n")], "early");
    expect(s).toContain(`manifest=${STATE_DIR}/mail.early.files`);
    expect(s).toContain(`dirs=${STATE_DIR}/mail.early.dirs`);
    expect(s).toContain("early files of mail");
    expect(filesScript("mail", [file("a", "a\n")])).toContain(`manifest=${STATE_DIR}/mail.files`);
    expect(() => filesScript("mail", [], "early.x")).toThrow(/lower-case name/);
    parses(s);
  });

  test("a file moving into the early set (an upgrade) is neither kept as the system's original nor removed by the other set", () => {
    fs.writeFileSync(path.join(dir, "etc", "sys"), "the system's\n");
    expect(run(filesScript("mail", [file("moves", "v1\n"), file("stays", "s\n"), file("sys", "ours\n")]), "create")).toMatchObject({ status: 0, stderr: "" });
    // The new version: "moves" and "sys" are early files now, written first.
    expect(run(filesScript("mail", [file("moves", "v2\n"), file("sys", "ours 2\n")], "early"), "create")).toMatchObject({ status: 0, stderr: "" });
    expect(run(filesScript("mail", [file("stays", "s\n")]), "update")).toMatchObject({ status: 0, stderr: "" });
    expect([read("moves"), read("stays"), read("sys")]).toEqual(["v2\n", "s\n", "ours 2\n"]);
    // Only the system's own file has an original, the one kept when the program first replaced it.
    expect(fs.readdirSync(path.join(dir, "etc")).filter((f) => f.endsWith(".mail-system-orig"))).toEqual(["sys.mail-system-orig"]);
    expect(fs.readFileSync(path.join(dir, "state", "mail.files"), "utf8").trim()).toBe(path.join(dir, "etc", "stays"));
    // Destroy, the later set first: each removes its own; the system's file comes back.
    expect(run(filesScript("mail", [file("stays", "s\n")]), "delete")).toMatchObject({ status: 0, stderr: "" });
    expect([exists("moves"), exists("stays"), read("sys")]).toEqual([true, false, "ours 2\n"]);
    expect(run(filesScript("mail", [file("moves", "v2\n"), file("sys", "ours 2\n")], "early"), "delete")).toMatchObject({ status: 0, stderr: "" });
    expect([exists("moves"), read("sys")]).toEqual([false, "the system's\n"]);
  });

  test("a file another set still records is left to it when this set is destroyed", () => {
    expect(run(filesScript("mail", [file("both", "early\n")], "early"), "create").status).toBe(0);
    fs.mkdirSync(path.join(dir, "state"), { recursive: true });
    fs.writeFileSync(path.join(dir, "state", "mail.files"), `${path.join(dir, "etc", "both")}\n`);
    expect(run(filesScript("mail", []), "delete")).toMatchObject({ status: 0, stderr: "" });
    expect(read("both")).toBe("early\n");
  });
});
