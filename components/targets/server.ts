// "What" a server needs, said once for every place it can run: packages per
// distribution family, rendered files with owners and modes, services with
// the files each one reads, a health check. A target ("where": a container on
// a Docker engine, or a Linux host over SSH) turns a ServerSpec into
// resources and gives back a PlacedServer the component keeps working with.
import * as pulumi from "@pulumi/pulumi";
import { RenderedFile } from "../render/types";

/** Linux distribution families the program knows how to configure. */
export type OsFamily = "debian" | "rhel";
export const OS_FAMILIES: readonly OsFamily[] = ["debian", "rhel"];

/** Per-family values (package names, service names, paths). */
export type PerFamily<T> = Readonly<Record<OsFamily, T>>;

/** The same value for every family. */
export const both = <T>(value: T): PerFamily<T> => ({ debian: value, rhel: value });

/** What a server's files may depend on about where it runs. */
export interface ServerPlace {
  readonly family: OsFamily;
  readonly container: boolean;
  readonly nameservers?: readonly string[];
}

/** A value computed for each family. */
export const perFamily = <T>(of: (family: OsFamily) => T): PerFamily<T> => ({ debian: of("debian"), rhel: of("rhel") });

/** A daemon of a server, as the host's service manager knows it. */
export interface ServiceSpec {
  /** A stable name for the daemon within its server (resource names derive from it), e.g. "postfix". */
  readonly id: string;
  /** Unit / init script name per family, e.g. { debian: "mariadb", rhel: "mysqld" }. */
  readonly unit: PerFamily<string>;
  /** The rendered files it reads: when one of them changes, it is reloaded (and only then). */
  readonly reads: (path: string) => boolean;
  /** "reload" (re-read configuration, keep serving) or "restart" when the daemon cannot reload. */
  readonly onChange: "reload" | "restart";
  /** Shell command (run as root) that validates the written configuration before the daemon picks it up. */
  readonly check?: PerFamily<string>;
  /**
   * Whether it starts before the server's other files are written: it reads
   * only the spec's `earlyFiles`, and the early daemons start first, in
   * their order among `services` (which stays the container's start order).
   * A daemon slow to be ready (Rspamd compiling its rules) is then ready
   * while the rest waits for, e.g., the database.
   * @default false
   */
  readonly early?: boolean;
  /**
   * How the daemon runs in a container, where the program's supervisor
   * (files/common/supervisor.sh) is the service manager; the unit is the
   * debian one.
   */
  readonly container: ContainerService;
}

/** A daemon under the container's supervisor. */
export interface ContainerService {
  /** Shell (as root) that prepares what the daemon needs, then `exec`s it in the foreground. */
  readonly run: string;
  /** Shell that makes the running daemon re-read its configuration. Default: SIGHUP to it. */
  readonly reload?: string;
  /** Shell that stops the daemon. Default: SIGTERM to it. */
  readonly stop?: string;
}

/** How often and how patiently a server's health check runs. */
export interface HealthSettings {
  /** Seconds between checks of a running container. */
  readonly intervalSeconds: number;
  /** Seconds one check may take. */
  readonly timeoutSeconds: number;
  /** Failed checks in a row before a container counts as unhealthy. */
  readonly retries: number;
  /** Seconds a deploy waits for the server to become healthy. */
  readonly deploySeconds: number;
}

/** The health-check settings of a server that does not say otherwise. */
export const DEFAULT_HEALTH: HealthSettings = { intervalSeconds: 5, timeoutSeconds: 5, retries: 6, deploySeconds: 120 };

/**
 * A Linux capability by the name Docker reports it under (`docker inspect`
 * shows CAP_-prefixed names whatever was asked for, and the official docker
 * provider keeps what Docker reports). These are the ones Docker gives a
 * container by default; a server asks for a few of them.
 */
export type Capability =
  | "CAP_AUDIT_WRITE" | "CAP_CHOWN" | "CAP_DAC_OVERRIDE" | "CAP_FOWNER" | "CAP_FSETID" | "CAP_KILL" | "CAP_MKNOD"
  | "CAP_NET_BIND_SERVICE" | "CAP_NET_RAW" | "CAP_SETFCAP" | "CAP_SETGID" | "CAP_SETPCAP" | "CAP_SETUID" | "CAP_SYS_CHROOT";

/** What a server needs, independent of where it runs. */
export interface ServerSpec {
  /** The server's role ("dns", "db", "mail"): files/<role> holds its image context and health check. */
  readonly role: string;
  /**
   * Packages per family, installed in order, group by group (a later group may
   * need a repository an earlier one adds). Docker images install the debian list.
   */
  readonly packages: PerFamily<readonly (readonly string[])[]>;
  /** debconf selections made before installing on the debian family (answers to install-time questions; images are built with them too). */
  readonly debconf?: readonly string[];
  /**
   * The rendered files for a place: paths and accounts differ between
   * families, and logging between a container (its log) and a host (syslog).
   * `nameservers`: where the place's resolver only forwards (Docker's
   * embedded DNS), the name servers it forwards to, for daemons that make
   * many queries to ask directly; absent: use the system's resolver.
   */
  readonly files: (place: ServerPlace) => pulumi.Input<RenderedFile[]>;
  /**
   * Files that depend on the place and plain settings only (no other
   * server's outputs), written right after the packages, before `files`,
   * for the `early` services, which start at once. Absent: none.
   */
  readonly earlyFiles?: (place: ServerPlace) => pulumi.Input<RenderedFile[]>;
  /**
   * Shell (sh -e, as root) a container image of the server runs once at
   * build time, after its packages: it fills a cache a daemon would
   * otherwise build at its first start in every new container (Rspamd's
   * compiled rules), and leaves nothing running and no configuration
   * behind. Hosts build the cache at the daemon's first start. Absent: none.
   */
  readonly imageWarmup?: string;
  /** Daemons, started in this order (the `early` ones before the others). */
  readonly services: readonly ServiceSpec[];
  /**
   * The capabilities root needs on this server: its daemons before they drop
   * to their own users, and the program's scripts (files with owners, signals
   * to daemons that run as other users). A container gets these and no
   * others, and no new privileges (a setuid or setgid program gains
   * nothing). On a host the service manager runs the daemons as the
   * distribution's units say, so hosts ignore it.
   */
  readonly capabilities: readonly Capability[];
  /**
   * Shell (run as root after the packages, before the files) that creates
   * accounts and directories the server needs, and its inverse run on destroy.
   * Both must be idempotent.
   */
  readonly prepare?: { readonly apply: string; readonly revert: string };
  /** Environment of the health check, files/<role>/healthcheck.sh, per family. */
  readonly healthEnv?: PerFamily<Readonly<Record<string, string>>>;
  /** How the health check runs. Default DEFAULT_HEALTH. */
  readonly health?: HealthSettings;
  /** Directories whose data must outlive the server's replacement (volumes in Docker). */
  readonly dataDirectories?: readonly string[];
  /**
   * Directories of a daemon's own state that must outlive a container's
   * replacement too (e.g. the mail queue): volumes kept or deleted with the
   * data volumes; on a host they belong to the packages and stay as they are.
   */
  readonly stateDirectories?: readonly string[];
  /**
   * Directories of the machine itself that outlive the server and every
   * stack (a local backup repository): on a host they are its own; a
   * container gets the Docker engine machine's directory of the same path
   * mounted. Nothing the program does deletes them.
   */
  readonly machineDirectories?: readonly string[];
  /**
   * Whether destroying the server deletes the data in dataDirectories. Default:
   * yes for a container's volumes, no for a host's directories (they may hold
   * more than this program put there). The mail server says so explicitly.
   */
  readonly deleteDataOnDestroy?: boolean;
}

/** A command the server runs with its input on stdin: `apply` on create and update, `revert` on delete. */
export interface ServerScripts {
  readonly apply: pulumi.Input<string>;
  readonly revert?: pulumi.Input<string>;
  /**
   * Values naming what the command makes (e.g. an account's user and host):
   * when one changes, the old object is reverted and a new one made, instead
   * of running `apply` again over the old one.
   */
  readonly replaceOn?: pulumi.Input<unknown>[];
}

/** A server once placed somewhere: what components wire their other resources to. */
export interface PlacedServer {
  /** The address the server's clients reach it at. */
  readonly address: pulumi.Output<string>;
  /**
   * Changes whenever the server is (re)created or its configuration applied;
   * known only once it passed its health check, so it orders work after that.
   */
  readonly readyId: pulumi.Output<string>;
  /** The address the Pulumi engine's host connects from, as the server sees it. */
  readonly engineAddress: pulumi.Output<string>;
  /** The distribution family the server runs on. */
  readonly family: pulumi.Output<OsFamily>;
  /** Where it is, for people: the container's name or user@host. */
  readonly location: pulumi.Output<string>;
  /**
   * Runs `program` (argv, run as root on the server) with the scripts on
   * stdin. Used for SQL through the database server's own client.
   */
  exec(name: string, program: readonly string[], scripts: ServerScripts, opts?: pulumi.CustomResourceOptions): pulumi.CustomResource;
}

/** Where servers go: a Docker engine or hosts over SSH. */
export interface ServerTarget {
  /** Places `spec` at `address` (the role's host for SSH); children get `parent`. */
  place(name: string, spec: ServerSpec, address: pulumi.Input<string>, parent: pulumi.Resource): PlacedServer;
}
