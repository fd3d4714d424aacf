import { createHash, createPublicKey } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';
import { usageError } from '../errors.js';

/** Key types an account may log in with; RSA keys shorter than this are refused as weak. */
const TYPES = new Set(['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);
const MIN_RSA_BITS = 2048;

export interface PublicKey {
  type: string;
  /** `type base64` — an authorized_keys line without its comment. */
  text: string;
  /** As `ssh-keygen -lf` prints it: `SHA256:` and the unpadded base64 of the key's SHA-256. */
  fingerprint: string;
}

/** The fingerprint people compare with `ssh-keygen -lf` (and with what an SSH client shows). */
export const fingerprintOf = (blob: Buffer) => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

function parse(text: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(text.trim());
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw usageError(`not an SSH public key (${key instanceof Error ? key.message : 'empty'}); give the one-line .pub file, e.g. id_ed25519.pub`);
  return key;
}

/** Reads an OpenSSH public key line; refuses private keys, unknown types and RSA under 2048 bits. */
export function readPublicKey(text: string): PublicKey {
  const key = parse(text);
  if (key.isPrivateKey()) throw usageError('that is a private key: give the public one (the .pub file), and keep the private key with the source system');
  if (!TYPES.has(key.type)) throw usageError(`keys of type ${key.type} are not accepted; use ed25519, RSA (2048 bits or more) or ECDSA`);
  if (key.type === 'ssh-rsa') {
    const bits = createPublicKey(key.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw usageError(`this RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are needed (ssh-keygen -t ed25519 makes a better one)`);
  }
  const blob = key.getPublicSSH();
  return { type: key.type, text: `${key.type} ${blob.toString('base64')}`, fingerprint: fingerprintOf(blob) };
}

/** Whether `signature` over `data` was made by the stored key. */
export function verifySignature(stored: string, data: Buffer, signature: Buffer, hashAlgo?: string): boolean {
  const key = parse(stored);
  return key.verify(data, signature, hashAlgo) === true;
}

/** Whether the key a client offers is the stored one (compared as SSH wire blobs). */
export function sameKey(stored: string, algo: string, blob: Buffer): boolean {
  const key = parse(stored);
  const storedBlob = key.getPublicSSH();
  // An RSA key is offered under rsa-sha2-256/512 but stored as ssh-rsa: the blob says which key it is.
  return storedBlob.equals(blob) && (algo === key.type || (key.type === 'ssh-rsa' && /^rsa-sha2-(256|512)$/.test(algo)));
}
