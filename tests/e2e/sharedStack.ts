// One deployed stack shared by several test cases: up in beforeAll, destroyed
// in afterAll (through withStack, so it is destroyed whatever happens).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack, UpResult } from "@pulumi/pulumi/automation";
import { Lab } from "./clients";
import { dockerLab, freeSubnet, log, PlainConfig, uniqueName, withStack } from "./lab";

const root = path.join(__dirname, "..", "..");

export interface SharedStack {
  name: string;
  stack: Stack;
  up: UpResult;
  /** The lab network's first three octets, e.g. "10.213.7". */
  net: string;
  lab: Lab & { dns: string };
  /** Container names. */
  mail: string;
  db: string;
  /** Destroys the stack and removes its files. */
  close(): Promise<void>;
}

/**
 * Deploys `users` in `domain` on a free subnet; resolves once `pulumi up`
 * succeeded. `extra` is more configuration, or a function of the subnet's
 * first three octets giving it (this host is the network's gateway, .1).
 */
export async function openStack(
  prefix: string,
  domain: string,
  users: string[],
  extra: PlainConfig | ((net: string) => PlainConfig) = {},
): Promise<SharedStack> {
  const name = uniqueName(prefix);
  const net = (await freeSubnet()).replace(/\.0\/24$/, "");
  const config: PlainConfig = {
    "mail-system:domain": domain,
    "mail-system:users": users.map((email) => ({ email })),
    ...dockerLab(name, net),
    ...(typeof extra === "function" ? extra(net) : extra),
  };
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-ca-"));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let opened!: (v: { stack: Stack; up: UpResult }) => void;
  let failed!: (e: unknown) => void;
  const ready = new Promise<{ stack: Stack; up: UpResult }>((res, rej) => ((opened = res), (failed = rej)));
  const finished = withStack(root, name, config, async (stack) => {
    opened({ stack, up: await stack.up({ onOutput: log }) });
    await released;
  })
    .catch(failed)
    .finally(() => fs.rmSync(caDir, { recursive: true, force: true }));
  const { stack, up } = await ready;
  const ca = path.join(caDir, "ca.pem");
  fs.writeFileSync(ca, up.outputs.caCertificate.value as string);
  return {
    name,
    stack,
    up,
    net,
    lab: {
      mail: up.outputs.mailServer.value as string,
      dns: up.outputs.dnsServer.value as string,
      servername: `mail.${domain}`,
      ca,
      passwords: { ...(up.outputs.userPasswords.value as Record<string, string>) },
    },
    mail: `${name}-mail`,
    db: `${name}-db`,
    close: async () => {
      release();
      await finished;
    },
  };
}
