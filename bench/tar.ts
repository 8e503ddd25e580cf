// A minimal ustar writer and reader: the plain-docker baseline uploads
// rendered files with `docker cp -a - CONTAINER:/` (a tar on stdin keeps
// numeric owners and modes) and reads /etc/passwd out of a created container.

export interface TarEntry {
  /** Absolute path in the container. */
  path: string;
  content: string;
  uid: number;
  gid: number;
  /** Octal mode, e.g. "0640". */
  mode: string;
}

function field(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, Math.min(length, Buffer.byteLength(value)), "utf8");
}

const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0");

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  let name = e.path.replace(/^\/+/, "");
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut < 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar: path too long: ${e.path}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  field(h, 0, 100, name);
  field(h, 100, 8, octal(parseInt(e.mode, 8), 8));
  field(h, 108, 8, octal(e.uid, 8));
  field(h, 116, 8, octal(e.gid, 8));
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(Math.floor(Date.now() / 1000), 12));
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  field(h, 156, 1, "0");
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  field(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, `${octal(sum, 7)}\0`);
  return h;
}

/** A tar archive of regular files (parents are created by Docker on extraction). */
export function tarOf(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.content, "utf8");
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** The content of the first regular file in a tar archive. */
export function firstFileOf(tar: Buffer): string {
  const size = parseInt(tar.subarray(124, 136).toString("ascii").replace(/\0.*$/, "").trim(), 8);
  return tar.subarray(512, 512 + size).toString("utf8");
}
