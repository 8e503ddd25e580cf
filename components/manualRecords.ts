// The records this system needs but cannot publish itself, because they live
// in zones someone else runs: the delegation of the zone at its parent (with
// glue, since the name server is inside the zone it serves) and the PTR of the
// mail server's address (receivers check that it names the mail host), and
// with DNSSEC the DS record that links the signed zone to its parent.

/** One resource record to publish by hand, as it would appear in `zone`. */
export interface ManualRecord {
  /** The zone that must hold it, e.g. "me" or "100.168.192.in-addr.arpa". */
  readonly zone: string;
  /** Absolute owner name, with the final dot. */
  readonly name: string;
  readonly type: "NS" | "A" | "PTR" | "DS";
  /** An address, an absolute host name with the final dot, or DS data. */
  readonly value: string;
  /** Why it is needed. */
  readonly why: string;
}

export interface ManualRecordsArgs {
  /** The zone this system serves, e.g. "rockylinux.me". */
  readonly zone: string;
  /** The name server's name and address, e.g. "dns.rockylinux.me", "192.168.100.7". */
  readonly nameserver: string;
  readonly nameserverAddress: string;
  /** The mail server's name and address. */
  readonly mailHostname: string;
  readonly mailAddress: string;
  /** The DS data of the signed zone ("<tag> 13 2 <digest>"); "" or absent when it is not signed. */
  readonly ds?: string;
}

export function manualRecordsFor(a: ManualRecordsArgs): ManualRecord[] {
  const parent = a.zone.slice(a.zone.indexOf(".") + 1);
  const octets = a.mailAddress.split(".");
  return [
    {
      zone: parent,
      name: `${a.zone}.`,
      type: "NS",
      value: `${a.nameserver}.`,
      why: `delegates ${a.zone} to this system's DNS server`,
    },
    {
      zone: parent,
      name: `${a.nameserver}.`,
      type: "A",
      value: a.nameserverAddress,
      why: `glue: ${a.nameserver} is inside the zone it serves, so resolvers learn its address from the parent`,
    },
    ...(a.ds
      ? [
          {
            zone: parent,
            name: `${a.zone}.`,
            type: "DS" as const,
            value: a.ds,
            why: `DNSSEC: tells validating resolvers the key ${a.zone} is signed with (publish it with your registrar once the zone is served; until then the zone is treated as unsigned)`,
          },
        ]
      : []),
    {
      // The /24 reverse zone; a provider may delegate a smaller block (RFC 2317), so ask the address's owner.
      zone: `${octets.slice(0, 3).reverse().join(".")}.in-addr.arpa`,
      name: `${[...octets].reverse().join(".")}.in-addr.arpa.`,
      type: "PTR",
      value: `${a.mailHostname}.`,
      why: `reverse DNS of the mail server: receivers reject or downgrade mail from an address whose PTR does not name ${a.mailHostname}`,
    },
  ];
}
