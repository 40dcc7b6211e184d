import { afterAll, describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { PQ_MESH_PROTOCOL } from '../../lib/libp2p/index.js';
import { counter } from '../mesh/support.js';
import { environment } from '../support/environment.js';
import { libp2pPeers, LIBP2P_SKIP, startNode } from './support.js';

await ready();

type Node = Awaited<ReturnType<typeof startNode>>;

describe.skipIf(LIBP2P_SKIP !== undefined)(`libp2p meshes over TCP + yamux secured by x0tta6bl4-pq on the ${environment.backend} backend${LIBP2P_SKIP ? ` (skipped: ${LIBP2P_SKIP})` : ''}`, async () => {
  const started: Node[] = [];
  afterAll(async () => {
    await Promise.all(started.map((node) => node.stop()));
  });

  async function mesh(count: number) {
    const { peers, registry } = await libp2pPeers(count);
    const nodes = await Promise.all(peers.map((peer) => startNode(peer)));
    started.push(...nodes);
    return { peers, nodes, registry };
  }

  /** Every open connection of every node: ours, with yamux, and to the peer it names. */
  function expectAllOurs(nodes: Node[]) {
    const connections = nodes.flatMap((node) => node.getConnections());
    expect(connections.length).toBeGreaterThan(0);
    for (const connection of connections) {
      expect(connection.encryption).toBe(PQ_MESH_PROTOCOL);
      expect(connection.multiplexer).toBe('/yamux/1.0.0');
    }
    return connections;
  }

  it('two nodes: dial, identify and ping over a post-quantum connection', async () => {
    const { nodes, peers, registry } = await mesh(2);
    const [a, b] = nodes as [Node, Node];
    const identified = new Promise((resolve) => b.addEventListener('peer:identify', resolve, { once: true }));
    await a.dial(b.getMultiaddrs()[0]!);
    await identified;
    const rtt = await (a.services as { ping: { ping(peer: unknown): Promise<number> } }).ping.ping(b.peerId);
    expect(rtt).toBeGreaterThanOrEqual(0);
    // Identify told each side what the other runs, over our channel.
    const protocols = (await a.peerStore.get(b.peerId)).protocols;
    expect(protocols).toContain('/ipfs/ping/1.0.0');
    const [connection] = expectAllOurs(nodes);
    expect(connection!.remotePeer.toString()).toBe(b.peerId.toString());
    // The channel underneath is the mesh's: a post-quantum suite, counted in its metrics.
    const channel = peers[0]!.mesh.channels(b.peerId.toString())[0]!;
    expect(channel.suiteInfo.classical).toBe(false);
    expect(await counter(registry, 'pqc_handshake_success_total')).toBe(2);
  });

  it('five nodes: a full mesh of post-quantum connections, each pinged both ways', async () => {
    const { nodes } = await mesh(5);
    const started = performance.now();
    for (const [i, from] of nodes.entries()) {
      for (const to of nodes.slice(i + 1)) await from.dial(to.getMultiaddrs()[0]!);
    }
    const formedMs = performance.now() - started;
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        await (from.services as { ping: { ping(peer: unknown): Promise<number> } }).ping.ping(to.peerId);
      }
    }
    const connections = expectAllOurs(nodes);
    // Ten links, each seen from both ends.
    expect(connections).toHaveLength(20);
    for (const node of nodes) expect(new Set(node.getConnections().map((c) => c.remotePeer.toString())).size).toBe(4);
    console.log(`[libp2p] 5-node mesh of post-quantum connections formed in ${formedMs.toFixed(0)} ms`);
  });
});
