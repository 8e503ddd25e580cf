// MysqlServer: MariaDB (or MySQL) holding the mail system's virtual domains,
// users and aliases (the seed's `mailserver` database), with an application
// user that may only SELECT, and only over TLS (the server's certificate is
// issued for its address by a CA of its own: AddressCertificate). Domains,
// users and aliases are rows, each its own resource, so adding a user
// changes one row and restarts nothing.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AddressCertificate } from "./mailCertificate";
import {
  MAIL_SCHEMA_SQL,
  MAIL_SCHEMA_UPGRADE_SQL,
  deleteAliasDomainSql,
  deleteAliasSql,
  deleteDomainSql,
  deleteUserSql,
  upsertAliasDomainSql,
  upsertAliasSql,
  upsertDomainSql,
  upsertUserSql,
} from "./render/mailSql";
import {
  DB_TLS_DIR,
  createDatabaseSql,
  createUserSql,
  dropDatabaseSql,
  dropUserSql,
  grantSelectSql,
  renderDbServerFiles,
  revokeSelectSql,
} from "./render/dbServer";
import { DatabaseConnection } from "./render/types";
import { PACKAGES } from "./packages";
import { ensureBackupRepository, ServerBackupArgs, withBackup } from "./serverBackup";
import { Capability, ServerScripts, ServerSpec, ServerTarget, ServiceSpec } from "./targets/server";

export interface MailboxRow {
  readonly email: string;
  /** The SHA512-CRYPT hash of the user's password (a secret). */
  readonly passwordHash: pulumi.Input<string>;
  /** The user's own storage quota in bytes (0: none); absent: the mail server's default. */
  readonly quotaBytes?: number;
}

export interface MysqlServerArgs {
  /** Where the server runs: a container or a host over SSH. */
  readonly target: ServerTarget;
  /** The server's address: it listens there (and only there) on 3306. */
  readonly address: pulumi.Input<string>;
  /**
   * Host part of the application user: where Postfix and Dovecot connect
   * from (an IPv4 address, or "%" for anywhere).
   * @default "%"
   */
  readonly clientHost?: pulumi.Input<string>;
  /**
   * Database name.
   * @default "mailserver" (the seed's)
   */
  readonly databaseName?: string;
  /**
   * Application user.
   * @default "mailrl" (the seed's)
   */
  readonly appUser?: string;
  /**
   * Backups with restic (mail-backup): a dump of the mail database, made on
   * this server (one transaction: consistent without stopping anything) on
   * the settings' schedule. Absent: none.
   */
  readonly backup?: ServerBackupArgs;
  /** Mail domains (virtual_domains rows). */
  readonly domains: readonly string[];
  /** Mailboxes (virtual_users rows). */
  readonly users: readonly MailboxRow[];
  /**
   * Aliases (virtual_aliases rows); `sendAs` lets the destination send as the source.
   * @default sendAs false
   */
  readonly aliases: readonly { readonly source: string; readonly destination: string; readonly sendAs?: boolean }[];
  /**
   * Alias domains (virtual_alias_domains rows): every address at `domain` is the same local part at `target`.
   * @default []
   */
  readonly aliasDomains?: readonly { readonly domain: string; readonly target: string }[];
}

/** The database server's one daemon. A new bind-address or certificate needs a restart. */
export const DB_SERVICES: readonly ServiceSpec[] = [
  {
    id: "server",
    unit: { debian: "mariadb", rhel: "mysqld" },
    reads: (path) => path.endsWith(".cnf") || path.startsWith(`${DB_TLS_DIR}/`),
    onChange: "restart",
    container: { run: "install -d -o mysql -g mysql -m 0755 /run/mysqld; exec mariadbd --user=mysql" },
  },
];

/**
 * What root needs on the database server (see ServerSpec.capabilities), each
 * found missing by experiment: SETUID/SETGID (mariadbd --user=mysql), CHOWN
 * (/run/mysqld for mysql), FOWNER (install -d over the existing directory on a
 * restart), KILL (stopping mariadbd, which runs as mysql), DAC_OVERRIDE
 * (mariadbd probes the mysql-owned data directory as root before it drops to
 * mysql; without it, a permission warning on every start).
 */
export const DB_CAPABILITIES: readonly Capability[] = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"];

/**
 * An empty data directory (a new volume, or a host whose package did not make
 * it) gets the server's system tables; root logs in over the unix socket
 * only. (RHEL's MySQL initializes it on its first start.)
 */
export const DB_PREPARE = {
  apply:
    "[ -d /var/lib/mysql/mysql ] || ! command -v mariadb-install-db >/dev/null || " +
    "mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null",
  revert: ":",
};

export class MysqlServer extends pulumi.ComponentResource {
  /** The server's address. */
  readonly address: pulumi.Output<string>;
  /** How Postfix and Dovecot reach the database: the application user's credentials (password secret) and the CA to verify it with. */
  readonly connection: pulumi.Output<DatabaseConnection>;
  /** Where the server is: its container's name, or user@host. */
  readonly location: pulumi.Output<string>;
  /** Changes whenever the server is replaced or reconfigured. */
  readonly serverId: pulumi.Output<string>;

  constructor(name: string, args: MysqlServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MysqlServer", name, {}, opts);
    const databaseName = args.databaseName ?? "mailserver";
    const appUserName = args.appUser ?? "mailrl";
    const clientHost = pulumi.output(args.clientHost ?? "%");

    const appPassword = new random.RandomPassword(
      `${name}-app-password`,
      { length: 32, special: false },
      { parent: this, aliases: [{ name: `${name}-app` }] },
    );

    // For the address the mail server connects to (the one it listens on).
    const tls = new AddressCertificate(`${name}-tls`, { address: args.address }, { parent: this });
    const spec: ServerSpec = withBackup({
      role: "db",
      packages: PACKAGES.db,
      files: ({ family }) =>
        pulumi
          .all([args.address, tls.certificate, tls.privateKey, tls.caCertificate])
          .apply(([address, certificate, privateKey, caCertificate]) =>
            renderDbServerFiles(family, address, { certificate, privateKey, caCertificate }),
          ),
      services: DB_SERVICES,
      capabilities: DB_CAPABILITIES,
      prepare: DB_PREPARE,
      dataDirectories: ["/var/lib/mysql"],
    }, args.backup, { paths: [], database: databaseName });
    const server = args.target.place(name, spec, args.address, this);
    ensureBackupRepository(server, name, args.backup, this);

    // Everything in the server goes through its own client (root over the
    // unix socket), in the container or on the host: the database, the
    // application user and its grant, the tables and the rows. Each is one
    // resource, so a change touches one thing, and destroy drops each.
    // (@pulumi/mysql is not used: it bridges terraform-provider-mysql 1.9,
    // which reads @@innodb_version, gone from MariaDB 10.10 on.)
    // `server` runs SQL outside any database, `sql` in the mail database.
    const exec = (resource: string, program: string[], scripts: ServerScripts, dependsOn: pulumi.Resource[]) =>
      server.exec(resource, program, scripts, { dependsOn });
    const serverSql = (resource: string, scripts: ServerScripts, dependsOn: pulumi.Resource[] = []) =>
      exec(resource, ["mysql", "--batch"], scripts, dependsOn);
    const sql = (resource: string, scripts: ServerScripts, dependsOn: pulumi.Resource[]) =>
      exec(resource, ["mysql", "--batch", databaseName], scripts, dependsOn);

    const database = serverSql(`${name}-database`, {
      apply: server.engineAddress.apply((engine) => createDatabaseSql(databaseName, engine)),
      revert: dropDatabaseSql(databaseName),
      replaceOn: [databaseName],
    });
    // REQUIRE SSL, on an existing user too (the ALTER): like every exec it
    // runs once the server is healthy with its TLS files, so on an upgrade
    // the server offers TLS before the user needs it; the mail server's files
    // switch to TLS right after (they wait for `connection`, so for this).
    const appUser = serverSql(`${name}-app-user`, {
      apply: pulumi.secret(pulumi.all([clientHost, appPassword.result]).apply(([host, pw]) => createUserSql(appUserName, host, pw))),
      revert: clientHost.apply((host) => dropUserSql(appUserName, host)),
      replaceOn: [appUserName, clientHost],
    });
    const grant = serverSql(
      `${name}-app-grant`,
      {
        apply: clientHost.apply((host) => grantSelectSql(databaseName, appUserName, host)),
        revert: clientHost.apply((host) => revokeSelectSql(databaseName, appUserName, host)),
        replaceOn: [databaseName, appUserName, clientHost],
      },
      [database, appUser],
    );

    const schema = sql(`${name}-schema`, { apply: MAIL_SCHEMA_SQL + MAIL_SCHEMA_UPGRADE_SQL }, [database]);
    const domainRows = args.domains.map((d) =>
      sql(`${name}-domain-${d}`, { apply: upsertDomainSql(d), revert: deleteDomainSql(d) }, [schema]),
    );
    const userRows = args.users.map((u) =>
      sql(
        `${name}-user-${u.email}`,
        {
          apply: pulumi.secret(pulumi.output(u.passwordHash).apply((hash) => upsertUserSql(u.email, hash, u.quotaBytes ?? null))),
          revert: deleteUserSql(u.email),
        },
        domainRows,
      ),
    );
    args.aliases.forEach((a) =>
      sql(
        `${name}-alias-${a.source}-${a.destination}`,
        { apply: upsertAliasSql(a.source, a.destination, a.sendAs ?? false), revert: deleteAliasSql(a.source, a.destination) },
        [...domainRows, ...userRows],
      ),
    );
    (args.aliasDomains ?? []).forEach((a) =>
      sql(`${name}-alias-domain-${a.domain}`, { apply: upsertAliasDomainSql(a.domain, a.target), revert: deleteAliasDomainSql(a.domain) }, domainRows),
    );

    this.address = pulumi.output(args.address);
    this.location = server.location;
    this.serverId = server.readyId;
    this.connection = pulumi
      .all([server.address, appPassword.result, tls.caCertificate, grant.id])
      .apply(([host, password, caCertificate]) => ({ host, port: 3306, name: databaseName, user: appUserName, password, caCertificate }));
    this.registerOutputs({
      address: this.address,
      connection: this.connection,
      location: this.location,
      serverId: this.serverId,
    });
  }
}
