import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { parseEnvelope, type ControlRefusal } from '../../lib/control-plane/index.js';
import { counter } from '../mesh/support.js';
import { environment } from '../support/environment.js';
import { CONTESTED, HonestNode, PARTITION_AT, Random, runSplitBrain, TICK, WALL_START, WARMUP, WINDOW, World, type ForgedDelivery, type SplitBrainOptions, type SplitBrainRun } from './simulation.js';
import { members } from './support.js';

await ready();

/**
 * Split brain: 7 validators (f = 2, threshold 5) partitioned 4|3, 5|2 or 3|2|2 over a lossy,
 * duplicating, reordering link layer, with 1 or 2 Byzantine validators, each group proposing a
 * conflicting decision for one slot; then a heal. Each seed fixes the whole schedule; a failure
 * names its seed and the command that replays it. PQC_SPLIT_BRAIN_RUNS sets how many seeds
 * (npm run test:split-brain runs 200), PQC_SPLIT_BRAIN_SEED the first one.
 */
const RUNS = Number(process.env.PQC_SPLIT_BRAIN_RUNS ?? 12);
const FIRST_SEED = Number(process.env.PQC_SPLIT_BRAIN_SEED ?? 1);
const SHAPES = [
  [4, 3],
  [5, 2],
  [3, 2, 2],
];
const F = 2;

const replay = (seed: number) => `seed ${seed} (replay: PQC_SPLIT_BRAIN_SEED=${seed} PQC_SPLIT_BRAIN_RUNS=1 npx vitest run test/control-plane/split-brain.test.ts)`;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe(`split-brain governance on the ${environment.backend} backend`, async () => {
  // Identities are made once: key generation is not what is under test.
  const validators = await members(7);
  const run = (options: Omit<SplitBrainOptions, 'members'>) => runSplitBrain({ members: validators, ...options });

  for (let seed = FIRST_SEED; seed < FIRST_SEED + RUNS; seed++) {
    const shape = SHAPES[seed % SHAPES.length]!;
    const byzantine = 1 + (Math.floor(seed / SHAPES.length) % F);
    it(`${shape.join('|')} with ${byzantine} Byzantine, seed ${seed}`, async () => {
      await assertSplitBrainHolds(await run({ seed, groups: shape, byzantine }), replay(seed));
    });
  }

  it('a seed replays the same run: the same traffic, decisions, quarantines and refusals', async () => {
    const outcome = async () => {
      const { summary, honest, world } = await run({ seed: 2, groups: [3, 2, 2], byzantine: 2 });
      return { summary, decisions: honest.map((n) => n.quorum.acceptedSummary()), quarantines: honest.map((n) => [...n.plane.quarantine.keys()]), forged: world.forgedDeliveries };
    };
    expect(await outcome()).toEqual(await outcome());
  });

  it('5|2 with both Byzantine validators in the minority: the majority certifies during the partition and the minority adopts it after the heal', async () => {
    const ids = validators.map((v) => v.nodeId);
    const outcome = await run({ seed: 7001, groups: [ids.slice(0, 5), ids.slice(5)], byzantine: ids.slice(5) });
    await assertSplitBrainHolds(outcome, 'seed 7001');
    const majority = outcome.acceptedAtHeal.get(ids[0]!)![`0/${CONTESTED}`];
    expect(majority).toBeDefined();
    for (const node of outcome.honest) expect(node.quorum.acceptedSummary()[`0/${CONTESTED}`]).toBe(majority);
  });

  it('4|3 where every message across the partition arrives late, after the heal: still one decision, the same everywhere', async () => {
    const outcome = await run({ seed: 7002, groups: [4, 3], byzantine: 2, late: 1 });
    await assertSplitBrainHolds(outcome, 'seed 7002');
    expect(outcome.world.network.stats.held).toBeGreaterThan(0);
  });

  it('a Byzantine node cannot give a minority a quorum by replaying the heartbeats it withheld from it', async () => {
    const world = new World(new Random(7003), { drop: 0, duplicate: 0, delay: [1, 10], reorder: 0, reorderDelay: 1 }, validators, ['v6']);
    const honest = validators.slice(0, 6).map((m) => new HonestNode(m, world));
    // v6 keeps one copy of everything it hears and forwards nothing.
    const withheld = new Map<string, Uint8Array[]>();
    const heard = new Set<string>();
    world.network.attach({
      nodeId: 'v6',
      deliver: async (batch) => {
        for (const bytes of batch) {
          const { origin, digest } = parseEnvelope(bytes);
          if (!heard.has(digest)) withheld.set(origin, [...(withheld.get(origin) ?? []), bytes]);
          heard.add(digest);
        }
      },
    });
    const majority = ['v0', 'v1', 'v2', 'v3'];
    const minority = honest.filter((node) => ['v4', 'v5'].includes(node.nodeId));
    const replayed: string[] = [];
    // First v6 sits with the majority, then the partition moves it to the minority with what it heard.
    world.network.partition([[...majority, 'v6'], ['v4', 'v5']]);
    const MOVE = 5;
    for (let tick = 0; tick < 14; tick++) {
      await world.scheduler.runUntil(tick * TICK);
      if (tick === MOVE) world.network.partition([majority, ['v4', 'v5', 'v6']]);
      if ((tick - MOVE) * TICK > WINDOW) for (const node of minority) expect(node.hasQuorum(), `${node.nodeId} at tick ${tick}`).toBe(false);
      if (tick >= MOVE) {
        // One old heartbeat of each majority node per tick, oldest first: each new to the minority.
        for (const origin of majority) {
          const next = withheld.get(origin)?.shift();
          if (!next) continue;
          replayed.push(parseEnvelope(next).digest);
          for (const node of minority) world.network.send('v6', node.nodeId, next);
        }
      }
      for (const node of honest) await node.heartbeat();
    }
    // Every heartbeat the majority sent before the move was replayed and accepted (genuine and
    // new), and still none of them counted as the majority being reachable now.
    expect(replayed).toHaveLength(majority.length * MOVE);
    for (const node of minority) expect(replayed.filter((digest) => !node.applied.has(digest))).toEqual([]);
  });
});

/** Everything a run must show, whatever its schedule. */
async function assertSplitBrainHolds(run: SplitBrainRun, seed: string): Promise<void> {
  const { world, honest, groups } = run;
  const why = `${seed} [${run.summary}]`;
  const honestIn = (group: string[]) => group.filter((id) => !world.byzantineIds.has(id));
  const groupOf = (id: string) => groups.find((g) => g.includes(id))!;

  // During the partition: a group of fewer validators than the threshold never claims a quorum,
  // while a group of a threshold of honest ones always does.
  for (const check of run.duringPartition) {
    const group = groups[check.group]!;
    if (group.length < world.threshold) expect(check.hasQuorum, `${why}: ${check.nodeId} claimed a quorum at ${check.time} ms`).toBe(false);
    if (honestIn(group).length >= world.threshold) expect(check.hasQuorum, `${why}: ${check.nodeId} lost its quorum at ${check.time} ms`).toBe(true);
  }
  for (const node of honest) {
    const group = groupOf(node.nodeId);
    const atHeal = run.acceptedAtHeal.get(node.nodeId)!;
    // A minority cannot certify the contested slot; a group of a threshold of honest validators does.
    if (group.length < world.threshold) expect(atHeal[`0/${CONTESTED}`], `${why}: ${node.nodeId} certified in a minority`).toBeUndefined();
    if (honestIn(group).length >= world.threshold) expect(atHeal[`0/${CONTESTED}`], `${why}: ${node.nodeId} did not certify with a quorum`).toBeDefined();
    // Non-critical gossip keeps flowing inside every group, minorities included.
    const heard = run.beaconsAtHeal.get(node.nodeId)!;
    for (const peer of honestIn(group)) {
      if (peer === node.nodeId) continue;
      expect(heard.get(peer)?.some((sent) => sent >= WALL_START + PARTITION_AT * TICK), `${why}: ${node.nodeId} heard no beacon of ${peer} in the partition`).toBe(true);
    }
  }

  // After the heal: quorum again, quiescence, and every honest node with the same decisions.
  for (const [nodeId, hasQuorum] of run.quorumAfterHeal) expect(hasQuorum, `${why}: ${nodeId} has no quorum after the heal`).toBe(true);
  expect(run.quiescent, `${why}: gossip never went quiet`).toBe(true);
  const summaries = honest.map((node) => node.quorum.acceptedSummary());
  for (const [i, summary] of summaries.entries()) expect(summary, `${why}: ${honest[i]!.nodeId} disagrees with ${honest[0]!.nodeId}`).toEqual(summaries[0]);
  expect(summaries[0]![`0/${WARMUP}`], `${why}: the decision before the partition was not certified`).toBeDefined();

  // No two decisions for one slot were ever accepted anywhere (acceptances are never undone,
  // so the snapshots at the heal and the final summaries hold them all), and no Byzantine one.
  const digests = new Map<string, Set<string>>();
  for (const summary of [...run.acceptedAtHeal.values(), ...summaries]) {
    for (const [slot, digest] of Object.entries(summary)) digests.set(slot, (digests.get(slot) ?? new Set()).add(digest));
  }
  for (const [slot, seen] of digests) expect(seen.size, `${why}: conflicting decisions for ${slot}`).toBe(1);
  for (const node of honest) {
    expect(node.quorum.conflicts, `${why}: ${node.nodeId} saw two certificates for one slot`).toHaveLength(0);
    for (const digest of Object.values(node.quorum.acceptedSummary())) expect(world.byzantineDecisions.has(digest), `${why}: a Byzantine decision was accepted`).toBe(false);
  }
  // Every certificate of made-up votes an honest node received was refused and counted; no other was.
  const certificateRefusals = sum(await Promise.all(honest.map((node) => counter(node.plane.metrics.registry, 'pqc_certificate_rejected_total'))));
  const fakesReceived = sum(honest.map((node) => [...node.applied.keys()].filter((digest) => world.fakeCertificates.has(digest)).length));
  expect(certificateRefusals, `${why}: pqc_certificate_rejected_total`).toBe(fakesReceived);

  // Quarantine: the same set everywhere, Byzantine nodes only, and every equivocator whose two
  // envelopes both reached honest nodes in it.
  const applied = new Set(honest.flatMap((node) => [...node.applied.keys()]));
  const quarantines = honest.map((node) => [...node.plane.quarantine.keys()].sort());
  for (const [i, quarantine] of quarantines.entries()) expect(quarantine, `${why}: ${honest[i]!.nodeId}'s quarantine`).toEqual(quarantines[0]);
  for (const id of quarantines[0]!) expect(world.byzantineIds.has(id), `${why}: honest ${id} quarantined`).toBe(true);
  for (const node of run.byzantine) {
    if (node.equivocations.some(([a, b]) => applied.has(a) && applied.has(b))) expect(quarantines[0], `${why}: equivocator ${node.nodeId} not quarantined`).toContain(node.nodeId);
  }

  // Forgeries: each delivery refused for the reason it deserved, every "forged" refusal counted
  // one of them, none ever applied; and no envelope applied twice.
  for (const delivery of world.forgedDeliveries) expect(refusalsDeserved(delivery), `${why}: a forgery at ${delivery.receiver}`).toContain(delivery.reason);
  const forgedRefusals = sum(await Promise.all(honest.map((node) => counter(node.plane.metrics.registry, 'pqc_gossip_rejected_total', { reason: 'forged' }))));
  expect(forgedRefusals, `${why}: pqc_gossip_rejected_total{reason="forged"}`).toBe(world.forgedDeliveries.filter((d) => d.reason === 'forged').length);
  for (const node of honest) {
    for (const [digest, times] of node.applied) {
      expect(world.forgedDigests.has(digest), `${why}: ${node.nodeId} applied a forgery`).toBe(false);
      expect(times, `${why}: ${node.nodeId} applied an envelope twice`).toBe(1);
    }
  }
}

function refusalsDeserved({ receiver, origin, quarantinedBefore, quarantinedAfter }: ForgedDelivery): ControlRefusal[] {
  // An envelope claiming the receiver as origin is dropped as an echo before any signature check.
  if (origin === receiver) return ['duplicate'];
  if (quarantinedBefore) return ['quarantined'];
  // Quarantined by an equivocation earlier in the same batch: a well-signed forgery (framing
  // evidence) is then refused for the quarantine, a badly signed one still for its signature.
  if (quarantinedAfter) return ['forged', 'quarantined'];
  return ['forged'];
}
