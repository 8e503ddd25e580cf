// MailRoundTrip: the deploy's last step proves the system works: one message
// submitted on 587 (STARTTLS, AUTH) and found in the INBOX over IMAPS, then
// deleted (files/check/roundtrip.js, run on the engine's host with Node).
// `pulumi up` fails with the step that broke otherwise. It runs again when a
// server is replaced or the user's password changes, not on every `up`.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { FILES_DIR } from "./render/template";

export interface MailRoundTripArgs {
  /** The mail server's address and the name its certificate carries. */
  readonly host: pulumi.Input<string>;
  readonly servername: pulumi.Input<string>;
  /** The CA to trust (PEM); empty for a publicly trusted certificate. */
  readonly caCertificate: pulumi.Input<string>;
  /** A user who sends to themselves, and their password. */
  readonly user: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
  /** Values whose change re-runs the check (e.g. the servers' container ids). */
  readonly triggers: pulumi.Input<unknown>[];
  /** Seconds the check may take. Default 60. */
  readonly timeout?: number;
}

export class MailRoundTrip extends pulumi.ComponentResource {
  /** What the check reported, e.g. "SMTP submission to IMAP delivery for ... in 512 ms". */
  readonly result: pulumi.Output<string>;

  constructor(name: string, args: MailRoundTripArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MailRoundTrip", name, {}, opts);
    const check = new command.local.Command(
      `${name}-check`,
      {
        create: `node "${path.join(FILES_DIR, "check", "roundtrip.js")}"`,
        environment: {
          MAIL_HOST: args.host,
          MAIL_SERVERNAME: args.servername,
          MAIL_CA: args.caCertificate,
          MAIL_USER: args.user,
          MAIL_PASSWORD: args.password,
          MAIL_TIMEOUT: String(args.timeout ?? 60),
        },
        triggers: args.triggers,
      },
      { parent: this },
    );
    // The report names the user and a duration, no secret (the command's
    // output is secret only because its environment holds the password).
    this.result = pulumi.unsecret(check.stdout);
    this.registerOutputs({ result: this.result });
  }
}
