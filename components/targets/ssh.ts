// "Where": a server on a Linux host over SSH, with @pulumi/command's
// remote.Command. Each host's SSH key is recorded first (sshHostKey.ts) and
// every connection to the host checks it. The host's facts (distribution
// family, the engine's address as the host sees it) are read next; then the
// scripted sequence every target runs (scripted.ts): packages, files (a
// replaced system file is kept and put back on destroy), daemons, reloads,
// health.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { FACTS_SCRIPT, HostFacts, parseFacts, rootCommand } from "./hostScripts";
import { ScriptRunner, ScriptedServer } from "./scripted";
import { PlacedServer, ServerScripts, ServerSpec, ServerTarget } from "./server";
import { SshEndpoint, endpointId, recordHostKey, sshEndpoints } from "./sshHostKey";

/** How to reach one host. */
export interface SshHost {
  /** The host's IPv4 address: SSH connects to it and its services listen on it. */
  readonly address: string;
  /** SSH port. Default 22. */
  readonly port?: number;
  /** Login user: root, or a user with passwordless sudo. Default "root". */
  readonly user?: pulumi.Input<string>;
  /** The private key (OpenSSH or PEM) the user logs in with. A secret. */
  readonly privateKey: pulumi.Input<string>;
  /**
   * The host's public key ("ssh-ed25519 AAAA..."): when set, any other key is
   * refused. Else the key the host presents first is recorded and pinned.
   */
  readonly hostKey?: string;
}

/** Servers on hosts over SSH: one host per role; roles may share a host (and its recorded key). */
export class SshTarget implements ServerTarget {
  private readonly endpoints: Map<string, SshEndpoint>;
  private readonly keys = new Map<string, pulumi.Output<string>>();

  constructor(private readonly hosts: Readonly<Record<string, SshHost>>) {
    this.endpoints = sshEndpoints(hosts);
  }

  place(name: string, spec: ServerSpec, _address: pulumi.Input<string>, parent: pulumi.Resource): PlacedServer {
    const host = this.hosts[spec.role];
    if (!host) throw new Error(`no SSH host for the ${spec.role} server`);
    return new SshServer(name, spec, host, this.hostKeyOf(host), parent);
  }

  /** The host's key as recorded (or pinned and checked): one resource per SSH server. */
  private hostKeyOf(host: SshHost): pulumi.Output<string> {
    const id = endpointId(host);
    let key = this.keys.get(id);
    if (!key) {
      key = recordHostKey(this.endpoints.get(id)!).stdout;
      this.keys.set(id, key);
    }
    return key;
  }
}

/** The resources that put one server on a host. */
export class SshServer implements PlacedServer {
  readonly address: pulumi.Output<string>;
  readonly readyId: pulumi.Output<string>;
  readonly engineAddress: pulumi.Output<string>;
  readonly family: pulumi.Output<HostFacts["family"]>;
  readonly location: pulumi.Output<string>;
  private readonly scripted: ScriptedServer;

  /** `hostKey`: the host's key as recorded on first use, or as pinned and checked. */
  constructor(name: string, spec: ServerSpec, host: SshHost, hostKey: pulumi.Output<string>, parent: pulumi.Resource) {
    const connection: command.types.input.remote.ConnectionArgs = {
      host: host.address,
      port: host.port ?? 22,
      user: host.user ?? "root",
      privateKey: pulumi.secret(host.privateKey),
      // Any other key is refused (ssh: host key mismatch).
      hostKey,
      // The host answered the key scan (which waits for a booting host), so
      // a few tries: a changed host key, a failed dial like any other, fails
      // the deploy in seconds rather than a minute.
      dialErrorLimit: 5,
      perDialTimeout: 5,
    };

    const facts = new command.remote.Command(
      `${name}-facts`,
      { connection, create: "sh -s", stdin: FACTS_SCRIPT, logging: "stderr" },
      { parent },
    );
    const parsed = facts.stdout.apply(parseFacts);
    this.family = parsed.family;
    this.engineAddress = parsed.clientAddress;

    // Every script as root (directly or with sudo), on stdin.
    const runner: ScriptRunner = (resource, script, opts, triggers) =>
      new command.remote.Command(
        resource,
        {
          connection,
          create: rootCommand("create"),
          update: rootCommand("update"),
          delete: rootCommand("delete"),
          stdin: script,
          ...(triggers ? { triggers } : {}),
          // Package managers are chatty; errors still reach the log.
          logging: "stderr",
        },
        { parent, ...opts },
      );
    this.scripted = new ScriptedServer(name, spec, runner, { family: this.family, container: false, after: [facts] });
    this.readyId = this.scripted.ready.id;
    this.address = pulumi.output(host.address);
    this.location = pulumi.interpolate`${connection.user}@${host.address}`;
  }

  exec(name: string, program: readonly string[], scripts: ServerScripts, opts?: pulumi.CustomResourceOptions): pulumi.CustomResource {
    return this.scripted.exec(name, program, scripts, opts);
  }
}
