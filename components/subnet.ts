// The lab network's subnet (target docker): parsed once, then asked where an
// address lies in it.
import { parseIPv4 } from "./render/checks";

export interface Subnet {
  /** As written in the configuration, e.g. "192.168.100.0/24". */
  readonly cidr: string;
  readonly network: number;
  readonly prefix: number;
  readonly size: number;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Parses "a.b.c.d/n" with 8 <= n <= 29 whose address is the network address; otherwise says why not. */
export function parseSubnet(value: string): Subnet | string {
  const [addr, bits, ...rest] = value.split("/");
  const network = parseIPv4(addr ?? "");
  const prefix = /^\d+$/.test(bits ?? "") ? Number(bits) : NaN;
  if (rest.length > 0 || network === undefined || !(prefix >= 8 && prefix <= 29)) {
    return `"${value}" is not an IPv4 subnet like 192.168.100.0/24 (prefix 8 to 29)`;
  }
  const size = 2 ** (32 - prefix);
  if (network % size !== 0) return `"${value}" is not a network address (host bits are set)`;
  return { cidr: value, network, prefix, size };
}

/** The gateway Docker gives a network by default and that the program sets: the first host address. */
export function gatewayOf(subnet: Subnet): string {
  return formatIPv4(subnet.network + 1);
}

/** Why `address` cannot be a server's address in the subnet, or undefined if it can. */
export function hostAddressProblem(subnet: Subnet, address: string): string | undefined {
  const ip = parseIPv4(address);
  if (ip === undefined) return `"${address}" is not an IPv4 address`;
  if (ip < subnet.network || ip >= subnet.network + subnet.size) return `${address} is outside the subnet ${subnet.cidr}`;
  if (ip === subnet.network || ip === subnet.network + subnet.size - 1) {
    return `${address} is the network or broadcast address of ${subnet.cidr}`;
  }
  if (ip === subnet.network + 1) return `${address} is the subnet's gateway (the Docker host)`;
  return undefined;
}
