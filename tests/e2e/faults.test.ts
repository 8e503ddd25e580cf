// Faults, nothing lost: the mail container killed mid-run, Dovecot's LMTP
// gone while mail arrives, queued mail across the mail container's
// replacement, the database restarted under load, and a `pulumi up`
// interrupted with SIGINT. Long (several minutes): run only with
// MAIL_SYSTEM_LONG_TESTS=1, which CI sets.
import { Stack } from "@pulumi/pulumi/automation";
import * as path from "path";
import { mailClient, waitForMail } from "./clients";
import { changesOf, containerLog, docker, dockerLab, freeSubnet, LOAD_TEST_LIMITS, log, uniqueName, withStack } from "./lab";
import { deliveryVerdict, idsInMaildir, missingTrail, queued, sendNumbered, SendReport, settle } from "./mailLoad";
import { openStack, SharedStack } from "./sharedStack";
import { Endpoint, Wire } from "./wire";

jest.setTimeout(20 * 60_000);
const long = process.env.MAIL_SYSTEM_LONG_TESTS === "1" ? describe : describe.skip;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The figures a fault run measured, always printed (they go into bench/results.md). */
const measured = (line: string) => process.stdout.write(`faults: ${line}\n`);
const domain = "faults.test";
const [frank, sink] = [`frank@${domain}`, `sink@${domain}`];
const maildir = `/var/mail/vhosts/${domain}/sink`;

/** Prints the mail log's lines for any accepted message the maildir lacks (before the verdict fails). */
async function explainLosses(container: string, report: SendReport, ids: Map<string, number>): Promise<void> {
  const trail = await missingTrail(container, report, ids);
  if (trail.length) measured(`lost messages' log:\n${trail.join("\n")}`);
}

async function health(container: string): Promise<string> {
  return (await docker("inspect", "-f", "{{.State.Status}} {{.State.Health.Status}} {{.RestartCount}}", container)).trim();
}

/** Polls (bounded) until the container is running and healthy. */
async function waitHealthy(container: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if ((await health(container).catch(() => "")).startsWith("running healthy")) return;
    await sleep(1000);
  }
  throw new Error(`${container} not healthy after ${timeoutMs / 1000} s: ${await health(container)}`);
}

long("faults on one deployed system", () => {
  let s: SharedStack | undefined;
  let smtp: Endpoint;
  beforeAll(async () => {
    s = await openStack("flt", domain, [frank, sink], LOAD_TEST_LIMITS);
    smtp = { host: s.lab.mail, port: 25, ca: s.lab.ca, servername: s.lab.servername };
  });
  afterAll(async () => {
    await s?.close();
  });

  // SMTP and LMTP hand-overs are at-least-once (RFC 5321 6.1: after a lost
  // acknowledgement a duplicate is preferred to a loss). A crash between
  // Dovecot storing a message and Postfix recording the LMTP "250" makes
  // Postfix deliver that message again after the restart; at most one
  // message per concurrent LMTP delivery can be caught so.
  test("(a) the mail container killed mid-run restarts by its policy; no accepted message is lost, and only the deliveries in flight at the crash may repeat", async () => {
    const st = s!;
    const restartsBefore = Number((await health(st.mail)).split(" ")[2]);
    const idPrefix = uniqueName("kill");
    let killed = false;
    const sending = sendNumbered({
      endpoint: smtp, from: "load@client.test", to: sink, count: 2000, idPrefix, connections: 4,
      deadline: Date.now() + 8 * 60_000,
      onAccepted: (n) => {
        if (n === 600 && !killed) {
          killed = true;
          // A crash, not `docker kill` (which Docker treats as a manual stop): SIGKILL to the container's init from the host.
          void docker("inspect", "-f", "{{.State.Pid}}", st.mail).then((pid) => {
            const p = Number(pid.trim());
            if (p > 1) process.kill(p, "SIGKILL");
          });
        }
      },
    });
    const report = await sending;
    expect(killed).toBe(true);
    await waitHealthy(st.mail);
    expect(Number((await health(st.mail)).split(" ")[2])).toBe(restartsBefore + 1);
    const ids = await settle(st.mail, maildir, idPrefix, 5 * 60_000);
    await explainLosses(st.mail, report, ids);
    const verdict = deliveryVerdict(report, ids);
    measured(`(a) kill: ${JSON.stringify(verdict)}, ${report.failures} failed attempts`);
    // The run went on after the restart, so most of the 2000 were accepted.
    expect(report.accepted.length).toBeGreaterThan(1500);
    expect(verdict).toMatchObject({ acceptedMissing: 0, unknown: 0 });
    const lmtpConcurrency = Number((await docker("exec", st.mail, "postconf", "-x", "-h", "lmtp_destination_concurrency_limit")).trim());
    expect(Number.isInteger(lmtpConcurrency) && lmtpConcurrency > 0).toBe(true);
    expect(verdict.acceptedDuplicated + verdict.unconfirmedDuplicated).toBeLessThanOrEqual(lmtpConcurrency);
  });

  // The kill in (a) lands at a random point; one that lands while cleanup
  // writes a new queue file leaves it under its temporary name. Postfix's
  // start-up check (postsuper) then failed to log its warning and the
  // container restarted forever. Planted here, so the case is
  // deterministic; with a second file postsuper can only warn about.
  test("(a) files a crash leaves in the queue do not stop the restart", async () => {
    const st = s!;
    const [leftover, bogus] = ["/var/spool/postfix/incoming/987654.4321", "/var/spool/postfix/incoming/bogus-name"];
    await docker("exec", st.mail, "sh", "-c", 'for f; do : > "$f" && chown postfix "$f" && chmod 600 "$f"; done', "sh", leftover, bogus);
    const since = new Date().toISOString();
    try {
      await docker("restart", "-t", "10", st.mail);
      await waitHealthy(st.mail, 120_000);
      expect((await docker("exec", st.mail, "sh", "-c", `test -e ${leftover} && echo present || echo gone`)).trim()).toBe("gone");
      // The warning reached the container's log instead of stopping Postfix.
      expect(await containerLog(st.mail, since)).toMatch(/postsuper.*warning: bogus file name: incoming\/bogus-name/);
    } finally {
      await docker("exec", st.mail, "rm", "-f", bogus).catch(() => undefined);
    }
    const subject = uniqueName("after-leftover");
    expect(await mailClient(st.lab, "send", { port: 587, user: frank, sender: frank, to: frank, subject, body: "x" }, st.lab.passwords[frank])).toEqual({ ok: true, refused: {} });
    await waitForMail(st.lab, frank, subject);
  });

  test("(b) with Dovecot's LMTP gone, Postfix accepts and defers; it delivers everything once LMTP is back", async () => {
    const st = s!;
    const socket = "/var/spool/postfix/private/dovecot-lmtp";
    // Cached LMTP connections outlive a missing socket: let them expire (2 s) first.
    await sleep(4000);
    await docker("exec", st.mail, "mv", socket, `${socket}.down`);
    const idPrefix = uniqueName("lmtp");
    let report;
    try {
      report = await sendNumbered({ endpoint: smtp, from: "load@client.test", to: sink, count: 200, idPrefix, connections: 4, deadline: Date.now() + 3 * 60_000 });
      expect(report.accepted.length).toBe(200);
      await sleep(5000);
      // Nothing delivered, everything still queued.
      expect((await idsInMaildir(st.mail, maildir, idPrefix)).size).toBe(0);
      expect(await queued(st.mail)).toBeGreaterThanOrEqual(200);
    } finally {
      await docker("exec", st.mail, "mv", `${socket}.down`, socket);
    }
    // Postfix retries on its own (main.cf: minimal_backoff_time, queue_run_delay).
    const back = Date.now();
    const ids = await settle(st.mail, maildir, idPrefix, 6 * 60_000);
    await explainLosses(st.mail, report, ids);
    measured(`(b) LMTP back: all 200 delivered and the queue empty ${Math.round((Date.now() - back) / 1000)} s later`);
    const verdict = deliveryVerdict(report, ids);
    expect(verdict).toMatchObject({ accepted: 200, acceptedMissing: 0, acceptedDuplicated: 0, unknown: 0 });
  });

  test("(e) mail waiting in the queue survives the mail container's replacement and is delivered by the new one", async () => {
    const st = s!;
    const socket = "/var/spool/postfix/private/dovecot-lmtp";
    await sleep(4000);
    await docker("exec", st.mail, "mv", socket, `${socket}.down`);
    const idPrefix = uniqueName("queue");
    const report = await sendNumbered({ endpoint: smtp, from: "load@client.test", to: sink, count: 50, idPrefix, connections: 2, deadline: Date.now() + 2 * 60_000 });
    expect(report.accepted.length).toBe(50);
    // And one for a host where no SMTP server listens (the lab's DNS server): deferred, not bounced.
    const far = `nobody@dns.${domain}`;
    expect(await mailClient(st.lab, "send", { port: 587, user: frank, sender: frank, to: far, subject: `${idPrefix}-far`, body: "x" }, st.lab.passwords[frank])).toEqual({ ok: true, refused: {} });
    const farQueued = async () =>
      (await docker("exec", st.mail, "postqueue", "-j")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as { queue_id: string; recipients: { address: string }[] })
        .filter((m) => m.recipients.some((r) => r.address === far)).map((m) => m.queue_id);
    let farIds: string[] = [];
    for (let i = 0; i < 30 && farIds.length === 0; i++) {
      await sleep(1000);
      farIds = await farQueued();
    }
    expect(farIds).toHaveLength(1);
    expect((await idsInMaildir(st.mail, maildir, idPrefix)).size).toBe(0);
    expect(await queued(st.mail)).toBeGreaterThanOrEqual(51);

    const back = Date.now();
    try {
      // Replace the mail container, as a new image would: the container, and
      // the deploy's round trip (a new server is checked again), nothing else.
      const before = (await docker("inspect", "-f", "{{.Id}}", st.mail)).trim();
      const resources = (await st.stack.exportStack()).deployment.resources as { urn: string; type: string }[];
      const container = resources.find((r) => r.type === "docker:index/container:Container" && r.urn.endsWith("::mail"))!;
      const replaced = await st.stack.up({ onOutput: log, replace: [container.urn] });
      expect(changesOf(replaced.summary.resourceChanges ?? {})).toMatchObject({ replace: 2 });
      expect(replaced.summary.resourceChanges).not.toHaveProperty("create");
      expect(replaced.summary.resourceChanges).not.toHaveProperty("delete");
      expect((await docker("inspect", "-f", "{{.Id}}", st.mail)).trim()).not.toBe(before);

      // The new container finds the queue: the 50 are delivered; the far one is still waiting, same queue ID.
      const delivered = async () => [...(await idsInMaildir(st.mail, maildir, idPrefix)).values()];
      for (let i = 0; i < 300 && (await delivered()).length < 50; i++) await sleep(2000);
      expect(await farQueued()).toEqual(farIds);
    } finally {
      // Leave the shared system as it was for the cases after this one.
      await docker("exec", st.mail, "sh", "-c", 'if [ -e "$1.down" ] && [ ! -e "$1" ]; then mv "$1.down" "$1"; else rm -f "$1.down"; fi', "sh", socket).catch(() => undefined);
      for (const id of await farQueued().catch(() => [])) await docker("exec", st.mail, "postsuper", "-d", id).catch(() => undefined);
    }
    const ids = await settle(st.mail, maildir, idPrefix, 6 * 60_000);
    await explainLosses(st.mail, report, ids);
    measured(`(e) container replaced with 51 queued: the 50 delivered ${Math.round((Date.now() - back) / 1000)} s after the replacing up began, the far one still queued as ${farIds[0]} afterwards`);
    expect(deliveryVerdict(report, ids)).toMatchObject({ accepted: 50, acceptedMissing: 0, acceptedDuplicated: 0, unknown: 0 });
    // The replaced server still takes and delivers new mail.
    expect(await mailClient(st.lab, "send", { port: 587, user: frank, sender: frank, to: frank, subject: `${idPrefix}-after`, body: "x" }, st.lab.passwords[frank])).toEqual({ ok: true, refused: {} });
    await waitForMail(st.lab, frank, `${idPrefix}-after`);
  });

  test("(d) the database restarting under load: logins falter at most briefly, then recover with no manual step", async () => {
    const st = s!;
    const imaps: Endpoint = { host: st.lab.mail, port: 993, tls: true, ca: st.lab.ca, servername: st.lab.servername };
    const password = st.lab.passwords[frank];
    const results: { at: number; ok: boolean; ms: number }[] = [];
    const idPrefix = uniqueName("db");
    const dbStartedBefore = (await docker("inspect", "-f", "{{.State.StartedAt}}", st.db)).trim();
    const t0 = Date.now();
    const stopAt = t0 + 100_000;
    // Logins, one after another, for 100 s.
    const logins = (async () => {
      for (let i = 0; i < 2000 && Date.now() < stopAt; i++) {
        const start = Date.now();
        let ok = false;
        try {
          const w = await Wire.open(imaps, 5000);
          await w.line(10_000);
          ok = (await w.imap("a1", `LOGIN "${frank}" "${password}"`, 30_000)).status === "OK";
          w.close();
        } catch {
          ok = false;
        }
        results.push({ at: start - t0, ok, ms: Date.now() - start });
        await sleep(200);
      }
    })();
    // Mail on 25 at the same time (each recipient is looked up in the database).
    const sending = sendNumbered({ endpoint: smtp, from: "load@client.test", to: sink, count: 100_000, idPrefix, connections: 2, deadline: stopAt });
    await sleep(10_000);
    const restartedAt = new Date().toISOString();
    await docker("restart", "-t", "10", st.db);
    await waitHealthy(st.db);
    const healthyAt = Date.now() - t0;
    const [, report] = await Promise.all([logins, sending]);
    const failures = results.filter((r) => !r.ok);
    const slowest = Math.max(...results.map((r) => r.ms));
    measured(`(d) db restart: healthy again ${healthyAt} ms after the start; ${failures.length}/${results.length} logins failed` +
      ` (last at ${failures.at(-1)?.at ?? "-"} ms), slowest login ${slowest} ms; ${report.accepted.length} messages accepted, ${report.failures} refused or failed`);
    // The database really restarted under the load.
    expect((await docker("inspect", "-f", "{{.State.StartedAt}}", st.db)).trim()).not.toBe(dbStartedBefore);
    // Every client reconnected over TLS: the database refused none (its account requires TLS). Before
    // dovecot-sql-client.cnf an auth worker reconnected without it and was refused until it ended,
    // failing a login that started 25 s after the database was back and holding others 30-60 s.
    expect((await containerLog(st.db, restartedAt)).match(/.*Access denied.*/g) ?? []).toEqual([]);
    // Logins worked before the restart and every one in the last 20 s worked: no one had to step in.
    expect(results.filter((r) => r.at < 9000).every((r) => r.ok)).toBe(true);
    const tail = results.filter((r) => r.at > 80_000);
    expect(tail.length).toBeGreaterThan(10);
    expect(tail.every((r) => r.ok)).toBe(true);
    // Mail accepted during it all is delivered, once.
    const ids = await settle(st.mail, maildir, idPrefix, 6 * 60_000);
    await explainLosses(st.mail, report, ids);
    expect(deliveryVerdict(report, ids)).toMatchObject({ acceptedMissing: 0, acceptedDuplicated: 0, unconfirmedDuplicated: 0, unknown: 0 });
    // Submission (SASL through Dovecot) works too.
    expect(await mailClient(st.lab, "send", { port: 587, user: frank, sender: frank, to: frank, subject: idPrefix, body: "x" }, password)).toEqual({ ok: true, refused: {} });
    await waitForMail(st.lab, frank, idPrefix);
  });

});

long("(c) a `pulumi up` interrupted with SIGINT halfway converges on the next `up`", () => {
  test("interrupt, then up again: everything exists once, mail works, nothing left to change", async () => {
    const name = uniqueName("int");
    const net = (await freeSubnet()).replace(/\.0\/24$/, "");
    const config = {
      "mail-system:domain": domain,
      "mail-system:users": [{ email: frank }],
      ...dockerLab(name, net),
    };
    await withStack(path.join(__dirname, "..", ".."), name, config, async (stack: Stack) => {
      // Interrupt about halfway (the stack has 40 resources): the round-trip check is still to come.
      const abort = new AbortController();
      let created = 0;
      const first = await stack
        .up({
          onOutput: log,
          signal: abort.signal,
          onEvent: (e) => {
            const m = e.resOutputsEvent?.metadata;
            if (m && m.op === "create" && ++created === 20) abort.abort();
          },
        })
        .then(() => "completed", (e: Error) => e.message);
      expect(abort.signal.aborted).toBe(true);
      expect(first).not.toBe("completed");
      const partial = ((await stack.exportStack()).deployment.resources ?? []) as { urn: string }[];
      expect(partial.length).toBeGreaterThan(10);
      expect(partial.filter((r) => r.urn.endsWith("::deploy-check-check"))).toEqual([]);

      const second = await stack.up({ onOutput: log });
      expect(second.summary.result).toBe("succeeded");
      expect(second.outputs.deployCheck.value).toMatch(/^SMTP submission to IMAP delivery for frank@faults\.test in \d+ ms$/);
      // Converged: nothing left to change, and every Docker object exists once.
      expect(changesOf((await stack.preview({ onOutput: log })).changeSummary)).toEqual({});
      const containers = (await docker("ps", "-a", "--format", "{{.Names}}", "--filter", `label=mail-system.stack=${name}`)).split("\n").filter(Boolean).sort();
      expect(containers).toEqual([`${name}-db`, `${name}-dns`, `${name}-mail`]);
      expect((await docker("network", "ls", "-q", "--filter", `name=^${name}-net$`)).split("\n").filter(Boolean)).toHaveLength(1);
    });
  });
});
