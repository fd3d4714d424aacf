import { describe, expect, it } from 'vitest';
import { addToDigest, digestText, keyHash, MembershipDigests, membershipHash, parseDigest } from '../../src/core/records/membershipDigest.js';

const digestOf = (rows: [string, string][]) => {
  const table = new MembershipDigests(16);
  for (const [user, group] of rows) table.add(user, group);
  return table;
};

describe('membership digests', () => {
  it('hashes a row to 52 bits, and tells the key from the code', () => {
    for (let i = 0; i < 2000; i++) {
      const h = membershipHash(`user${i}`, `group${i % 13}`);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 52).toBe(true);
    }
    expect(membershipHash('ab', 'c')).not.toBe(membershipHash('a', 'bc'));
    expect(membershipHash('a', 'b')).not.toBe(membershipHash('b', 'a'));
    expect(keyHash('ab')).not.toEqual(keyHash('ba'));
  });

  it('sums modulo 2^52 without losing precision', () => {
    expect(addToDigest(2 ** 52 - 1, 2 ** 52 - 1)).toBe(2 ** 52 - 2);
    expect(addToDigest(0, 5)).toBe(5);
    expect(digestText(0)).toBe('0');
    expect(digestText(2 ** 52 - 1)).toBe('fffffffffffff');
  });

  it('gives a user the same digest whatever the order of the rows, and 0 without rows', () => {
    const a = digestOf([['u1', 'x'], ['u2', 'x'], ['u1', 'y']]);
    const b = digestOf([['u1', 'y'], ['u1', 'x'], ['u2', 'x']]);
    expect(a.digestOf('u1')).toBe(b.digestOf('u1'));
    expect(a.digestOf('u1')).not.toBe(a.digestOf('u2'));
    expect(a.digestOf('nobody')).toBe(0);
    expect(a.size).toBe(2);
  });

  it('changes when a row is added, removed or listed twice', () => {
    const base = digestOf([['u1', 'x'], ['u1', 'y']]).digestOf('u1');
    expect(digestOf([['u1', 'x']]).digestOf('u1')).not.toBe(base);
    expect(digestOf([['u1', 'x'], ['u1', 'y'], ['u1', 'z']]).digestOf('u1')).not.toBe(base);
    expect(digestOf([['u1', 'x'], ['u1', 'y'], ['u1', 'y']]).digestOf('u1')).not.toBe(base);
    expect(digestOf([['u1', 'x'], ['u1', 'z']]).digestOf('u1')).not.toBe(base);
  });

  it('keeps every user through growth, and which of them were skipped', () => {
    const table = new MembershipDigests(16);
    const users = 50_000;
    for (let i = 0; i < users; i++) for (const g of ['a', 'b', 'c']) table.add(`user-${i}`, `${g}${i % 5}`);
    expect(table.size).toBe(users);
    const reference = digestOf([['user-777', 'a2'], ['user-777', 'b2'], ['user-777', 'c2']]);
    expect(table.digestOf('user-777')).toBe(reference.digestOf('user-777'));
    expect(table.pendingUsers()).toBe(users);

    for (let i = 0; i < users; i += 2) table.markSkipped(`user-${i}`, true);
    table.markSkipped('user-0', false); // a second record of the user was staged after all
    expect(table.pendingUsers()).toBe(users / 2 + 1);
    expect(table.needsStaging('user-0')).toBe(true);
    expect(table.needsStaging('user-2')).toBe(false);
    expect(table.needsStaging('user-3')).toBe(true);
    // A user the users files did not have: staged, so the whole-set check can reject the row.
    expect(table.needsStaging('stranger')).toBe(true);
  });

  it('reads a stored digest back exactly, and nothing else as one', () => {
    for (const digest of [0, 1, 2 ** 52 - 1, membershipHash('u1', 'g1'), addToDigest(membershipHash('u1', 'g1'), membershipHash('u1', 'g2'))]) {
      expect(parseDigest(digestText(digest))).toBe(digest);
    }
    for (const text of ['', 'xyz', '-1', 'ABC', '10000000000000000']) expect(parseDigest(text)).toBeNaN();
  });

  it('has no colliding key hashes among a few hundred thousand keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300_000; i++) seen.add(keyHash(`${i}@example.org`).join(':'));
    expect(seen.size).toBe(300_000);
  });
});
