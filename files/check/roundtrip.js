#!/usr/bin/env node
// One SMTP-to-IMAP round trip, run by the deploy (MailRoundTrip): submits a
// message on 587 with STARTTLS and AUTH as a user, to that same user, waits
// for it in the INBOX over IMAPS (993), then deletes it. Exits non-zero with
// a message that says which step failed. Node's standard library only.
//   MAIL_HOST        address of the mail server
//   MAIL_SERVERNAME  name its certificate is checked against
//   MAIL_CA          PEM of the CA to trust (empty: the system's CAs)
//   MAIL_USER        the user (an e-mail address)
//   MAIL_PASSWORD    the user's password
//   MAIL_TIMEOUT     seconds the whole check may take (default 60)
"use strict";
const net = require("net");
const tls = require("tls");
const crypto = require("crypto");

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || (v === "" && fallback === undefined)) throw new Error(`${name} is not set`);
  return v === "" ? fallback : v;
};
const host = env("MAIL_HOST");
const servername = env("MAIL_SERVERNAME");
const ca = env("MAIL_CA", "");
const user = env("MAIL_USER");
const password = env("MAIL_PASSWORD");
const deadline = Date.now() + 1000 * Number(process.env.MAIL_TIMEOUT || 60);
const tlsOptions = { servername, ...(ca ? { ca } : {}), minVersion: "TLSv1.2" };

/** Line-oriented reader over a socket that can be upgraded to TLS. */
class Conversation {
  constructor(socket) {
    this.attach(socket);
  }
  attach(socket) {
    this.socket = socket;
    this.buffer = "";
    this.waiting = null;
    socket.setEncoding("utf8");
    socket.on("data", (d) => {
      this.buffer += d;
      this.wake();
    });
    socket.on("error", (e) => {
      this.error = e;
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }
  wake() {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w();
    }
  }
  async line() {
    for (;;) {
      const i = this.buffer.indexOf("\r\n");
      if (i >= 0) {
        const l = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        return l;
      }
      if (this.error) throw this.error;
      if (this.closed) throw new Error("connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out");
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
  send(text) {
    this.socket.write(text + "\r\n");
  }
}

async function smtpReply(c, expect, step) {
  let l;
  do l = await c.line();
  while (/^\d{3}-/.test(l));
  if (!l.startsWith(String(expect))) throw new Error(`SMTP ${step}: expected ${expect}, got "${l}"`);
  return l;
}

async function submit(subject) {
  const plain = net.connect({ host, port: 587 });
  const c = new Conversation(plain);
  await smtpReply(c, 220, "greeting");
  c.send("EHLO deploy-check.invalid");
  await smtpReply(c, 250, "EHLO");
  c.send("STARTTLS");
  await smtpReply(c, 220, "STARTTLS");
  plain.removeAllListeners("data");
  const secure = tls.connect({ socket: plain, ...tlsOptions });
  await new Promise((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject));
  c.attach(secure);
  c.send("EHLO deploy-check.invalid");
  await smtpReply(c, 250, "EHLO after STARTTLS");
  c.send(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString("base64")}`);
  await smtpReply(c, 235, "AUTH (is the password right?)");
  c.send(`MAIL FROM:<${user}>`);
  await smtpReply(c, 250, "MAIL FROM");
  c.send(`RCPT TO:<${user}>`);
  await smtpReply(c, 250, "RCPT TO");
  c.send("DATA");
  await smtpReply(c, 354, "DATA");
  c.send(
    [
      `From: <${user}>`,
      `To: <${user}>`,
      `Subject: ${subject}`,
      `Message-ID: <${crypto.randomUUID()}@deploy-check.invalid>`,
      `Date: ${new Date().toUTCString()}`,
      "",
      "Sent and deleted by mail-system's deploy check.",
      ".",
    ].join("\r\n"),
  );
  await smtpReply(c, 250, "end of DATA");
  c.send("QUIT");
  secure.end();
}

const quote = (s) => `"${s.replace(/(["\\])/g, "\\$1")}"`;

async function fetchAndDelete(subject) {
  const socket = tls.connect({ host, port: 993, ...tlsOptions });
  const c = new Conversation(socket);
  let n = 0;
  const command = async (text, step) => {
    const tag = `a${++n}`;
    c.send(`${tag} ${text}`);
    const untagged = [];
    for (;;) {
      const l = await c.line();
      if (l.startsWith(`${tag} `)) {
        if (!l.startsWith(`${tag} OK`)) throw new Error(`IMAP ${step}: "${l}"`);
        return untagged;
      }
      untagged.push(l);
    }
  };
  const greeting = await c.line();
  if (!greeting.startsWith("* OK")) throw new Error(`IMAP greeting: "${greeting}"`);
  await command(`LOGIN ${quote(user)} ${quote(password)}`, "LOGIN");
  await command("SELECT INBOX", "SELECT");
  for (;;) {
    const found = (await command(`UID SEARCH HEADER Subject ${quote(subject)}`, "SEARCH"))
      .filter((l) => l.startsWith("* SEARCH"))
      .flatMap((l) => l.split(" ").slice(2));
    if (found.length > 0) {
      await command(`UID STORE ${found.join(",")} +FLAGS.SILENT (\\Deleted)`, "STORE");
      await command("EXPUNGE", "EXPUNGE");
      await command("LOGOUT", "LOGOUT").catch(() => undefined);
      socket.end();
      return;
    }
    if (Date.now() > deadline) throw new Error(`the message was not delivered to ${user}'s INBOX in time`);
    await command("NOOP", "NOOP");
    await new Promise((r) => setTimeout(r, 500));
  }
}

(async () => {
  const started = Date.now();
  const subject = `mail-system deploy check ${crypto.randomUUID()}`;
  await submit(subject);
  await fetchAndDelete(subject);
  process.stdout.write(`SMTP submission to IMAP delivery for ${user} in ${Date.now() - started} ms\n`);
})().catch((e) => {
  process.stderr.write(`mail round trip failed: ${e.message}\n`);
  process.exit(1);
});
