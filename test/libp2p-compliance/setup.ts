import { afterAll, beforeAll } from 'vitest';

Object.assign(globalThis, { before: beforeAll, after: afterAll });
