// The packages each server role needs, per distribution family: the one list
// the Docker images (build argument PACKAGES) and the SSH target's package
// step both install. Groups are installed in order (EPEL before OpenDKIM).
import { PerFamily } from "./targets/server";

type PackageGroups = PerFamily<readonly (readonly string[])[]>;

export const PACKAGES: Readonly<Record<"dns" | "db" | "mail", PackageGroups>> = {
  dns: { debian: [["bind9", "bind9utils", "bind9-dnsutils"]], rhel: [["bind", "bind-utils"]] },
  // The seed's MySQL 8 on RHEL; MariaDB, Debian's MySQL, elsewhere.
  db: { debian: [["mariadb-server"]], rhel: [["mysql-server"]] },
  mail: {
    debian: [
      [
        "postfix",
        "postfix-mysql",
        "dovecot-core",
        "dovecot-imapd",
        "dovecot-pop3d",
        "dovecot-lmtpd",
        "dovecot-mysql",
        "dovecot-sieve",
        "opendkim",
        "opendkim-tools",
        // What a minimal system may lack: CA roots, /etc/services (master.cf's
        // service names), openssl.
        "ca-certificates",
        "netbase",
        "openssl",
        // mail-guard (files/mail/guard) is a Python 3 program.
        "python3",
      ],
    ],
    // OpenDKIM comes from EPEL (its release package is in Rocky's extras).
    rhel: [["epel-release"], ["postfix", "postfix-mysql", "dovecot", "dovecot-mysql", "dovecot-pigeonhole", "opendkim", "opendkim-tools", "python3"]],
  },
};

/** The build argument of a role's image: its debian packages. */
export function imagePackages(role: keyof typeof PACKAGES): string {
  return PACKAGES[role].debian.flat().join(" ");
}
