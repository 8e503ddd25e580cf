// The mail server's limits as a pure function of plain settings: the abuse
// limits Postfix enforces itself (anvil, per client address on 25) and the
// configuration of mail-guard (files/mail/guard), the small daemon that
// checks senders on 587/465 (milter), counts each login's recipients
// (Postfix policy) and bans addresses that keep failing to log in (Dovecot's
// auth policy, which SMTP AUTH, IMAP and POP3 all go through).
import * as fs from "fs";
import * as path from "path";
import { FILES_DIR, renderTemplate } from "./template";
import { RenderedFile } from "./types";

/** How much one client or one login may do. Every field is a positive whole number. */
export interface MailLimits {
  /** New SMTP connections a minute from one client address on 25. */
  readonly smtpConnectionsPerMinute: number;
  /** Messages a minute from one client address on 25. */
  readonly smtpMessagesPerMinute: number;
  /** Simultaneous SMTP connections from one client address on 25. */
  readonly smtpConnectionsAtOnce: number;
  /** Recipients one login may send to in any hour on 587/465. */
  readonly submissionRecipientsPerHour: number;
  /** Failed logins (SMTP AUTH, IMAP, POP3) from one address within authWindowMinutes that ban it. */
  readonly authFailures: number;
  readonly authWindowMinutes: number;
  /** How long a banned address is refused, even with the right password. */
  readonly authBanMinutes: number;
}

/**
 * Defaults a small domain never reaches in normal use: a big sender's MX
 * opens a few connections a minute; a person sends to far fewer than 500
 * people an hour; a phone with an old password fails a few times, not 10
 * times in 10 minutes.
 */
export const DEFAULT_LIMITS: MailLimits = {
  smtpConnectionsPerMinute: 60,
  smtpMessagesPerMinute: 120,
  smtpConnectionsAtOnce: 10,
  submissionRecipientsPerHour: 500,
  authFailures: 10,
  authWindowMinutes: 10,
  authBanMinutes: 15,
};

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof MailLimits)[];

/** The largest value of any limit: far above any real use, small enough for every daemon's integer. */
export const MAX_LIMIT = 1_000_000;

/** Problems with `limits`, one per field ([] when it can be rendered). */
export function limitProblems(limits: object): { field: string; message: string }[] {
  return LIMIT_NAMES.flatMap((field) => {
    const v = (limits as Record<string, unknown>)[field];
    return Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= MAX_LIMIT
      ? []
      : [{ field, message: `${JSON.stringify(v)} is not a whole number from 1 to ${MAX_LIMIT}` }];
  });
}

/** Where mail-guard listens (loopback only) and where its files go. */
export const MAIL_GUARD = {
  milter: "127.0.0.1:10031",
  policy: "127.0.0.1:10032",
  auth: "127.0.0.1:10033",
  program: "/usr/local/lib/mail-system/mail-guard.py",
  config: "/etc/mail-system/mail-guard.json",
  systemdUnit: "/etc/systemd/system/mail-guard.service",
  initScript: "/etc/init.d/mail-guard",
  pidFile: "/run/mail-guard.pid",
  python: "/usr/bin/python3",
} as const;

/** Postfix's milter entry for the guard: refuse (4xx) rather than let mail pass unchecked when it does not answer. */
export const MAIL_GUARD_MILTER = `{ inet:${MAIL_GUARD.milter}, default_action=tempfail }`;

const port = (listener: string) => Number(listener.slice(listener.lastIndexOf(":") + 1));

export interface MailGuardSettings {
  readonly limits: MailLimits;
  /** Where it logs: "syslog" (a host) or "stderr" (a container's log). */
  readonly logTo: "syslog" | "stderr";
  /** A host (its systemd unit and init script are written) rather than a container (the supervisor runs it). */
  readonly host: boolean;
}

/** mail-guard's program, configuration and, on a host, its systemd unit and init script. */
export function renderMailGuardFiles(s: MailGuardSettings): RenderedFile[] {
  const problems = limitProblems(s.limits);
  if (problems.length > 0) throw new Error(`mail limits: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`);
  const l = s.limits;
  const config = {
    milter: MAIL_GUARD.milter,
    policy: MAIL_GUARD.policy,
    auth: MAIL_GUARD.auth,
    recipientsPerHour: l.submissionRecipientsPerHour,
    authFailures: l.authFailures,
    authWindowSeconds: l.authWindowMinutes * 60,
    authBanSeconds: l.authBanMinutes * 60,
    // Processes of the server itself (webmail, health checks) are never banned.
    exempt: ["127.0.0.0/8", "::1/128"],
    user: "nobody",
    log: s.logTo,
  };
  const values = { python: MAIL_GUARD.python, program: MAIL_GUARD.program, config: MAIL_GUARD.config };
  const root = (p: string, content: string, mode: string): RenderedFile => ({ path: p, content, owner: "root", group: "root", mode });
  return [
    root(MAIL_GUARD.program, fs.readFileSync(path.join(FILES_DIR, "mail", "guard", "mail-guard.py"), "utf8"), "0755"),
    root(MAIL_GUARD.config, `${JSON.stringify(config, null, 2)}\n`, "0644"),
    ...(s.host
      ? [
          root(MAIL_GUARD.systemdUnit, renderTemplate("mail/guard/mail-guard.service", values), "0644"),
          root(
            MAIL_GUARD.initScript,
            renderTemplate("mail/guard/mail-guard.init", { ...values, pidFile: MAIL_GUARD.pidFile, lastPort: port(MAIL_GUARD.auth) }),
            "0755",
          ),
        ]
      : []),
  ];
}
