/**
 * Per-user digests of the memberships files of a set, so a `full` run can tell, without staging
 * them, whether a user's memberships are those the directory got from the last run.
 *
 * A user's digest is the sum, mod 2^52, of a 52-bit hash of each (user key, group code) row the
 * files give them: independent of the rows' order and of the file they are in. A sum, not an
 * XOR, so a row listed twice still changes it (that user is then staged as before). Sums stay
 * below 2^53, where JavaScript numbers are exact, so a Float64Array holds them. A user with no
 * rows has digest 0.
 */

const TWO_32 = 2 ** 32;
const TWO_52 = 2 ** 52;
const SEED_A = 0x811c9dc5;
const SEED_B = 0x9747b28c;
/** Above every UTF-16 code unit: separates the key from the code unambiguously. */
const SEPARATOR = 0x10000;

// Two lanes with different multipliers, so their outputs are not tied bit by bit.
function laneA(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

function laneB(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 64-bit hash of a user key, as two 32-bit halves. */
export function keyHash(userKey: string): [number, number] {
  return [finish(laneA(SEED_A, userKey)), finish(laneB(SEED_B, userKey))];
}

/** The 52-bit hash of one membership row, from 0 to 2^52 − 1. */
export function membershipHash(userKey: string, groupCode: string): number {
  const a = laneA(Math.imul(laneA(SEED_A, userKey) ^ SEPARATOR, 0x01000193), groupCode);
  const b = laneB(Math.imul(laneB(SEED_B, userKey) ^ SEPARATOR, 0x5bd1e995), groupCode);
  return (finish(a ^ groupCode.length) & 0xfffff) * TWO_32 + finish(b);
}

/** Adds a row's hash to a digest. */
export const addToDigest = (digest: number, rowHash: number): number => {
  const sum = digest + rowHash;
  return sum >= TWO_52 ? sum - TWO_52 : sum;
};

/** A digest as `membership_digest` stores it (lower-case hex). The one place that spells it. */
export const digestText = (digest: number): string => digest.toString(16);

/** A stored digest read back (exact: below 2^53); NaN for text that is not one, which equals nothing. */
export const parseDigest = (text: string): number => (/^[0-9a-f]{1,13}$/.test(text) ? parseInt(text, 16) : NaN);

const OCCUPIED = 1;
/** Every record of the user was skipped as unchanged: its memberships need not be staged. */
const SKIPPED = 2;
const MAX_LOAD = 0.75;
/** Parts of the table, chosen by the top byte of the key hash; each grows on its own. */
const PARTS = 256;

/** One part: an open-addressing table of typed arrays, 17 bytes a slot. */
class Part {
  hi: Uint32Array;
  lo: Uint32Array;
  digests: Float64Array;
  flags: Uint8Array;
  used = 0;

  constructor(size: number) {
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.digests = new Float64Array(size);
    this.flags = new Uint8Array(size);
  }

  find(hi: number, lo: number): number {
    const size = this.flags.length;
    for (let slot = ((hi ^ lo) >>> 0) % size; ; slot = slot + 1 === size ? 0 : slot + 1) {
      if (this.flags[slot] === 0) return -1;
      if (this.hi[slot] === hi && this.lo[slot] === lo) return slot;
    }
  }

  insert(hi: number, lo: number): number {
    const size = this.flags.length;
    let slot = ((hi ^ lo) >>> 0) % size;
    while (this.flags[slot] !== 0) slot = slot + 1 === size ? 0 : slot + 1;
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    this.flags[slot] = OCCUPIED;
    this.used++;
    return slot;
  }

  /** A part twice the size with the same entries. */
  grown(): Part {
    const next = new Part(this.flags.length * 2);
    for (let i = 0; i < this.flags.length; i++) {
      if (this.flags[i] === 0) continue;
      const slot = next.insert(this.hi[i]!, this.lo[i]!);
      next.digests[slot] = this.digests[i]!;
      next.flags[slot] = this.flags[i]!;
    }
    return next;
  }
}

/**
 * The digests of a set's users, keyed by the 64-bit hash of their key: typed arrays, 17 bytes a
 * slot, never the keys themselves (a million users ≈ 23 MB sized up front). Two keys with one
 * hash share a slot; at 2^-64 a pair that is accepted.
 */
export class MembershipDigests {
  private readonly parts: Part[];

  /**
   * Sized for `expectedUsers` (the feed's active users, when known). A first import does not
   * know: the table then grows one 256th at a time, so that growing never holds two copies of
   * the whole table at once (at 4 M users that had been 50 MB more than the table itself).
   */
  constructor(expectedUsers = 3072) {
    const size = Math.max(16, Math.ceil(expectedUsers / MAX_LOAD / PARTS) + 1);
    this.parts = Array.from({ length: PARTS }, () => new Part(size));
  }

  /** Users that have at least one row. */
  get size(): number {
    return this.parts.reduce((n, part) => n + part.used, 0);
  }

  /** Counts one memberships row. */
  add(userKey: string, groupCode: string): void {
    const [hi, lo] = keyHash(userKey);
    const index = hi >>> 24;
    let part = this.parts[index]!;
    let slot = part.find(hi, lo);
    if (slot < 0) {
      if (part.used + 1 > part.flags.length * MAX_LOAD) part = this.parts[index] = part.grown();
      slot = part.insert(hi, lo);
    }
    part.digests[slot] = addToDigest(part.digests[slot]!, membershipHash(userKey, groupCode));
  }

  /** The user's digest: 0 when the files give them no row. */
  digestOf(userKey: string): number {
    const [hi, lo] = keyHash(userKey);
    const part = this.parts[hi >>> 24]!;
    const slot = part.find(hi, lo);
    return slot < 0 ? 0 : part.digests[slot]!;
  }

  /** Records whether the user's record was skipped (true) or staged (false). */
  markSkipped(userKey: string, skipped: boolean): void {
    const [hi, lo] = keyHash(userKey);
    const part = this.parts[hi >>> 24]!;
    const slot = part.find(hi, lo);
    if (slot >= 0) part.flags[slot] = skipped ? OCCUPIED | SKIPPED : OCCUPIED;
  }

  /** Whether the user's rows go to staging: all but those of users skipped as unchanged. */
  needsStaging(userKey: string): boolean {
    const [hi, lo] = keyHash(userKey);
    const part = this.parts[hi >>> 24]!;
    const slot = part.find(hi, lo);
    return slot < 0 || (part.flags[slot]! & SKIPPED) === 0;
  }

  /** The number of users whose rows go to staging. */
  pendingUsers(): number {
    let n = 0;
    for (const { flags } of this.parts) for (let i = 0; i < flags.length; i++) if (flags[i] === OCCUPIED) n++;
    return n;
  }
}
