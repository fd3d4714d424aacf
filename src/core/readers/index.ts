import type { FileSpec } from '../control/types.js';
import { readDelimited } from './csv.js';
import { decode } from './decode.js';
import { readJsonArray, readNdjson } from './json.js';
import { defaultReadLimits, type ReadLimits, type RecordReader } from './types.js';

export * from './types.js';

/** Opens a data file's bytes as records, in the format and encoding its control entry declares. */
export async function openRecords(bytes: AsyncIterable<Uint8Array>, spec: FileSpec, file: string, limits: ReadLimits = defaultReadLimits): Promise<RecordReader> {
  const text = decode(bytes, spec.encoding, file);
  switch (spec.format) {
    case 'json':
      return readJsonArray(text, file, limits);
    case 'ndjson':
      return readNdjson(text, file, limits);
    default:
      return readDelimited(text, spec.delimiter, file, limits);
  }
}
