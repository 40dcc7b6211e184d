import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { InitiatorHandshake, Responder, type ExtensionContext, type HandshakeExtension } from '../../lib/mesh/handshake.js';
import { MeshError } from '../../lib/mesh/failure.js';
import { Transcript } from '../../lib/mesh/key-schedule.js';
import { MAX_EXTENSION } from '../../lib/mesh/messages.js';
import { SIGNATURE_LENGTH } from '../../lib/mesh/identity.js';
import { environment, toHex } from '../support/environment.js';
import { parties, type Party } from './support.js';

await ready();

async function reasonOf(step: Promise<unknown>): Promise<string | undefined> {
  const error = await step.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MeshError);
  return (error as MeshError).reason;
}

/** An extension that sends `label ‖ role`, records what it was asked, and accepts what `accept` allows. */
function recordingExtension(label: string, accept: (payload: Uint8Array) => boolean = () => true) {
  const made: ExtensionContext[] = [];
  const verified: { payload: string; context: ExtensionContext }[] = [];
  const extension: HandshakeExtension = {
    payload: async (context) => {
      made.push(context);
      return new TextEncoder().encode(`${label}:${context.role}`);
    },
    verify: async (payload, context) => {
      verified.push({ payload: new TextDecoder().decode(payload), context });
      if (!accept(payload)) throw new MeshError('unknown_peer', 'the extension refused the payload');
      return { from: new TextDecoder().decode(payload) };
    },
  };
  return { extension, made, verified };
}

/** One handshake, message by message, with an extension (or none) on each side. */
async function handshake(initiator: Party, responder: Responder, responderKeys: Party['keys'], initiatorExtension?: HandshakeExtension, responderExtension?: HandshakeExtension) {
  const dial = await InitiatorHandshake.start(initiator.ctx, responderKeys, initiatorExtension);
  const initHello = dial.hello;
  const respHello = (await responder.receive(initHello, 'conn', responderExtension)).reply!;
  const initAuth = (await dial.receive(respHello)).reply!;
  const responderStep = await responder.receive(initAuth, 'conn', responderExtension);
  const respAuth = responderStep.reply!;
  const initiatorStep = await dial.receive(respAuth);
  return { dial, messages: { initHello, respHello, initAuth, respAuth }, initiator: initiatorStep.session!, responder: responderStep.session! };
}

describe(`handshake extension payloads on the ${environment.backend} backend`, async () => {
  const [alice, bob] = await parties(['alice', 'bob']);
  const signatureLength = SIGNATURE_LENGTH['ML-DSA-65']!;
  const AUTH_HEADER = 36;
  const TAG = 16;

  it('carries each side its peer’s payload, made over the transcript its signature covers', async () => {
    const ours = recordingExtension('alice');
    const theirs = recordingExtension('bob');
    const { messages, initiator, responder } = await handshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys, ours.extension, theirs.extension);
    const th2 = new Transcript().add(messages.initHello).add(messages.respHello).snapshot();
    const th3 = new Transcript().add(messages.initHello).add(messages.respHello).add(messages.initAuth).snapshot();

    expect(ours.made.map((c) => [c.role, toHex(c.transcript), c.peer.nodeId])).toEqual([['initiator', toHex(th2), 'bob']]);
    expect(theirs.made.map((c) => [c.role, toHex(c.transcript), c.peer.nodeId])).toEqual([['responder', toHex(th3), 'alice']]);
    // Each side checks the other's payload against the same transcript and names its author.
    expect(theirs.verified.map((v) => [v.payload, v.context.role, toHex(v.context.transcript), v.context.peer.keyId])).toEqual([['alice:initiator', 'initiator', toHex(th2), alice!.keys.keyId]]);
    expect(ours.verified.map((v) => [v.payload, v.context.role, toHex(v.context.transcript), v.context.peer.keyId])).toEqual([['bob:responder', 'responder', toHex(th3), bob!.keys.keyId]]);
    expect(responder.extension).toEqual({ from: 'alice:initiator' });
    expect(initiator.extension).toEqual({ from: 'bob:responder' });
    // The payloads travel sealed: their bytes are nowhere in clear.
    for (const message of [messages.initAuth, messages.respAuth]) expect(Buffer.from(message).includes('alice:')).toBe(false);
    expect(messages.initAuth.length).toBe(AUTH_HEADER + signatureLength + 'alice:initiator'.length + TAG);
  });

  it('leaves a handshake without extensions as it was: the Auth messages hold the signature alone', async () => {
    const { messages, initiator } = await handshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
    expect(messages.initAuth.length).toBe(AUTH_HEADER + signatureLength + TAG);
    expect(messages.respAuth.length).toBe(AUTH_HEADER + signatureLength + TAG);
    expect(initiator.extension).toBeUndefined();
  });

  it('signs the payload: a payload the ML-DSA signature does not cover is refused as a bad signature', async () => {
    const ours = recordingExtension('alice');
    const signed: Uint8Array[] = [];
    // A signer that leaves the payload out of what it signs, as a forwarder splicing in a payload would have to.
    const stripping = {
      ...alice!,
      ctx: {
        ...alice!.ctx,
        signer: {
          ...alice!.signer,
          sign: (data: Uint8Array) => {
            signed.push(data);
            return alice!.signer.sign(data.subarray(0, data.length - 'alice:initiator'.length));
          },
        },
      },
    };
    const responder = new Responder(bob!.ctx, () => {});
    const theirs = recordingExtension('bob');
    const before = bob!.signer.count;
    const reason = await reasonOf(handshake(stripping, responder, bob!.keys, ours.extension, theirs.extension));
    expect(reason).toBe('bad_signature');
    expect(Buffer.from(signed[0]!.subarray(-'alice:initiator'.length)).toString()).toBe('alice:initiator');
    // The payload was never handed to the extension, and the responder signed nothing.
    expect(theirs.verified).toEqual([]);
    expect(bob!.signer.count).toBe(before);
  });

  it('refuses a payload on a connection that takes none, before the responder signs', async () => {
    const before = bob!.signer.count;
    const reason = await reasonOf(handshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys, recordingExtension('alice').extension, undefined));
    expect(reason).toBe('malformed');
    expect(bob!.signer.count).toBe(before);
  });

  it('asks the extension about an absent payload, which it may refuse', async () => {
    const theirs = recordingExtension('bob', (payload) => payload.length > 0);
    const responder = new Responder(bob!.ctx, () => {});
    expect(await reasonOf(handshake(alice!, responder, bob!.keys, undefined, theirs.extension))).toBe('unknown_peer');
    expect(theirs.verified.map((v) => v.payload)).toEqual(['']);
    expect(responder.pendingCount).toBe(0);
  });

  it('fails the initiator when its extension refuses the responder’s payload: no session', async () => {
    const ours = recordingExtension('alice', () => false);
    const dial = await InitiatorHandshake.start(alice!.ctx, bob!.keys, ours.extension);
    const responder = new Responder(bob!.ctx, () => {});
    const theirs = recordingExtension('bob');
    const respHello = (await responder.receive(dial.hello, 'conn', theirs.extension)).reply!;
    const initAuth = (await dial.receive(respHello)).reply!;
    const respAuth = (await responder.receive(initAuth, 'conn', theirs.extension)).reply!;
    expect(await reasonOf(dial.receive(respAuth))).toBe('unknown_peer');
    expect(await reasonOf(dial.receive(respAuth))).toBe('replay');
  });

  it(`refuses to send a payload over ${MAX_EXTENSION} bytes`, async () => {
    const oversized: HandshakeExtension = { payload: async () => new Uint8Array(MAX_EXTENSION + 1), verify: async () => undefined };
    const dial = await InitiatorHandshake.start(alice!.ctx, bob!.keys, oversized);
    const respHello = (await new Responder(bob!.ctx, () => {}).receive(dial.hello, 'conn', oversized)).reply!;
    expect(await reasonOf(dial.receive(respHello))).toBe('malformed');
    // The largest payload goes through.
    const largest: HandshakeExtension = { payload: async () => new Uint8Array(MAX_EXTENSION).fill(7), verify: async (payload) => payload.length };
    const { initiator, responder } = await handshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys, largest, largest);
    expect([initiator.extension, responder.extension]).toEqual([MAX_EXTENSION, MAX_EXTENSION]);
  });
});
