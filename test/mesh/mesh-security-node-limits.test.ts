import { describe, expect, it } from 'vitest';
import { PqcError, ready } from '../../lib/index.js';
import { DEFAULT_HANDSHAKE_LIMITS, DEFAULT_REKEY_LIMITS, generateIdentity, MeshError, PQMeshSecurity } from '../../lib/mesh/index.js';
import { environment } from '../support/environment.js';
import { FakeClock } from '../policy/fake-clock.js';
import { nodePair, silentLogger } from './support.js';

await ready();

const identity = await generateIdentity();
const create = (options: object) => PQMeshSecurity.create({ nodeId: 'node-n', identity, logger: silentLogger, ...options });
const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as PqcError);
// Node's timers fire at once for delays above 2^31 - 1 ms, so no time limit may be longer.
const MAX_TIMER_MS = 2 ** 31 - 1;

describe(`a node's limits and addresses on the ${environment.backend} backend`, () => {
  it('refuses limits that are not an object, naming the option', async () => {
    for (const limits of [null, 5, 'fast', true]) {
      expect(await refusal(create({ limits }))).toMatchObject({ code: 'ERR_PQC_INVALID_CONFIGURATION', message: 'limits must be an object' });
    }
    expect(await refusal(create({ rekey: null }))).toMatchObject({ code: 'ERR_PQC_INVALID_CONFIGURATION', message: 'rekey must be an object' });
  });

  it('refuses an unknown limit, listing the known ones', async () => {
    const known = Object.keys(DEFAULT_HANDSHAKE_LIMITS).join(', ');
    expect(await refusal(create({ limits: { timeoutMS: 10 } }))).toMatchObject({
      code: 'ERR_PQC_INVALID_CONFIGURATION',
      message: `limits.timeoutMS is not a known limit (${known})`,
    });
  });

  it('takes each limit above 0 up to its bound: 2^31 - 1 ms for times, the largest safe integer for counts', async () => {
    for (const [limits, key, max] of [
      [(value: unknown) => ({ limits: { timeoutMs: value } }), 'limits.timeoutMs', MAX_TIMER_MS],
      [(value: unknown) => ({ rekey: { rejectAfterMs: value } }), 'rekey.rejectAfterMs', MAX_TIMER_MS],
      [(value: unknown) => ({ limits: { maxPending: value } }), 'limits.maxPending', Number.MAX_SAFE_INTEGER],
    ] as const) {
      for (const value of [0, -1, Number.NaN, Infinity, '10', max + 1]) {
        expect(await refusal(create(limits(value)))).toMatchObject({
          code: 'ERR_PQC_INVALID_CONFIGURATION',
          message: `${key} must be a number above 0 and at most ${max}, got ${String(value)}`,
        });
      }
    }
    // The bounds themselves are allowed; a count is not held to a timer's bound.
    const roomy = await create({ limits: { timeoutMs: MAX_TIMER_MS, maxPending: 2 ** 31 }, rekey: { rejectAfterMs: MAX_TIMER_MS, rekeyAfterMessages: DEFAULT_REKEY_LIMITS.rekeyAfterMessages } });
    await roomy.close();
  });

  it('refuses an address that is not { host, port } with a whole port from 1 to 65535', async () => {
    const { a, b } = await nodePair();
    const withPort = Object.assign(() => undefined, { port: 80 });
    for (const address of [null, 5, 'localhost:80', withPort, {}, { port: '80' }, { port: 1.5 }, { port: 0 }, { port: -1 }, { port: 65536 }]) {
      expect(await refusal(a.establishSecureChannel('node-b', address as never))).toMatchObject({
        code: 'ERR_PQC_INVALID_INPUT',
        message: 'the address must be { host, port } with a port from 1 to 65535',
      });
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('dials ports 1 and 65535 (default host 127.0.0.1), and reports a refused connection with its cause', async () => {
    const { a, b } = await nodePair();
    // Nothing listens on either port here: the dial is made, and the refusal is the socket's.
    for (const port of [1, 65535]) {
      const error = await refusal(a.establishSecureChannel('node-b', { port }));
      expect(error).toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: expect.stringMatching(new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`)) });
      expect(error!.cause).toMatchObject({ code: 'ECONNREFUSED', port });
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('gives up on a TCP connection not made within the handshake timeout', async () => {
    const clock = new FakeClock();
    const { a, b } = await nodePair({ clock });
    const listener = await b.listen();
    const idle = clock.pendingTimers;
    const dial = refusal(a.establishSecureChannel('node-b', { port: listener.port }));
    // The connect timer is armed before any I/O can complete the connection; fire it at once.
    for (let turns = 0; clock.pendingTimers === idle && turns < 1000; turns++) await Promise.resolve();
    clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    const error = await dial;
    expect(error).toBeInstanceOf(MeshError);
    expect(error).toMatchObject({ reason: 'timeout', code: 'ERR_PQC_HANDSHAKE_TIMEOUT', message: `cannot connect to 127.0.0.1:${listener.port} in time` });
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses work after close, naming the node', async () => {
    const node = await create({});
    await node.close();
    expect(await refusal(node.listen())).toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: 'node-n is closed' });
  });
});
