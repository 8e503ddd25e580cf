// Real mail clients for end-to-end tests: tests/e2e/mailclient.py (Python's
// smtplib, imaplib, poplib) run against a deployed stack.
import { execFile } from "child_process";
import * as path from "path";

const client = path.join(__dirname, "mailclient.py");

export type ClientResult = { ok?: boolean; stage?: string; code?: number; error?: string; subjects?: string[] } & Record<
  string,
  unknown
>;

/** Where a deployed system is and how to trust and log in to it. */
export interface Lab {
  /** The mail server's address and the name its certificate carries. */
  mail: string;
  servername: string;
  /** Path of the CA certificate file. */
  ca: string;
  /** Password of each user. */
  passwords: Record<string, string>;
}

/** Runs one mailclient.py action; `password` goes through the environment. */
export function mailClient(
  lab: Lab,
  action: string,
  opts: Record<string, string | number | boolean | readonly string[]>,
  password = "",
): Promise<ClientResult> {
  const args = [client, action, "--host", lab.mail, "--ca", lab.ca, "--servername", lab.servername];
  for (const [k, v] of Object.entries(opts)) {
    if (v === true) args.push(`--${k}`);
    else if (Array.isArray(v)) for (const x of v) args.push(`--${k}`, x);
    else if (v !== false) args.push(`--${k}`, String(v));
  }
  return new Promise((resolve, reject) => {
    execFile("python3", args, { timeout: 60_000, env: { ...process.env, MAIL_PASSWORD: password } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`mailclient ${action} failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as ClientResult);
    });
  });
}

/** Submits a message on 587 (STARTTLS, AUTH) as `from`. */
export function send(lab: Lab, from: string, to: string, subject: string): Promise<ClientResult> {
  return mailClient(lab, "send", { port: 587, user: from, sender: from, to, subject, body: subject }, lab.passwords[from]);
}

/** The subjects in the user's INBOX (or `mailbox`) over IMAPS (with `password`, by default the user's own). */
export async function inbox(lab: Lab, user: string, password = lab.passwords[user], mailbox = "INBOX"): Promise<ClientResult> {
  return mailClient(lab, "imap", { port: 993, user, mailbox }, password);
}

/** Polls IMAPS until `subject` is in the user's INBOX or `mailbox` (bounded: 30 tries, a second apart). */
export async function waitForMail(lab: Lab, user: string, subject: string, mailbox = "INBOX"): Promise<string[]> {
  let subjects: string[] = [];
  for (let i = 0; i < 30; i++) {
    subjects = (await inbox(lab, user, lab.passwords[user], mailbox)).subjects ?? [];
    if (subjects.includes(subject)) return subjects;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`${subject} did not reach ${user}'s ${mailbox} in 30 s; it has: ${JSON.stringify(subjects)}`);
}

/** Every folder of a mailbox with its messages' subjects and flags, and the subscriptions, over IMAPS. */
export type MailboxState = { folders: Record<string, { subject: string; flags: string[] }[]>; subscribed: string[] };

export async function mailboxState(lab: Lab, user: string): Promise<MailboxState> {
  const r = (await mailClient(lab, "mailbox-state", { port: 993, user }, lab.passwords[user])) as ClientResult & MailboxState;
  if (!r.ok) throw new Error(`mailbox-state of ${user}: ${JSON.stringify(r)}`);
  return { folders: r.folders, subscribed: r.subscribed };
}
