import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PqcError } from '../errors.js';
import { nodePair } from './bench-nodes.js';
import { collectGarbage, median, type Budget } from './timing.js';

/**
 * Channel records against bare AES-256-GCM: `encryptForPeer` on one node and `decryptFromPeer`
 * on the other (a channel over loopback TCP, no socket in the timed loop), beside node:crypto's
 * AES-256-GCM alone on the same record sizes, in alternating rounds.
 */
export interface ChannelSettings {
  /** Plaintext bytes per record, one row each. */
  sizes: number[];
  rounds: number;
  /** Wall time of one measurement, ms. */
  targetMs: number;
}

export const CHANNEL_SETTINGS: Record<Budget, ChannelSettings> = {
  full: { sizes: [1024, 65536], rounds: 11, targetMs: 50 },
  quick: { sizes: [1024, 65536], rounds: 3, targetMs: 20 },
  smoke: { sizes: [1024, 65536], rounds: 1, targetMs: 1 },
};

/** ns per record, best round (and the median of the encrypt + decrypt round trips). */
export interface RecordTimes {
  records: number;
  encrypt: number;
  decrypt: number;
  roundTrip: number;
  roundTripMedian: number;
}

export interface ChannelResult {
  suite: string;
  rows: { size: number; channel: RecordTimes; aes: RecordTimes }[];
  /** The channels' key epochs at the end: all 0 unless a rotation happened during the run. */
  epochs: number[];
}

interface Sealer<R> {
  encrypt(): R;
  decrypt(record: R): Uint8Array;
}

// Records are sealed this many at a time, then opened: the channel's replay window takes them in order.
const BATCH = 32;

export async function measureChannel(settings: ChannelSettings, onSize?: (size: number) => void): Promise<ChannelResult> {
  const { suite, a, b, port } = await nodePair('node-a', 'node-b');
  try {
    const inbound = new Promise((resolve) => b.once('channel', resolve));
    const outbound = await a.establishSecureChannel('node-b', { host: '127.0.0.1', port });
    await inbound;

    const key = randomBytes(32);
    const iv = Buffer.alloc(12);
    let counter = 0;
    const implementations = {
      // The channel's own records, through the node's API.
      channel: (plaintext: Uint8Array): Sealer<Uint8Array> => ({
        encrypt: () => a.encryptForPeer('node-b', plaintext),
        decrypt: (record) => b.decryptFromPeer('node-a', record),
      }),
      // node:crypto alone: one cipher per record, a fresh nonce each (as the record layer does).
      aes: (plaintext: Uint8Array): Sealer<{ nonce: Buffer; ciphertext: Buffer; tail: Buffer; tag: Buffer }> => ({
        encrypt: () => {
          iv.writeUInt32BE(++counter >>> 0, 8);
          const nonce = Buffer.from(iv);
          const cipher = createCipheriv('aes-256-gcm', key, nonce);
          const ciphertext = cipher.update(plaintext);
          const tail = cipher.final();
          return { nonce, ciphertext, tail, tag: cipher.getAuthTag() };
        },
        decrypt: (record) => {
          const decipher = createDecipheriv('aes-256-gcm', key, record.nonce);
          decipher.setAuthTag(record.tag);
          const plaintext = decipher.update(record.ciphertext);
          decipher.final();
          return plaintext;
        },
      }),
    };

    /** ns per record for encrypt and for decrypt over `records` records, in batches of BATCH. */
    function measure<R>(impl: Sealer<R>, size: number, records: number) {
      let encryptNs = 0n;
      let decryptNs = 0n;
      const batch = new Array<R>(BATCH);
      for (let done = 0; done < records; done += BATCH) {
        const n = Math.min(BATCH, records - done);
        let start = process.hrtime.bigint();
        for (let i = 0; i < n; i++) batch[i] = impl.encrypt();
        encryptNs += process.hrtime.bigint() - start;
        start = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          const out = impl.decrypt(batch[i]!);
          if (out.length !== size) throw new PqcError('ERR_PQC_OPERATION_FAILED', `a ${size}-byte record opened to ${out.length} bytes`);
        }
        decryptNs += process.hrtime.bigint() - start;
      }
      return { encrypt: Number(encryptNs) / records, decrypt: Number(decryptNs) / records };
    }

    const rows: ChannelResult['rows'] = [];
    for (const size of settings.sizes) {
      const plaintext = randomBytes(size);
      const impls = [
        { name: 'channel' as const, impl: implementations.channel(plaintext) as Sealer<unknown>, records: 0, samples: [] as { encrypt: number; decrypt: number }[] },
        { name: 'aes' as const, impl: implementations.aes(plaintext) as Sealer<unknown>, records: 0, samples: [] as { encrypt: number; decrypt: number }[] },
      ];
      // Warm up, then size each measurement to about targetMs.
      for (const entry of impls) {
        measure(entry.impl, size, BATCH * 8);
        const probe = measure(entry.impl, size, BATCH * 8);
        entry.records = Math.max(BATCH, Math.ceil((settings.targetMs * 1e6) / (probe.encrypt + probe.decrypt) / BATCH) * BATCH);
      }
      onSize?.(size);
      for (let round = 0; round < settings.rounds; round++) {
        for (let k = 0; k < impls.length; k++) {
          const entry = impls[(k + round) % impls.length]!;
          collectGarbage();
          entry.samples.push(measure(entry.impl, size, entry.records));
        }
      }
      const best = (entry: (typeof impls)[number]): RecordTimes => {
        const roundTrips = entry.samples.map((s) => s.encrypt + s.decrypt);
        return {
          records: entry.records,
          encrypt: Math.min(...entry.samples.map((s) => s.encrypt)),
          decrypt: Math.min(...entry.samples.map((s) => s.decrypt)),
          roundTrip: Math.min(...roundTrips),
          roundTripMedian: median(roundTrips),
        };
      };
      rows.push({ size, channel: best(impls[0]!), aes: best(impls[1]!) });
    }
    const epochs = [outbound.epoch, ...b.channels('node-a').map((channel) => channel.epoch)];
    return { suite: suite.name, rows, epochs };
  } finally {
    await a.close();
    await b.close();
  }
}
