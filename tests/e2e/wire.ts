// A raw, line-oriented client for SMTP and IMAP: sends exactly the bytes a
// test gives it (malformed commands included) and reads replies, with
// STARTTLS and implicit TLS. Every read has a deadline.
import * as fs from "fs";
import * as net from "net";
import * as tls from "tls";

export interface Endpoint {
  host: string;
  port: number;
  /** Implicit TLS (465, 993). */
  tls?: boolean;
  /** For TLS: the CA file and the name the certificate must carry. */
  ca: string;
  servername: string;
}

export class Wire {
  private buffer = "";
  private closed = false;
  private error: Error | undefined;
  private waiting: (() => void) | undefined;
  private constructor(private socket: net.Socket) {
    this.attach(socket);
  }

  static async open(e: Endpoint, timeoutMs = 10_000): Promise<Wire> {
    const socket = e.tls
      ? tls.connect({ host: e.host, port: e.port, servername: e.servername, ca: fs.readFileSync(e.ca), minVersion: "TLSv1.2" })
      : net.connect({ host: e.host, port: e.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect ${e.host}:${e.port} timed out`)), timeoutMs);
      socket.once(e.tls ? "secureConnect" : "connect", () => (clearTimeout(timer), resolve()));
      socket.once("error", (err) => (clearTimeout(timer), reject(err)));
    });
    return new Wire(socket);
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => ((this.buffer += d), this.wake()));
    socket.on("error", (err) => ((this.error = err), this.wake()));
    socket.on("close", () => ((this.closed = true), this.wake()));
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** True once the server closed the connection (or it failed). */
  get isClosed(): boolean {
    return this.closed || this.error !== undefined;
  }

  /** The next line without CRLF; rejects on close, error or timeout. */
  async line(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf("\n");
      if (i >= 0) {
        const l = this.buffer.slice(0, i).replace(/\r$/, "");
        this.buffer = this.buffer.slice(i + 1);
        return l;
      }
      if (this.error) throw this.error;
      if (this.closed) throw new Error("connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a line");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => (clearTimeout(timer), resolve());
      });
    }
  }

  /** Writes raw text (the caller adds CRLF). */
  write(text: string | Buffer): void {
    if (!this.isClosed) this.socket.write(text);
  }

  /** An SMTP reply: its code and all of its lines. */
  async smtpReply(timeoutMs?: number): Promise<{ code: number; text: string }> {
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const l = await this.line(timeoutMs);
      lines.push(l);
      if (!/^\d{3}-/.test(l)) return { code: Number(l.slice(0, 3)) || 0, text: lines.join("\n") };
    }
    throw new Error("SMTP reply of more than 1000 lines");
  }

  /** Sends one SMTP command line and returns the reply. */
  async smtp(command: string, timeoutMs?: number): Promise<{ code: number; text: string }> {
    this.write(`${command}\r\n`);
    return this.smtpReply(timeoutMs);
  }

  /** Sends a tagged IMAP command and returns the tagged status line ("OK", "NO" or "BAD") and the untagged lines. */
  async imap(tag: string, command: string, timeoutMs?: number): Promise<{ status: string; line: string; untagged: string[] }> {
    this.write(`${tag} ${command}\r\n`);
    const untagged: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const l = await this.line(timeoutMs);
      if (l.startsWith(`${tag} `)) return { status: l.slice(tag.length + 1).split(" ")[0], line: l, untagged };
      untagged.push(l);
    }
    throw new Error("IMAP response of more than 10000 lines");
  }

  /** Upgrades the connection to TLS (after a successful STARTTLS). */
  async startTls(e: Endpoint, timeoutMs = 10_000): Promise<void> {
    this.socket.removeAllListeners("data");
    const secure = tls.connect({ socket: this.socket, servername: e.servername, ca: fs.readFileSync(e.ca), minVersion: "TLSv1.2" });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("TLS handshake timed out")), timeoutMs);
      secure.once("secureConnect", () => (clearTimeout(timer), resolve()));
      secure.once("error", (err) => (clearTimeout(timer), reject(err)));
    });
    this.buffer = "";
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}
