// MysqlServer: MariaDB (or MySQL) holding the mail system's virtual domains,
// users and aliases (the seed's `mailserver` database), with an application
// user that may only SELECT. Domains, users and aliases are rows, each its
// own resource, so adding a user changes one row and restarts nothing.
import * as pulumi from "@pulumi/pulumi";
import * as mysql from "@pulumi/mysql";
import * as random from "@pulumi/random";
import {
  MAIL_SCHEMA_SQL,
  deleteAliasSql,
  deleteDomainSql,
  deleteUserSql,
  upsertAliasSql,
  upsertDomainSql,
  upsertUserSql,
} from "./render/mailSql";
import { adminAccountSql, dropAdminAccountSql, renderDbServerFiles } from "./render/dbServer";
import { DatabaseConnection } from "./render/types";
import { PACKAGES } from "./packages";
import { ServerSpec, ServerTarget } from "./targets/server";

export interface MailboxRow {
  readonly email: string;
  /** The SHA512-CRYPT hash of the user's password (a secret). */
  readonly passwordHash: pulumi.Input<string>;
}

export interface MysqlServerArgs {
  /** Where the server runs: a container or a host over SSH. */
  readonly target: ServerTarget;
  /** The server's address: it listens there (and only there) on 3306. */
  readonly address: pulumi.Input<string>;
  /** Host part of the application user: where Postfix and Dovecot connect from. Default "%". */
  readonly clientHost?: pulumi.Input<string>;
  /**
   * The administrator account the program manages the database with, allowed
   * only from the address the Pulumi engine's host connects from. Default
   * "mail_system_admin".
   */
  readonly adminUser?: string;
  /** Database name. Default "mailserver" (the seed's). */
  readonly databaseName?: string;
  /** Application user. Default "mailrl" (the seed's). */
  readonly appUser?: string;
  /** Mail domains (virtual_domains rows). */
  readonly domains: readonly string[];
  /** Mailboxes (virtual_users rows). */
  readonly users: readonly MailboxRow[];
  /** Aliases (virtual_aliases rows). */
  readonly aliases: readonly { readonly source: string; readonly destination: string }[];
}

export class MysqlServer extends pulumi.ComponentResource {
  /** The server's address. */
  readonly address: pulumi.Output<string>;
  /** How Postfix and Dovecot reach the database: the application user's credentials (password secret). */
  readonly connection: pulumi.Output<DatabaseConnection>;
  /** Where the server is: its container's name, or user@host. */
  readonly location: pulumi.Output<string>;
  /** Changes whenever the server is replaced or reconfigured. */
  readonly serverId: pulumi.Output<string>;

  constructor(name: string, args: MysqlServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MysqlServer", name, {}, opts);
    const databaseName = args.databaseName ?? "mailserver";
    const appUserName = args.appUser ?? "mailrl";
    const adminUser = args.adminUser ?? "mail_system_admin";

    const adminPassword = new random.RandomPassword(`${name}-admin`, { length: 32, special: false }, { parent: this });
    const appPassword = new random.RandomPassword(`${name}-app`, { length: 32, special: false }, { parent: this });

    const spec: ServerSpec = {
      role: "db",
      packages: PACKAGES.db,
      files: ({ family }) => pulumi.output(args.address).apply((address) => renderDbServerFiles(family, address)),
      services: [
        {
          id: "server",
          unit: { debian: "mariadb", rhel: "mysqld" },
          reads: (path) => path.endsWith(".cnf"),
          // A new bind-address needs a restart.
          onChange: "restart",
        },
      ],
      dataDirectories: ["/var/lib/mysql"],
    };
    const server = args.target.place(name, spec, args.address, this);

    // The administrator account, made with the server's own client (root over
    // the unix socket) and allowed only from the engine's address; the provider
    // connects with it over TCP. Re-made whenever the server is replaced.
    const adminAccount = server.exec(
      `${name}-admin-account`,
      ["mysql", "--batch"],
      {
        apply: pulumi.secret(
          pulumi.all([server.engineAddress, adminPassword.result]).apply(([host, password]) => adminAccountSql(adminUser, host, password)),
        ),
        revert: server.engineAddress.apply((host) => dropAdminAccountSql(adminUser, host)),
      },
    );
    const admin = new mysql.Provider(
      `${name}-admin`,
      {
        endpoint: pulumi.all([server.address, server.readyId]).apply(([address]) => `${address}:3306`),
        username: adminUser,
        password: adminPassword.result,
      },
      { parent: this, dependsOn: [adminAccount] },
    );
    const database = new mysql.Database(
      `${name}-database`,
      { name: databaseName, defaultCharacterSet: "utf8mb4", defaultCollation: "utf8mb4_general_ci" },
      { parent: this, provider: admin },
    );
    const appUser = new mysql.User(
      `${name}-app`,
      { user: appUserName, host: args.clientHost ?? "%", plaintextPassword: appPassword.result },
      { parent: this, provider: admin },
    );
    const grant = new mysql.Grant(
      `${name}-app-select`,
      { user: appUser.user, host: appUser.host, database: database.name, privileges: ["SELECT"] },
      { parent: this, provider: admin },
    );

    // Tables and rows go through the server's own client (root over the unix
    // socket), in the container or on the host, so no extra client is needed.
    const sql = (resource: string, apply: pulumi.Input<string>, revert: string | undefined, dependsOn: pulumi.Resource[]) =>
      server.exec(resource, ["mysql", "--batch", databaseName], { apply, revert }, { dependsOn });
    const schema = sql(`${name}-schema`, MAIL_SCHEMA_SQL, undefined, [database]);
    const domainRows = args.domains.map((d) =>
      sql(`${name}-domain-${d}`, upsertDomainSql(d), deleteDomainSql(d), [schema]),
    );
    const userRows = args.users.map((u) =>
      sql(
        `${name}-user-${u.email}`,
        pulumi.secret(pulumi.output(u.passwordHash).apply((hash) => upsertUserSql(u.email, hash))),
        deleteUserSql(u.email),
        domainRows,
      ),
    );
    args.aliases.forEach((a) =>
      sql(
        `${name}-alias-${a.source}-${a.destination}`,
        upsertAliasSql(a.source, a.destination),
        deleteAliasSql(a.source, a.destination),
        [...domainRows, ...userRows],
      ),
    );

    this.address = pulumi.output(args.address);
    this.location = server.location;
    this.serverId = server.readyId;
    this.connection = pulumi
      .all([server.address, appUser.user, appPassword.result, grant.id])
      .apply(([host, user, password]) => ({
        host,
        port: 3306,
        name: databaseName,
        user,
        password,
      }));
    this.registerOutputs({
      address: this.address,
      connection: this.connection,
      location: this.location,
      serverId: this.serverId,
    });
  }
}
