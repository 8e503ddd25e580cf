// mail-guard (files/mail/guard/mail-guard.py) run on this machine's python3
// with a rendered configuration on free loopback ports, spoken to as
// Postfix (milter protocol 6, policy delegation) and Dovecot (HTTP auth
// policy) speak to it. Its renderer is checked too.
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { DEFAULT_LIMITS, MAIL_GUARD, MailLimits, renderMailGuardFiles } from "../../components/render/mailGuard";

const run = promisify(execFile);
const program = renderMailGuardFiles({ limits: DEFAULT_LIMITS, logTo: "stderr", host: false })[0];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A running guard with these limits; its log collected. */
class Guard {
  log = "";
  private constructor(
    private readonly proc: ChildProcess,
    readonly ports: { milter: number; policy: number; auth: number },
    readonly dir: string,
  ) {
    proc.stderr!.on("data", (d: Buffer) => (this.log += d.toString()));
  }

  static async start(limits: Partial<MailLimits> = {}): Promise<Guard> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-guard-"));
    fs.writeFileSync(path.join(dir, "mail-guard.py"), program.content);
    const rendered = renderMailGuardFiles({ limits: { ...DEFAULT_LIMITS, ...limits }, logTo: "stderr", host: false })[1];
    const ports = { milter: await freePort(), policy: await freePort(), auth: await freePort() };
    // The rendered configuration, on this test's ports; not root, so it keeps its user.
    const conf = { ...JSON.parse(rendered.content), ...Object.fromEntries(Object.entries(ports).map(([k, p]) => [k, `127.0.0.1:${p}`])) };
    fs.writeFileSync(path.join(dir, "conf.json"), JSON.stringify(conf));
    const proc = spawn("python3", [path.join(dir, "mail-guard.py"), path.join(dir, "conf.json")], { stdio: ["ignore", "ignore", "pipe"] });
    const guard = new Guard(proc, ports, dir);
    for (let i = 0; i < 100 && !guard.log.includes("listening"); i++) await new Promise((r) => setTimeout(r, 50));
    if (!guard.log.includes("listening")) throw new Error(`mail-guard did not start: ${guard.log}`);
    return guard;
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGTERM");
    await exited;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A byte stream with awaitable reads of exact lengths. */
class Conn {
  private buf = Buffer.alloc(0);
  private waiting?: () => void;
  private closed = false;
  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiting?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.waiting?.();
    });
  }
  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new Conn(s)));
      s.once("error", reject);
    });
  }
  write(b: Buffer | string): void {
    this.sock.write(b);
  }
  async read(n: number): Promise<Buffer> {
    for (let i = 0; this.buf.length < n; i++) {
      if (this.closed || i > 100) throw new Error(`connection ended with ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 100);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async line(): Promise<string> {
    for (let i = 0; !this.buf.includes(10); i++) {
      if (this.closed || i > 100) throw new Error("no line");
      await this.read(0).then(() => new Promise((r) => setTimeout(r, 20)));
    }
    const at = this.buf.indexOf(10);
    return (await this.read(at + 1)).toString().replace(/\r?\n$/, "");
  }
  close(): void {
    this.sock.destroy();
  }
}

/** Milter protocol 6 as Postfix speaks it: each call sends one command and returns the reply (or nothing). */
class Milter {
  private constructor(private readonly c: Conn) {}
  static async open(port: number): Promise<Milter> {
    const m = new Milter(await Conn.open(port));
    const reply = await m.send("O", Buffer.from([0, 0, 0, 6, 0, 0, 0, 0x1ff, 0, 0, 0x3f, 0xff]));
    expect(reply?.cmd).toBe("O");
    return m;
  }
  async send(cmd: string, data: Buffer | string, answered = true): Promise<{ cmd: string; text: string } | undefined> {
    const body = Buffer.concat([Buffer.from(cmd), Buffer.from(data)]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    this.c.write(Buffer.concat([len, body]));
    if (!answered) return undefined;
    const size = (await this.c.read(4)).readUInt32BE(0);
    const reply = await this.c.read(size);
    return { cmd: reply.subarray(0, 1).toString(), text: reply.subarray(1).toString().replace(/\0$/, "") };
  }
  mail = (sender: string) => this.send("M", `<${sender}>\0SIZE=100\0`);
  header = (name: string, value: string) => this.send("L", `${name}\0${value}\0`);
  endOfHeaders = () => this.send("N", "");
  close(): void {
    this.c.close();
  }
}

describe("mail-guard, the daemon", () => {
  let guard: Guard;
  beforeAll(async () => {
    guard = await Guard.start({ submissionRecipientsPerHour: 3, authFailures: 3 });
  });
  afterAll(async () => {
    await guard.stop();
  });

  test("--check accepts the rendered configuration and names the key of a wrong one", async () => {
    const conf = path.join(guard.dir, "conf.json");
    await expect(run("python3", [path.join(guard.dir, "mail-guard.py"), "--check", conf])).resolves.toBeDefined();
    const bad = path.join(guard.dir, "bad.json");
    fs.writeFileSync(bad, JSON.stringify({ ...JSON.parse(fs.readFileSync(conf, "utf8")), authFailures: 0 }));
    await expect(run("python3", [path.join(guard.dir, "mail-guard.py"), "--check", bad])).rejects.toMatchObject({
      stderr: expect.stringContaining("authFailures: 0 is not a positive whole number"),
    });
  });

  test("milter: the null sender is refused at MAIL FROM", async () => {
    const m = await Milter.open(guard.ports.milter);
    expect(await m.send("D", "M{auth_authen}\0frank@example.org\0", false)).toBeUndefined();
    expect(await m.send("M", "<>\0")).toEqual({ cmd: "y", text: expect.stringMatching(/^553 5\.7\.1 The null sender <> is for bounces/) });
    m.close();
  });

  test("milter: the From header must be the envelope sender (case aside), one address, exactly once", async () => {
    const cases: [headers: [string, string][], expected: RegExp | "c"][] = [
      [[["From", "Frank <Frank@Example.org>"], ["Subject", "x"]], "c"],
      [[["From", " frank@example.org"]], "c"],
      [[["From", "=?utf-8?q?Fr=C3=A4nk?= <frank@example.org>"]], "c"],
      [[["From", "Leeo <leeo@example.org>"]], /^550 5\.7\.1 The From header \(leeo@example\.org\) is not your sender address \(frank@example\.org\)/],
      [[["From", '"frank@example.org" <leeo@example.org>']], /^550 5\.7\.1 The From header \(leeo@example\.org\)/],
      [[["From", "frank@example.org, leeo@example.org"]], /^550 5\.7\.1 The From header must hold exactly one address/],
      [[["From", "frank@example.org"], ["FROM", "frank@example.org"]], /^550 5\.7\.1 A message must have exactly one From header/],
      [[["Subject", "no from"]], /^550 5\.7\.1 A message must have exactly one From header/],
      [[["From", "undisclosed-recipients:;"]], /^550 5\.7\.1 The From header must hold exactly one address/],
    ];
    const m = await Milter.open(guard.ports.milter);
    for (const [headers, expected] of cases) {
      expect(await m.mail("frank@example.org")).toEqual({ cmd: "c", text: "" });
      for (const [n, v] of headers) expect((await m.header(n, v))?.cmd).toBe("c");
      const r = await m.endOfHeaders();
      if (expected === "c") expect([headers, r]).toEqual([headers, { cmd: "c", text: "" }]);
      else expect([headers, r?.cmd, r?.text]).toEqual([headers, "y", expect.stringMatching(expected)]);
      // The next message of the session starts clean.
      await m.send("A", "", false);
    }
    m.close();
  });

  test("policy: each login may send to the configured number of recipients an hour; others are not affected", async () => {
    const c = await Conn.open(guard.ports.policy);
    const ask = async (attrs: Record<string, string>) => {
      c.write(`${Object.entries(attrs).map(([k, v]) => `${k}=${v}\n`).join("")}\n`);
      const action = await c.line();
      expect(await c.line()).toBe("");
      return action;
    };
    const rcpt = (login: string) => ask({ request: "smtpd_access_policy", protocol_state: "RCPT", sasl_username: login, recipient: "x@example.net" });
    const actions = [];
    for (let i = 0; i < 4; i++) actions.push(await rcpt("frank@example.org"));
    expect(actions).toEqual(["action=DUNNO", "action=DUNNO", "action=DUNNO", expect.stringMatching(/^action=450 4\.7\.1 You have sent to 3 recipients in the last hour/)]);
    // The login's case does not matter; another login has its own count; other stages are not counted.
    expect(await rcpt("FRANK@example.org")).toMatch(/^action=450 /);
    expect(await rcpt("leeo@example.org")).toBe("action=DUNNO");
    expect(await ask({ request: "smtpd_access_policy", protocol_state: "END-OF-MESSAGE", sasl_username: "frank@example.org" })).toBe("action=DUNNO");
    c.close();
  });

  /** Dovecot's auth policy request: `command` allow (before the login) or report (after it). */
  async function authPolicy(command: "allow" | "report", body: Record<string, unknown>): Promise<{ status: number; msg: string }> {
    const r = await fetch(`http://127.0.0.1:${guard.ports.auth}/?command=${command}`, { method: "POST", body: JSON.stringify(body) });
    expect(r.status).toBe(200);
    return (await r.json()) as { status: number; msg: string };
  }

  test("auth policy: after N failed logins an address is refused, with the right password too; other addresses and loopback are not", async () => {
    const [guesser, other] = ["198.51.100.7", "198.51.100.8"];
    expect(await authPolicy("allow", { login: "frank@example.org", remote: guesser, protocol: "imap" })).toEqual({ status: 0, msg: "" });
    for (let i = 0; i < 3; i++) await authPolicy("report", { login: `u${i}@example.org`, remote: guesser, success: false, policy_reject: false });
    const refused = await authPolicy("allow", { login: "frank@example.org", remote: guesser, protocol: "smtp" });
    expect(refused.status).toBe(-1);
    expect(refused.msg).toMatch(/too many failed logins from 198\.51\.100\.7; try again in \d+s/);
    expect(await authPolicy("allow", { login: "frank@example.org", remote: other, protocol: "imap" })).toEqual({ status: 0, msg: "" });
    // Refusals the policy made are not counted again; successes do not clear a ban.
    await authPolicy("report", { login: "frank@example.org", remote: guesser, success: true, policy_reject: false });
    expect((await authPolicy("allow", { remote: guesser })).status).toBe(-1);
    for (let i = 0; i < 5; i++) await authPolicy("report", { remote: "127.0.0.1", success: false, policy_reject: false });
    expect(await authPolicy("allow", { remote: "127.0.0.1" })).toEqual({ status: 0, msg: "" });
    // A request without an address (a local process) or with garbage is allowed, not an error.
    expect(await authPolicy("allow", { remote: "" })).toEqual({ status: 0, msg: "" });
    expect(await authPolicy("allow", { remote: "not an address" })).toEqual({ status: 0, msg: "" });
    expect(guard.log).toMatch(/auth: 198\.51\.100\.7 failed 3 logins: refused for 900s/);
  });
});

describe("renderMailGuardFiles", () => {
  test("a container gets the program and its configuration; a host also its systemd unit and init script", () => {
    const inContainer = renderMailGuardFiles({ limits: DEFAULT_LIMITS, logTo: "stderr", host: false });
    expect(inContainer.map((f) => [f.path, f.mode])).toEqual([
      [MAIL_GUARD.program, "0755"],
      [MAIL_GUARD.config, "0644"],
    ]);
    const onHost = renderMailGuardFiles({ limits: DEFAULT_LIMITS, logTo: "syslog", host: true });
    expect(onHost.map((f) => f.path)).toEqual([MAIL_GUARD.program, MAIL_GUARD.config, MAIL_GUARD.systemdUnit, MAIL_GUARD.initScript]);
    for (const f of onHost) expect([f.path, f.owner, f.group, f.secret ?? false, /\{\{|\}\}/.test(f.content)]).toEqual([f.path, "root", "root", false, false]);
    const conf = JSON.parse(onHost[1].content);
    expect(conf).toMatchObject({ recipientsPerHour: 500, authFailures: 10, authWindowSeconds: 600, authBanSeconds: 900, log: "syslog", user: "nobody" });
    expect([conf.milter, conf.policy, conf.auth].every((l: string) => l.startsWith("127.0.0.1:"))).toBe(true);
  });

  test("the init script is POSIX sh, and the unit checks the configuration before starting", async () => {
    const files = renderMailGuardFiles({ limits: DEFAULT_LIMITS, logTo: "syslog", host: true });
    const init = files.find((f) => f.path === MAIL_GUARD.initScript)!;
    await expect(run("sh", ["-n", "-c", init.content])).resolves.toBeDefined();
    expect(init.content).toContain("127.0.0.1\", int(sys.argv[1])), 1).close()' 10033");
    const unit = files.find((f) => f.path === MAIL_GUARD.systemdUnit)!.content;
    expect(unit).toContain(`ExecStartPre=/usr/bin/python3 ${MAIL_GUARD.program} --check ${MAIL_GUARD.config}`);
  });

  test("refuses limits that are not whole numbers from 1 to 1000000, naming the field", () => {
    for (const bad of [0, -3, 2.5, 1_000_001]) {
      expect(() => renderMailGuardFiles({ limits: { ...DEFAULT_LIMITS, authBanMinutes: bad }, logTo: "stderr", host: false })).toThrow(
        /authBanMinutes .* is not a whole number from 1 to 1000000/,
      );
    }
  });
});
