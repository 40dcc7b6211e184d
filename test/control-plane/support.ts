import { Registry } from 'prom-client';
import { ControlPlane, type ControlPlaneOptions } from '../../lib/control-plane/index.js';
import { generateIdentity, publicKeys, type MeshIdentity, type PublicKeys } from '../../lib/mesh/identity.js';

export interface Member {
  nodeId: string;
  identity: MeshIdentity;
  keys: PublicKeys;
}

/** `count` identities that all trust each other. */
export async function members(count: number, prefix = 'v'): Promise<Member[]> {
  const identities = await Promise.all(Array.from({ length: count }, () => generateIdentity()));
  return identities.map((identity, i) => {
    const nodeId = `${prefix}${i}`;
    return { nodeId, identity, keys: publicKeys(nodeId, identity.algorithm, identity.publicKey) };
  });
}

/** A control plane for `member` that trusts everyone in `all`. */
export function controlPlane(member: Member, all: Member[], options: Partial<ControlPlaneOptions> = {}): ControlPlane {
  const trusted = new Map(all.map((m) => [m.nodeId, m.keys]));
  return new ControlPlane({ nodeId: member.nodeId, identity: member.identity, trust: (id) => trusted.get(id), registry: new Registry(), ...options });
}
