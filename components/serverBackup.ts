// Backups as a part of any server's spec: mail-backup (components/render/
// backup.ts) with restic, its files, its service, its status for the health
// check, its state kept across a container's replacement, and a local
// repository mounted from the machine. The mail server and the database
// server each say only what they back up.
import * as pulumi from "@pulumi/pulumi";
import { BACKUP, BackupSettings, localRepository, renderBackupFiles } from "./render/backup";
import { RenderedFile } from "./render/types";
import { both, OsFamily, PerFamily, PlacedServer, ServerSpec, ServiceSpec } from "./targets/server";

/** A server's backups: the stack's settings and the snapshots' host name. */
export interface ServerBackupArgs {
  readonly settings: BackupSettings;
  /** <zone>-<role>: the same for every stack of the zone, so a new one restores the old one's snapshots. */
  readonly snapshotHost: string;
}

/** What one server backs up. */
export interface BackupContent {
  readonly paths: readonly string[];
  /** restic exclude patterns: what the server makes again by itself. */
  readonly exclude?: readonly string[];
  /** The database dumped (where it runs) before each backup. */
  readonly database?: string;
  /** The maildirs' root, which `mail-backup restore` restores into. */
  readonly mailRoot?: string;
  /** The DKIM signing keys' directory, which `mail-backup dkim-keys` reads from a snapshot. */
  readonly dkimKeyDir?: string;
}

/** mail-backup under the service manager: restarted when its files change. */
export const BACKUP_SERVICE: ServiceSpec = {
  id: "mail-backup",
  unit: both("mail-backup"),
  reads: (p) => [BACKUP.program, BACKUP.restoreMaildirs, BACKUP.config, BACKUP.password, BACKUP.sshKey, BACKUP.knownHosts, BACKUP.systemdUnit, BACKUP.initScript].includes(p),
  onChange: "restart",
  container: { run: `${BACKUP.program} prepare && exec ${BACKUP.program} loop` },
};

/**
 * restic (RHEL's is EPEL's), and ssh for sftp: repositories, whichever the
 * repository: moving it to another host changes no image.
 */
function backupPackages(packages: PerFamily<readonly (readonly string[])[]>): PerFamily<readonly (readonly string[])[]> {
  const rhelEpel = packages.rhel.some((g) => g.includes("epel-release"));
  return {
    debian: [...packages.debian, ["restic", "openssh-client"]],
    rhel: [...packages.rhel, ...(rhelEpel ? [] : [["epel-release"]]), ["restic", "openssh-clients"]],
  };
}

/**
 * Has mail-backup open the repository once the server is up (making it when
 * there is none), failing the deploy with the reason when it cannot (a
 * wrong password, an unreachable host, a host key that does not match).
 * Again when the repository or the password changes.
 */
export function ensureBackupRepository(server: PlacedServer, name: string, backup: ServerBackupArgs | undefined, parent: pulumi.Resource): pulumi.CustomResource | undefined {
  if (!backup) return undefined;
  return server.exec(
    `${name}-backup-repository`,
    [BACKUP.program, "ensure"],
    { apply: "", replaceOn: [backup.settings.repository, pulumi.secret(backup.settings.password)] },
    { parent },
  );
}

/** `spec` with mail-backup backing up `content`, or `spec` itself without backups. */
export function withBackup(spec: ServerSpec, backup: ServerBackupArgs | undefined, content: BackupContent): ServerSpec {
  if (!backup) return spec;
  const files = (place: { readonly family: OsFamily; readonly container: boolean }): pulumi.Output<RenderedFile[]> =>
    pulumi.output(spec.files(place)).apply((own) => [
      ...own,
      ...renderBackupFiles({ backup: backup.settings, snapshotHost: backup.snapshotHost, ...content, host: !place.container }),
    ]);
  const local = localRepository(backup.settings);
  const healthEnv = (family: OsFamily) => ({ ...(spec.healthEnv?.[family] ?? {}), BACKUP_PROGRAM: BACKUP.program });
  return {
    ...spec,
    packages: backupPackages(spec.packages),
    files,
    services: [...spec.services, BACKUP_SERVICE],
    healthEnv: { debian: healthEnv("debian"), rhel: healthEnv("rhel") },
    stateDirectories: [...(spec.stateDirectories ?? []), BACKUP.state],
    ...(local ? { machineDirectories: [...(spec.machineDirectories ?? []), local] } : {}),
  };
}
