// A server's early files and daemons (ServerSpec.earlyFiles, ServiceSpec.early):
// written and started without waiting for the rest of its configuration.
import * as pulumi from "@pulumi/pulumi";
import { mockResources } from "../fixtures/mocks";
import { DockerTarget } from "../../components/targets/docker";
import { filesDigest } from "../../components/targets/hostScripts";
import { checkEarly, checkSets } from "../../components/targets/scripted";
import { both, ServerSpec, ServiceSpec } from "../../components/targets/server";
import { RenderedFile } from "../../components/render/types";

const created = mockResources(() => ({}));

const file = (p: string, content = "x\n"): RenderedFile => ({ path: p, content, owner: "root", group: "root", mode: "0644" });
const service = (id: string, reads: (p: string) => boolean, early?: boolean): ServiceSpec => ({
  id, unit: both(id), reads, onChange: "restart", container: { run: "exec sleep 1000" }, ...(early ? { early } : {}),
});
const FILTER = service("filter", (p) => p.startsWith("/etc/filter/"), true);
const SERVER = service("server", (p) => p.startsWith("/etc/server/"));
const EARLY = [file("/etc/filter/a.conf", "early\n")];

function spec(over: Partial<ServerSpec>): ServerSpec {
  return { role: "mail", packages: both([["pkg"]]), capabilities: [], files: () => [file("/etc/server/b.conf")], earlyFiles: () => EARLY, services: [FILTER, SERVER], ...over };
}

/** The plain text of a mocked input that may be a secret. */
async function plain(v: unknown): Promise<string> {
  const o = (await v) as Record<string, unknown>;
  return String(o && typeof o === "object" && o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig ? o.value : o);
}

const target = new DockerTarget({ network: "net", gateway: "10.0.0.1", namePrefix: "t", baseImage: "debian:bookworm-slim" });
const parent = new pulumi.ComponentResource("test:index:Parent", "parent");

test("the early files and daemons are made while the other files still wait (here: until the test gives them)", async () => {
  let release: (files: RenderedFile[]) => void = () => undefined;
  const waiting = new Promise<RenderedFile[]>((resolve) => (release = resolve));
  target.place("w", spec({ files: () => waiting }), "10.0.0.6", parent);
  const named = (n: string) => created.find((r) => r.name === n);
  for (let i = 0; i < 100 && !named("w-filter"); i++) await new Promise((r) => setTimeout(r, 20));
  expect(named("w-early-files")).toBeDefined();
  expect(named("w-filter")).toBeDefined();
  expect([named("w-files"), named("w-server"), named("w-health")]).toEqual([undefined, undefined, undefined]);
  const early = await plain(named("w-early-files")!.inputs.stdin);
  expect(early).toContain("manifest=/var/lib/mail-system/mail.early.files");
  expect(early).toContain(`put '/etc/filter/a.conf' root root 0644 '${Buffer.from("early\n").toString("base64")}'`);
  expect(await plain(named("w-filter")!.inputs.stdin)).toContain(`# the files filter reads: sha256 ${filesDigest(EARLY)}`);
  release([file("/etc/server/b.conf")]);
  for (let i = 0; i < 100 && !named("w-health"); i++) await new Promise((r) => setTimeout(r, 20));
  const files = await plain(named("w-files")!.inputs.stdin);
  expect(files).toContain("put '/etc/server/b.conf'");
  expect(files).not.toContain("/etc/filter/");
  expect(files).toContain("manifest=/var/lib/mail-system/mail.files");
});

test("early daemons need early files; they start first wherever they are listed (the list is the container's start order)", async () => {
  expect(() => checkEarly(spec({ earlyFiles: undefined }))).toThrow("mail: early services need earlyFiles");
  expect(() => checkEarly(spec({ earlyFiles: undefined, services: [SERVER] }))).not.toThrow();
  target.place("late", spec({ services: [SERVER, FILTER] }), "10.0.0.7", parent);
  for (let i = 0; i < 100 && !created.some((r) => r.name === "late-health"); i++) await new Promise((r) => setTimeout(r, 20));
  const manifest = created.find((r) => r.type === "docker:index/container:Container" && r.name === "late")!;
  expect(JSON.stringify(await manifest.inputs.uploads)).toContain("order=(server filter)");
  expect(created.filter((r) => r.name.startsWith("late-")).map((r) => r.name)).toEqual(
    expect.arrayContaining(["late-early-files", "late-filter", "late-files", "late-server", "late-health"]),
  );
});

test("a file is in one set only, and an early daemon reads none of the others (it would start without it)", () => {
  const s = spec({});
  expect(() => checkSets(s, [file("/etc/filter/a.conf")], EARLY)).toThrow("mail: file /etc/filter/a.conf is among both the early files and the others");
  expect(() => checkSets(s, [file("/etc/filter/late.conf")], EARLY)).toThrow(
    "mail: file /etc/filter/late.conf is read by filter, which starts early: it must be among the early files",
  );
  expect(() => checkSets(s, [file("/etc/server/b.conf")], EARLY)).not.toThrow();
});
