// The packages each server role needs, per distribution family: the one list
// the Docker images (build argument PACKAGES) and the SSH target's package
// step both install. Groups are installed in order (EPEL before OpenDKIM).
import { both, PerFamily } from "./targets/server";

type PackageGroups = PerFamily<readonly (readonly string[])[]>;

/**
 * The mail server's web server (clients' autoconfiguration). Debian 12's
 * nginx-light is only `nginx` plus the echo module: `nginx` alone is the
 * small build.
 */
export const WEB_PACKAGE: PerFamily<string> = both("nginx");

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
        "dovecot-managesieved",
        "opendkim",
        "opendkim-tools",
        // What a minimal system may lack: CA roots, /etc/services (master.cf's
        // service names), openssl.
        "ca-certificates",
        "netbase",
        "openssl",
        // mail-guard (files/mail/guard) is a Python 3 program.
        "python3",
        // The spam filter and its state.
        "rspamd",
        "redis-server",
        WEB_PACKAGE.debian,
      ],
    ],
    // OpenDKIM comes from EPEL (its release package is in Rocky's extras);
    // Rspamd from Rspamd's own repository (RHEL_REPOSITORIES), which needs EPEL.
    rhel: [
      ["epel-release"],
      ["postfix", "postfix-mysql", "dovecot", "dovecot-mysql", "dovecot-pigeonhole", "opendkim", "opendkim-tools", "python3", "redis", WEB_PACKAGE.rhel],
      ["rspamd"],
    ],
  },
};

/**
 * Packages RHEL and its rebuilds do not carry, even with EPEL, and the
 * repository (.repo file of their publisher, in /etc/yum.repos.d) the
 * packages step adds before installing them. `$releasever` is the major
 * version (8, 9). The .repo file names the publisher's signing key, which
 * dnf imports on first use.
 */
export const RHEL_REPOSITORIES: Readonly<Record<string, { readonly file: string; readonly url: string }>> = {
  rspamd: { file: "/etc/yum.repos.d/rspamd.repo", url: "https://rspamd.com/rpm-stable/centos-$releasever/rspamd.repo" },
};

/** The mail server's packages, without the web server when it serves no autoconfiguration. */
export function mailPackages(autoconfig: boolean, acme = false): PackageGroups {
  const keep = (family: keyof PackageGroups) => PACKAGES.mail[family].map((g) => g.filter((p) => autoconfig || p !== WEB_PACKAGE[family]));
  // The ACME client only where the certificate comes from an ACME CA (Debian's
  // package; RHEL hosts are asked for a package of the same name, untested
  // here: it must come from a repository the host has, e.g. EPEL's where it carries one).
  const withAcme = (groups: readonly (readonly string[])[]) => (acme ? [...groups.slice(0, -1), [...groups[groups.length - 1], ACME_PACKAGE]] : groups);
  return { debian: withAcme(keep("debian")), rhel: withAcme(keep("rhel")) };
}

/** The ACME client mail-acme drives (components/render/acme.ts). */
export const ACME_PACKAGE = "lego";

/** The build argument of a role's image: its debian packages. */
export function imagePackages(role: keyof typeof PACKAGES): string {
  return PACKAGES[role].debian.flat().join(" ");
}
