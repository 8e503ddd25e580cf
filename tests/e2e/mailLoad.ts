// Mail under faults: a sender that numbers every message (a unique
// Message-ID) and records which ones the server accepted (250 after the
// data), and a check of what landed in a maildir, message by message.
import { docker, sh } from "./lab";
import { Endpoint, Wire } from "./wire";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface SendReport {
  /** Message-IDs the server answered 250 to after the data: it took responsibility for them. */
  accepted: string[];
  /** Message-IDs sent (at least in part) without that answer: the server may or may not have them. */
  unconfirmed: string[];
  /** Connections or commands that failed (refused, reset, 4xx/5xx). */
  failures: number;
}

/**
 * Sends `count` messages from `from` to `to` on port 25 over `connections`
 * parallel sessions, reconnecting after a failure (a bounded number of times,
 * a second apart, until `deadline`). A message that was not answered 250 is
 * not retried: it is reported as unconfirmed.
 */
export async function sendNumbered(o: {
  endpoint: Endpoint; from: string; to: string; count: number; idPrefix: string; connections: number; deadline: number;
  onAccepted?: (n: number) => void;
}): Promise<SendReport> {
  const report: SendReport = { accepted: [], unconfirmed: [], failures: 0 };
  let next = 0;
  const worker = async () => {
    let wire: Wire | undefined;
    for (let attempt = 0; attempt < 10_000 && next < o.count && Date.now() < o.deadline; attempt++) {
      try {
        if (!wire || wire.isClosed) {
          wire = await Wire.open(o.endpoint, 5000);
          if ((await wire.smtpReply(10_000)).code !== 220) throw new Error("no greeting");
          if ((await wire.smtp("EHLO loadclient.test", 10_000)).code !== 250) throw new Error("EHLO refused");
        }
        const i = next++;
        const id = `<${o.idPrefix}.${i}@loadclient.test>`;
        let dataSent = false;
        try {
          if ((await wire.smtp(`MAIL FROM:<${o.from}>`, 30_000)).code !== 250) throw new Error("MAIL refused");
          if ((await wire.smtp(`RCPT TO:<${o.to}>`, 30_000)).code !== 250) throw new Error("RCPT refused");
          if ((await wire.smtp("DATA", 30_000)).code !== 354) throw new Error("DATA refused");
          dataSent = true;
          // A whole header (Date too) so a content filter scores it as ordinary mail.
          const body = `Date: ${new Date().toUTCString()}\r\nFrom: <${o.from}>\r\nTo: <${o.to}>\r\nSubject: ${o.idPrefix} ${i}\r\nMessage-ID: ${id}\r\n\r\nmessage ${i}\r\n.\r\n`;
          wire.write(body);
          const end = await wire.smtpReply(60_000);
          if (end.code !== 250) throw new Error(`data refused: ${end.text}`);
          report.accepted.push(id);
          o.onAccepted?.(report.accepted.length);
        } catch (e) {
          if (dataSent) report.unconfirmed.push(id);
          // Nothing of a message refused before its data can have been queued.
          throw e;
        }
      } catch {
        report.failures++;
        wire?.close();
        wire = undefined;
        await sleep(1000);
      }
    }
    if (wire && !wire.isClosed) {
      await wire.smtp("QUIT", 5000).catch(() => undefined);
      wire.close();
    }
  };
  await Promise.all(Array.from({ length: o.connections }, worker));
  return report;
}

/**
 * How many files of the maildir, in any folder, carry each Message-ID that
 * starts with `<idPrefix.`: a message Rspamd scored as junk is filed into
 * Junk, and it was delivered all the same.
 */
export async function idsInMaildir(container: string, maildir: string, idPrefix: string): Promise<Map<string, number>> {
  const out = await docker("exec", container, "sh", "-c",
    `find "$1" -type f \\( -path "*/new/*" -o -path "*/cur/*" \\) -print0 2>/dev/null | xargs -0 -r grep -h -i -m1 '^Message-ID: <'"$2"'\\.' || true`, "ids", maildir, idPrefix);
  const counts = new Map<string, number>();
  for (const l of out.split("\n")) {
    const id = l.replace(/^Message-ID:\s*/i, "").trim();
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/**
 * Messages in Postfix's queue (postqueue -j: one line each). A queue file that
 * a crash left half-written is not among them: its client never had a 250.
 */
export async function queued(container: string): Promise<number> {
  const out = await docker("exec", container, "sh", "-c", "postqueue -j | wc -l");
  return Number(out.trim());
}

/** Polls (bounded) until Postfix's queue is empty and the count of our ids in the maildir stops changing. */
export async function settle(container: string, maildir: string, idPrefix: string, timeoutMs: number): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    const ids = await idsInMaildir(container, maildir, idPrefix).catch(() => undefined);
    const q = await queued(container).catch(() => -1);
    const total = ids ? [...ids.values()].reduce((a, b) => a + b, 0) : -1;
    if (ids && q === 0 && total === last) return ids;
    last = total;
    await sleep(2000);
  }
  throw new Error(`queue of ${container} not empty or maildir still changing after ${timeoutMs / 1000} s`);
}

/** The exactly-once verdict: accepted ids delivered once, unconfirmed ones at most once, nothing else. */
export function deliveryVerdict(report: SendReport, ids: Map<string, number>) {
  const accepted = new Set(report.accepted);
  const unconfirmed = new Set(report.unconfirmed);
  return {
    accepted: accepted.size,
    acceptedMissing: report.accepted.filter((id) => (ids.get(id) ?? 0) === 0).length,
    acceptedDuplicated: report.accepted.filter((id) => (ids.get(id) ?? 0) > 1).length,
    unconfirmedDelivered: report.unconfirmed.filter((id) => (ids.get(id) ?? 0) === 1).length,
    unconfirmedDuplicated: report.unconfirmed.filter((id) => (ids.get(id) ?? 0) > 1).length,
    unknown: [...ids.keys()].filter((id) => !accepted.has(id) && !unconfirmed.has(id)).length,
  };
}

/**
 * The mail log's story of each accepted message that is not in the maildir:
 * cleanup logs `message-id=<...>` with the queue ID, and every later line of
 * that message carries the queue ID. Printed when a verdict finds a loss, so
 * a failed run says where the message went.
 */
export async function missingTrail(container: string, report: SendReport, ids: Map<string, number>): Promise<string[]> {
  const missing = report.accepted.filter((id) => (ids.get(id) ?? 0) === 0).slice(0, 5);
  if (missing.length === 0) return [];
  const log = (await sh("sh", ["-c", 'docker logs "$1" 2>&1', "sh", container]).catch((e) => String(e))).split("\n");
  return missing.flatMap((id) => {
    const queueIds = new Set(log.filter((l) => l.includes(`message-id=${id}`)).map((l) => / ([0-9A-F]{6,}): /.exec(l)?.[1]).filter((q): q is string => !!q));
    const lines = log.filter((l) => [...queueIds].some((q) => l.includes(q)));
    return [`${id}: queue ids ${[...queueIds].join(", ") || "none logged"}`, ...lines.map((l) => `  ${l}`)];
  });
}
