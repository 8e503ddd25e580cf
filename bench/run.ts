// `npm run bench`: deploy time (Pulumi against plain docker), steady-state
// cost of the dev stack's shape, and mail throughput (the deployed system
// against smtp-sink), each next to its baseline from the same run; prints the
// table and writes bench/results.md. Every stack, container, network, volume
// and image it makes is its own (unique prefix, free subnet) and is removed
// at the end, also on failure.
//   BENCH_REPEAT    deploys of each kind (default 2)
//   BENCH_MESSAGES  messages per throughput run (default 10000)
//   BENCH_SESSIONS  parallel SMTP sessions (default 20)
import * as fs from "fs";
import * as path from "path";
import { BASE_IMAGE } from "../components/baseImage";
import { freeSubnet, log, uniqueName, withStack } from "../tests/e2e/lab";
import { docker, note, PROGRAM_DIR, sh, sleep, timed } from "./common";
import { formatCpu } from "./cpu";
import { devShape, devStackConfig, labAddresses } from "./devConfig";
import { buildArgs, deployWithDocker, destroyDockerLab } from "./dockerBaseline";
import { conditions, Row, table, writeResults } from "./report";
import { withOneResourceProgram } from "./oneResource";
import { addUser, noChangePreview, Step, timedToSummary, up } from "./steadyState";
import { opendkimMilter } from "../components/render/opendkim";
import { IMAGE_CONTEXT } from "../components/targets/docker";
import { removeSeedMail, startSeedMail } from "./seedBaseline";
import {
  DEFAULT_FLOOD, DeliveryResult, DrainResult, emptyMaildir, flood, floodDiscard, floodGrowth, FloodOptions, FloodResult, floodMailServer, GrowthStep,
  startSink, withPort25Milters,
} from "./throughput";

/** How long deleted messages are left to settle before a fresh flood (see `fresh`). */
const SETTLE_MS = 20_000;
const repeat = Math.max(1, Math.min(10, Number(process.env.BENCH_REPEAT ?? 2)));
const floodOptions: FloodOptions = {
  ...DEFAULT_FLOOD,
  messages: Math.max(1, Math.min(100_000, Number(process.env.BENCH_MESSAGES ?? DEFAULT_FLOOD.messages))),
  sessions: Math.max(1, Math.min(100, Number(process.env.BENCH_SESSIONS ?? DEFAULT_FLOOD.sessions))),
};
const growthOptions = {
  messages: Math.max(1, Math.min(100_000, Number(process.env.BENCH_GROWTH_MESSAGES ?? 5000))),
  steps: Math.max(2, Math.min(10, Number(process.env.BENCH_GROWTH_STEPS ?? 4))),
};
const baseImage = process.env.BASE_IMAGE || BASE_IMAGE;
const shape = devShape();
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};
const s = (x: number) => `${x.toFixed(1)} s`;

/** No-change previews and ups of the dev stack and of the one-resource program, alternating (seconds). */
interface SteadyLoop {
  previews: number[];
  ups: number[];
  onePreviews: number[];
  oneUps: number[];
}
const STEADY_REPEAT = 3;
const all = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");

interface Measured {
  docker: { seconds: number; teardown: number }[];
  pulumi: { seconds: number; created: number; destroy: number; check: string }[];
  steady?: { preview: Step; up: Step; addUser: Step; newUser: string; loop: SteadyLoop };
  sink?: FloodResult;
  mail?: DeliveryResult;
  /** The same flood with the tuning undone (OpenDKIM on port 25 too). */
  untuned?: DeliveryResult;
  /** The same flood without the filter (no milter at all on port 25). */
  unfiltered?: DeliveryResult;
  /** The same flood into the seed's own configuration (bench/seed). */
  seed?: DeliveryResult;
  /** The same flood into Postfix's discard transport: Postfix's ceiling. */
  discard?: DrainResult;
  /** Floods in a row into one mailbox, product and seed. */
  growth?: { product: GrowthStep[]; seed: GrowthStep[] };
}

/**
 * Builds the three images once so that every deploy measured is warm (images
 * cached). They stay tagged until the run ends (`removeWarmImages`): each
 * stack's destroy removes its own tags, and the classic builder's cache is the
 * images themselves, so without these every deploy would build them again
 * from Debian's mirror (as the run of 2026-12-07 12:16 did: 57 s and 46 s).
 */
const warmPrefix = uniqueName("msbw");
const WARM_ROLES = ["db", "mail", "dns"] as const;
async function warmImages(): Promise<number> {
  const r = await timed(async () => {
    for (const role of WARM_ROLES) {
      await sh("docker", ["build", "-q", "-t", `${warmPrefix}-${role}:latest`, ...buildArgs(role, baseImage), IMAGE_CONTEXT], 1_200_000);
    }
  });
  return r.seconds;
}

async function removeWarmImages(): Promise<void> {
  for (const role of WARM_ROLES) await docker("image", "rm", `${warmPrefix}-${role}:latest`).catch(() => undefined);
}

async function baselineDeploy(m: Measured): Promise<void> {
  const prefix = uniqueName("msbd");
  const net = (await freeSubnet()).replace(/\.0\/24$/, "");
  try {
    const r = await timed(() => deployWithDocker(shape, net, prefix, baseImage));
    const t = await timed(() => destroyDockerLab(prefix));
    m.docker.push({ seconds: r.seconds, teardown: t.seconds });
    note(`plain docker: deployed and round trip in ${s(r.seconds)}, removed in ${s(t.seconds)}`);
  } finally {
    await destroyDockerLab(prefix);
  }
}

async function throughput(prefix: string, net: string, recipient: string, m: Measured): Promise<void> {
  const image = `${prefix}-mail:latest`;
  const network = `${prefix}-net`;
  const label = `mail-system.stack=${prefix}`;
  const sinkName = `${prefix}-sink`;
  try {
    const sinkAddress = await startSink(image, network, sinkName, label);
    m.sink = await flood({ ...floodOptions, image, network, label, target: sinkAddress, sender: "load@client.bench.invalid", recipient, subject: "sink" });
    note(`smtp-sink: ${m.sink.accepted} messages in ${s(m.sink.sendSeconds)}`);
  } finally {
    await docker("rm", "-f", "-v", sinkName).catch(() => undefined);
  }
  const [local, domain] = recipient.split("@");
  const a = labAddresses(net);
  const product = { container: `${prefix}-mail`, target: a.mail };
  const flooded = { ...floodOptions, image, network, label, recipient, maildir: `/var/mail/vhosts/${domain}/${local}`, timeoutMs: 20 * 60_000 };
  // Every run but the growth series starts from an empty mailbox, after the
  // previous run's messages have been deleted for SETTLE_MS: on an ext4
  // without a journal (this machine's) new inodes skip those deleted in the
  // last 10-15 s, so a flood right after deleting 5,000 messages pays for
  // them, and one into a mailbox never filled does not (bench/README.md).
  const fresh = async (server: { container: string; target: string }) => {
    await emptyMaildir(server.container, flooded.maildir);
    await sleep(SETTLE_MS);
    return floodMailServer({ ...flooded, ...server, cpuOf: [server.container, `${prefix}-db`, `${prefix}-dns`] });
  };
  const told = (what: string, r: DeliveryResult) => note(`${what}: ${r.accepted} accepted in ${s(r.sendSeconds)}, ${r.files} delivered in ${s(r.deliveredSeconds)}`);
  const seedServer = await startSeedMail({
    name: `${prefix}-seed`, image, network, label, address: a.seed, dns: a.dns, hostname: `mail.${shape.domain}`, domain: shape.domain,
    db: { container: `${prefix}-db`, address: a.db },
  });
  const seed = { container: seedServer.name, target: seedServer.address };
  try {
    m.mail = await fresh(product);
    told("mail server", m.mail);
    m.seed = await fresh(seed);
    told("the seed's configuration", m.seed);
    // One value, no spaces: postconf -P takes no whitespace in a value.
    m.untuned = await withPort25Milters(product.container, `$inbound_milters,${opendkimMilter()}`, () => fresh(product));
    told("mail server, untuned", m.untuned);
    m.unfiltered = await withPort25Milters(product.container, "", () => fresh(product));
    told("mail server, unfiltered", m.unfiltered);
    m.discard = await floodDiscard({ ...flooded, ...product });
    note(`mail server, discard transport: ${m.discard.accepted} accepted in ${s(m.discard.sendSeconds)}, queue empty after ${s(m.discard.drainedSeconds)}, ${m.discard.discarded} discarded`);
    const growth = (server: { container: string; target: string }) => floodGrowth({ ...flooded, ...server, messages: growthOptions.messages, steps: growthOptions.steps });
    m.growth = { product: await growth(product), seed: await growth(seed) };
    for (const [who, steps] of Object.entries(m.growth)) {
      note(`growth, ${who}: ${steps.map((g) => `${g.before}: ${(g.result.files / g.result.deliveredSeconds).toFixed(0)} msg/s`).join(", ")}`);
    }
  } finally {
    await removeSeedMail(seedServer);
  }
}

async function pulumiDeploy(m: Measured, last: boolean): Promise<void> {
  const prefix = uniqueName("msbp");
  const net = (await freeSubnet()).replace(/\.0\/24$/, "");
  await withStack(PROGRAM_DIR, prefix, devStackConfig(shape, net, prefix), async (stack) => {
    // Until the engine's summary (timedToSummary): not the Automation API's reads after the command.
    const r = await timedToSummary((onEvent) => stack.up({ onOutput: log, onEvent }));
    const created = r.value.summary.resourceChanges?.create ?? 0;
    const check = String(r.value.outputs.deployCheck?.value ?? "");
    note(`pulumi up: ${created} resources and round trip in ${s(r.seconds)} (${check})`);
    if (last) {
      const newUser = `bench@${shape.mailDomains[0] ?? shape.domain}`;
      // Alternating with the one-resource program, STEADY_REPEAT times each.
      const loop: SteadyLoop = { previews: [], ups: [], onePreviews: [], oneUps: [] };
      let preview: Step | undefined;
      let again: Step | undefined;
      await withOneResourceProgram(`${prefix}-one`, async (one) => {
        for (let i = 0; i < STEADY_REPEAT; i++) {
          preview = await noChangePreview(stack);
          loop.previews.push(preview.seconds);
          loop.onePreviews.push((await noChangePreview(one)).seconds);
        }
        for (let i = 0; i < STEADY_REPEAT; i++) {
          again = await up(stack);
          loop.ups.push(again.seconds);
          loop.oneUps.push((await up(one)).seconds);
        }
      });
      const added = await addUser(stack, shape.users, newUser);
      m.steady = { preview: preview!, up: again!, addUser: added, newUser, loop };
      note(`steady state: preview ${all(loop.previews)} s (one resource: ${all(loop.onePreviews)}), up ${all(loop.ups)} s (one resource: ${all(loop.oneUps)}), add user ${s(added.seconds)}`);
      await throughput(prefix, net, newUser, m);
    }
    const d = await timedToSummary((onEvent) => stack.destroy({ onOutput: log, onEvent }));
    m.pulumi.push({ seconds: r.seconds, created, destroy: d.seconds, check });
  });
}

function rows(m: Measured, warm: number): Row[] {
  const d = median(m.docker.map((x) => x.seconds));
  const p = median(m.pulumi.map((x) => x.seconds));
  const out: Row[] = [
    {
      item: "1. deploy, fresh stack, images cached, until the first SMTP-to-IMAP round trip",
      value: `pulumi up ${s(p)} (median of ${m.pulumi.length}: ${all(m.pulumi.map((x) => x.seconds))}; ${m.pulumi[0]?.created} resources)`,
      baseline: `plain docker ${s(d)} (median of ${m.docker.length}: ${all(m.docker.map((x) => x.seconds))})`,
      ratio: `${(p / d).toFixed(2)}x`,
      notes: `warm-up build of the 3 images before timing: ${s(warm)}`,
    },
    {
      item: "1b. tear down (pulumi destroy / docker rm, volume rm, network rm, image rm)",
      value: s(median(m.pulumi.map((x) => x.destroy))),
      baseline: s(median(m.docker.map((x) => x.teardown))),
      ratio: `${(median(m.pulumi.map((x) => x.destroy)) / median(m.docker.map((x) => x.teardown))).toFixed(2)}x`,
      notes: "",
    },
  ];
  if (m.steady) {
    const st = m.steady;
    const touched = (x: Step) => (Object.keys(x.changes).length === 0 ? "0 resources" : Object.entries(x.changes).map(([k, n]) => `${n} ${k}`).join(", "));
    out.push(
      {
        item: "2a. no-change `pulumi preview` of the dev stack",
        value: `${s(median(st.loop.previews))} (median of ${all(st.loop.previews)})`,
        baseline: `one-resource program ${s(median(st.loop.onePreviews))} (${all(st.loop.onePreviews)})`,
        ratio: `${(median(st.loop.previews) / median(st.loop.onePreviews)).toFixed(2)}x`,
        notes: `touched ${touched(st.preview)} (must be 0); goal at most 1.5x and 3 s idle`,
      },
      {
        item: "2b. no-change `pulumi up` of the dev stack",
        value: `${s(median(st.loop.ups))} (median of ${all(st.loop.ups)})`,
        baseline: `one-resource program ${s(median(st.loop.oneUps))} (${all(st.loop.oneUps)})`,
        ratio: `${(median(st.loop.ups) / median(st.loop.oneUps)).toFixed(2)}x`,
        notes: `touched ${touched(st.up)} (must be 0); goal at most 4 s`,
      },
      {
        item: `2c. \`pulumi up\` adding ${st.newUser}`,
        value: s(st.addUser.seconds),
        baseline: "-",
        ratio: touched(st.addUser),
        notes: `${st.addUser.touched.join("; ")}; goal at most 5 s, only the new user's resources`,
      },
    );
  }
  if (m.sink && m.mail) {
    const sinkRate = m.sink.accepted / m.sink.sendSeconds;
    const accept = m.mail.accepted / m.mail.sendSeconds;
    const delivered = m.mail.files / m.mail.deliveredSeconds;
    const exact = m.mail.files === m.mail.accepted && m.mail.filesWithSubject === m.mail.accepted && m.mail.distinctIds === m.mail.accepted && m.mail.duplicatedIds === 0;
    const o = floodOptions;
    out.push(
      {
        item: `3a. smtp-source into port 25, accepted (${o.messages} messages, ${o.sessions} sessions, ${o.bodyBytes}-byte bodies)`,
        value: `${accept.toFixed(0)} msg/s (${m.mail.accepted} in ${s(m.mail.sendSeconds)})`,
        baseline: `smtp-sink ${sinkRate.toFixed(0)} msg/s (${m.sink.accepted} in ${m.sink.sendSeconds.toFixed(2)} s)`,
        ratio: `${((100 * accept) / sinkRate).toFixed(1)}% of the limit`,
        notes: m.mail.exitCode === 0 ? "smtp-source exit 0: every message accepted" : `smtp-source exit ${m.mail.exitCode}: ${m.mail.errors}`,
      },
      {
        item: "3b. ... delivered through LMTP into the maildir",
        value: `${delivered.toFixed(0)} msg/s (${m.mail.files} in ${s(m.mail.deliveredSeconds)})`,
        baseline: `smtp-sink ${sinkRate.toFixed(0)} msg/s`,
        ratio: `${((100 * delivered) / sinkRate).toFixed(1)}% of the limit`,
        notes: `maildir files ${m.mail.files} = accepted ${m.mail.accepted}: ${exact ? "yes" : "NO"}; distinct Message-Ids ${m.mail.distinctIds}, duplicated ${m.mail.duplicatedIds}`,
      },
    );
  }
  const rate = (x: DeliveryResult) => [x.accepted / x.sendSeconds, x.files / x.deliveredSeconds];
  const exact = (x: DeliveryResult) => x.files === x.accepted && x.duplicatedIds === 0 && x.distinctIds === x.accepted;
  if (m.mail && m.untuned) {
    const [ta, td] = rate(m.mail);
    const [ua, ud] = rate(m.untuned);
    out.push({
      item: "3c. tuning: no OpenDKIM milter on port 25 (master.cf), against the same flood with it",
      value: `accepted ${ta.toFixed(0)} msg/s, delivered ${td.toFixed(0)} msg/s`,
      baseline: `with the milter: accepted ${ua.toFixed(0)} msg/s, delivered ${ud.toFixed(0)} msg/s`,
      ratio: `${(ta / ua).toFixed(2)}x accepted, ${(td / ud).toFixed(2)}x delivered`,
      notes: `untuned run: ${m.untuned.files} files for ${m.untuned.accepted} accepted: ${exact(m.untuned) ? "exact" : "NOT exact"}`,
    });
  }
  if (m.mail && m.unfiltered) {
    const [fa, fd] = rate(m.mail);
    const [na, nd] = rate(m.unfiltered);
    out.push({
      item: "3d. filtering: Rspamd on port 25 (as deployed), against the same flood without it",
      value: `accepted ${fa.toFixed(0)} msg/s, delivered ${fd.toFixed(0)} msg/s`,
      baseline: `without Rspamd: accepted ${na.toFixed(0)} msg/s, delivered ${nd.toFixed(0)} msg/s`,
      ratio: `${(fa / na).toFixed(2)}x accepted, ${(fd / nd).toFixed(2)}x delivered`,
      notes: `unfiltered run: ${m.unfiltered.files} files for ${m.unfiltered.accepted} accepted: ${exact(m.unfiltered) ? "exact" : "NOT exact"}`,
    });
  }
  if (m.mail && m.seed) {
    const [, fd] = rate(m.mail);
    const [, sd] = rate(m.seed);
    const nd = m.unfiltered ? rate(m.unfiltered)[1] : NaN;
    out.push({
      item: "3e. against the seed's own configuration (bench/seed: its main.cf, master.cf, MySQL maps and Dovecot edits on the same image), same flood, empty mailbox",
      value: `delivered ${fd.toFixed(0)} msg/s with Rspamd, ${nd.toFixed(0)} msg/s without`,
      baseline: `the seed's: delivered ${sd.toFixed(0)} msg/s`,
      ratio: `${(fd / sd).toFixed(2)}x with Rspamd, ${(nd / sd).toFixed(2)}x without`,
      notes: `seed run: ${m.seed.files} files for ${m.seed.accepted} accepted: ${exact(m.seed) ? "exact" : "NOT exact"}`,
    });
  }
  if (m.mail && m.discard) {
    const [, fd] = rate(m.mail);
    const ceiling = m.discard.accepted / m.discard.drainedSeconds;
    out.push({
      item: "3f. Postfix's ceiling: the same flood into the discard transport (virtual_transport = discard:, no LMTP), until the queue is empty",
      value: `delivered ${fd.toFixed(0)} msg/s`,
      baseline: `discarded ${ceiling.toFixed(0)} msg/s (${m.discard.accepted} accepted, ${m.discard.discarded} discarded, queue empty after ${s(m.discard.drainedSeconds)})`,
      ratio: `${((100 * fd) / ceiling).toFixed(1)}% of Postfix's ceiling`,
      notes: m.discard.exitCode === 0 ? "" : `smtp-source exit ${m.discard.exitCode}: ${m.discard.errors}`,
    });
  }
  if (m.mail?.cpu && m.seed?.cpu) {
    const role = (container: string) => container.replace(/^.*-/, "");
    const machine = (x: DeliveryResult | undefined) => x?.cpu?.machine ?? NaN;
    out.push({
      item: "3h. CPU per delivered message, from the start of sending until delivered: the machine's busy time (client included) and each container's (cgroup)",
      value: `with Rspamd ${formatCpu(m.mail.cpu, role)}; without ${formatCpu(m.unfiltered?.cpu, role)}`,
      baseline: `the seed's: ${formatCpu(m.seed.cpu, role)}`,
      ratio: `${(machine(m.seed) / machine(m.mail)).toFixed(2)}x with Rspamd, ${(machine(m.seed) / machine(m.unfiltered)).toFixed(2)}x without (the seed's over the product's)`,
      notes: "db and dns are the stack's own servers, which the seed's configuration uses too",
    });
  }
  if (m.growth) {
    const rates = (steps: GrowthStep[]) => steps.map((g) => rate(g.result)[1]);
    const series = (steps: GrowthStep[]) => rates(steps).map((r) => r.toFixed(0)).join(", ");
    const lastOf = (steps: GrowthStep[]) => rates(steps)[steps.length - 1];
    const last = (steps: GrowthStep[]) => (lastOf(steps) / rates(steps)[0]).toFixed(2);
    const sizes = m.growth.product.map((g) => g.before).join(", ");
    const allExact = [...m.growth.product, ...m.growth.seed].every((g) => exact(g.result));
    out.push({
      item: `3g. growth: ${m.growth.product.length} floods of ${growthOptions.messages} in a row into one mailbox (holding ${sizes} before each), delivered msg/s`,
      value: `${series(m.growth.product)} (last/first ${last(m.growth.product)}x)`,
      baseline: `the seed's: ${series(m.growth.seed)} (last/first ${last(m.growth.seed)}x)`,
      ratio: `${(lastOf(m.growth.product) / lastOf(m.growth.seed)).toFixed(2)}x at the fullest`,
      notes: `every run exact (one file per accepted message, no duplicate): ${allExact ? "yes" : "NO"}`,
    });
  }
  return out;
}

async function main(): Promise<void> {
  const conditionsText = conditions();
  note(`warming the image cache`);
  const warm = await warmImages();
  const m: Measured = { docker: [], pulumi: [] };
  // Alternate the two kinds so that drift in the machine's load hits both alike.
  for (let i = 0; i < repeat; i++) {
    await baselineDeploy(m);
    await pulumiDeploy(m, i === repeat - 1);
  }
  const result = rows(m, warm);
  const text = table(result);
  process.stdout.write(`${text}\n`);
  // The pass/fail fault and bad-client cases run in the test suite; their last measured figures are kept beside this file.
  const testsMeasured = path.join(__dirname, "tests-measured.md");
  const file = writeResults(result, conditionsText, [
    ...(fs.existsSync(testsMeasured) ? [fs.readFileSync(testsMeasured, "utf8").trim(), ""] : []),
    "## How it was measured",
    "",
    `- Deploy (1): \`pulumi up\` of a fresh throwaway stack with the dev stack's configuration (Pulumi.dev.yaml: zone ${shape.domain}, mail domains ${shape.mailDomains.join(", ")}, ${shape.users.length} users, ${shape.aliases.length} alias rows) on a free subnet, its own state directory and name prefix (the user's dev stack and state are never touched). It ends with the program's own MailRoundTrip (submission on 587 to IMAPS). The baseline (bench/dockerBaseline.ts) renders the same files with components/render/*, builds the same images and runs the same containers, volumes, network, health checks, SQL rows and the same round trip (files/check/roundtrip.js) with plain \`docker\` commands, independent steps in parallel. Both measured warm (images cached), alternating, ${repeat} of each.`,
    `- Steady state (2): on the last Pulumi stack: a no-change preview, a no-change up, and an up that adds one user; "touched" is every resource whose operation is not \`same\`.`,
    "- Every Pulumi time (deploy, steady state, tear-down) runs from the Automation API's call to the engine's summary event (bench/steadyState.ts `timedToSummary`): the command's own work, without the two CLI runs the Automation API's up and destroy make afterwards to read the outputs and the last history entry (about 1 s here), which the command at a shell does not make.",
    `- Throughput (3): \`smtp-source -c -s ${floodOptions.sessions} -m ${floodOptions.messages} -l ${floodOptions.bodyBytes}${floodOptions.reuseConnections ? " -d" : ""}\` from a container on the lab network (the mail image), first against \`smtp-sink\` in another container on the same network (accepts and discards: the limit of client, network and machine), then against the deployed server's port 25 to one virtual mailbox (delivered by Postfix through LMTP to Dovecot's maildir). smtp-source runs without -A, so any refusal is fatal and exit 0 means every message was accepted. Delivered = the maildir (any folder: Rspamd files some mail into Junk) holds one file per accepted message and Postfix's queue is empty; the maildir is counted again 2 s later, and each message's Message-Id (unique within a run) must appear once. The same flood runs again with OpenDKIM added on port 25 (3c, the tuning undone) and with no milter on port 25 (3d, Rspamd off), each by \`postconf -P\` and a reload, the deployed setting restored after. Each fresh run (3b-3e) starts ${SETTLE_MS / 1000} s after the previous run's messages were deleted; its CPU per delivered message (3h) is the machine's busy time (/proc/stat) and each container's (its cgroup) from the start of sending until delivered.`,
  ]);
  note(`wrote ${file}`);
}

main()
  .catch((e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(removeWarmImages);
