// Plain-value types shared by the pure renderers and the components. A
// renderer takes plain values (never Outputs) and returns text or files, so
// tests call it without Pulumi and the daemons' own checkers validate it.

/** A file a server needs, with the owner, group and mode it must have. */
export interface RenderedFile {
  /** Absolute path on the server. */
  readonly path: string;
  readonly content: string;
  readonly owner: string;
  readonly group: string;
  /** Octal mode, e.g. "0640". Files holding secrets are 0640 or stricter. */
  readonly mode: string;
  /** True when the content holds a secret (a password or a private key). */
  readonly secret?: boolean;
}

/** One DNS resource record of the zone. */
export interface DnsRecord {
  /** Owner name relative to the zone origin ("@" for the apex, "mail", ...). */
  readonly name: string;
  readonly type: "A" | "AAAA" | "CNAME" | "MX" | "NS" | "SRV" | "TLSA" | "TXT";
  /** Record data: an address, a target host name (absolute, with the final dot), TLSA data ("3 1 1 <hex>") or TXT text. */
  readonly value: string;
  /** MX preference or SRV priority. */
  readonly priority?: number;
  readonly ttl?: number;
}

/** Where and as whom Postfix and Dovecot reach the mail database. */
export interface DatabaseCredentials {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly user: string;
  readonly password: string;
}

/** The mail database as MysqlServer offers it: credentials, and the CA its TLS certificate is verified with. */
export interface DatabaseConnection extends DatabaseCredentials {
  /** PEM of the CA that issued the database server's certificate (for its address, `host`). */
  readonly caCertificate: string;
}

/** The mail database as the mail server's renderers see it: credentials, and that CA as a file on the mail server. */
export interface DatabaseClient extends DatabaseCredentials {
  /** Absolute path of the CA certificate: Postfix and Dovecot verify the database's certificate (and address) with it. */
  readonly caFile: string;
}

/** A TLS certificate with its key and issuing CA (PEM), as a server installs them. */
export interface TlsMaterial {
  readonly certificate: string;
  readonly privateKey: string;
  readonly caCertificate: string;
}
