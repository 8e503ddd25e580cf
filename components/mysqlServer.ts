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
import { DatabaseConnection } from "./render/types";
import { DockerPlacement, DockerServer, dockerExec } from "./targets/docker";

export interface MailboxRow {
  readonly email: string;
  /** The SHA512-CRYPT hash of the user's password (a secret). */
  readonly passwordHash: pulumi.Input<string>;
}

export interface MysqlServerArgs {
  /** Where the server runs. */
  readonly placement: DockerPlacement;
  /** The server's address on the lab network. */
  readonly address: pulumi.Input<string>;
  /**
   * The address the Pulumi engine's host has on the lab network (the network's
   * gateway): the administrator account may log in over TCP only from there.
   */
  readonly adminHost: pulumi.Input<string>;
  /** Host part of the application user: where Postfix and Dovecot connect from. Default "%". */
  readonly clientHost?: pulumi.Input<string>;
  /**
   * Build context of the server's image (absolute path). Default files/db
   * (MariaDB from Debian). Another image works if it honours the same
   * contract: its entrypoint sets the administrator's password from
   * DB_ADMIN_PASSWORD_FILE for DB_ADMIN_USER (root) at DB_ADMIN_HOST,
   * /usr/local/sbin/db-healthcheck exists, and the `mysql` client can log in
   * as root over the unix socket.
   */
  readonly imageContext?: string;
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
  /** The container's name. */
  readonly containerName: pulumi.Output<string>;
  /** The container's id: changes whenever the server is replaced. */
  readonly serverId: pulumi.Output<string>;

  constructor(name: string, args: MysqlServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MysqlServer", name, {}, opts);
    const databaseName = args.databaseName ?? "mailserver";
    const appUserName = args.appUser ?? "mailrl";

    const adminPassword = new random.RandomPassword(`${name}-admin`, { length: 32, special: false }, { parent: this });
    const appPassword = new random.RandomPassword(`${name}-app`, { length: 32, special: false }, { parent: this });

    const server = new DockerServer(
      name,
      {
        role: "db",
        ...(args.imageContext ? { imageContext: args.imageContext } : {}),
        files: adminPassword.result.apply((password) => [
          { path: "/run/secrets/db-admin-password", content: password, owner: "root", group: "root", mode: "0400", secret: true },
        ]),
        env: [
          "DB_ADMIN_PASSWORD_FILE=/run/secrets/db-admin-password",
          pulumi.interpolate`DB_ADMIN_HOST=${args.adminHost}`,
        ],
        healthcheck: ["/usr/local/sbin/db-healthcheck"],
        dataDirectories: ["/var/lib/mysql"],
      },
      { ...args.placement, address: args.address },
      this,
    );

    // The provider connects from the engine's host straight to the container
    // on the lab network (no published port); its address comes from the
    // running container, which also orders every SQL resource after it.
    const admin = new mysql.Provider(
      `${name}-admin`,
      {
        endpoint: server.container.networkDatas.apply((n) => `${n[0].ipAddress}:3306`),
        username: "root",
        password: adminPassword.result,
      },
      { parent: this },
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

    // Tables and rows go through the server's own client inside the container
    // (root over the unix socket), so no extra port or client is needed.
    const sql = (resource: string, apply: pulumi.Input<string>, revert: string | undefined, dependsOn: pulumi.Resource[]) =>
      dockerExec(resource, server.containerName, ["mysql", "--batch", databaseName], { apply, revert }, {
        parent: this,
        dependsOn,
      });
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
    this.containerName = server.containerName;
    this.serverId = server.container.id;
    this.connection = pulumi
      .all([server.container.networkDatas, appUser.user, appPassword.result, grant.id])
      .apply(([networks, user, password]) => ({
        host: networks[0].ipAddress,
        port: 3306,
        name: databaseName,
        user,
        password,
      }));
    this.registerOutputs({
      address: this.address,
      connection: this.connection,
      containerName: this.containerName,
      serverId: this.serverId,
    });
  }
}
