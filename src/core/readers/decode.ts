import { setProblem } from '../problems.js';
import type { Encoding } from '../control/types.js';
import { ReadError } from './types.js';

/**
 * Decodes a byte stream in the declared encoding, dropping a byte-order mark. Undecodable bytes
 * stop the file with the line and the character where they are: the only problem whose column
 * is a character, not a field, since fields are split only after decoding.
 */
export async function* decode(source: AsyncIterable<Uint8Array>, encoding: Encoding, file: string): AsyncGenerator<string> {
  const label = encoding === 'latin1' ? 'latin1' : encoding;
  const strict = new TextDecoder(label, { fatal: true });
  // A lenient twin decodes the same bytes, to find where the strict one gave up.
  const lenient = new TextDecoder(label, { fatal: false });
  let line = 1;
  let column = 1;
  const advance = (text: string) => {
    let from = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', from)) {
      line++;
      column = 1;
      from = i + 1;
    }
    column += text.length - from;
  };
  const fail = (text: string): never => {
    const bad = text.indexOf('\uFFFD');
    advance(bad === -1 ? text : text.slice(0, bad));
    throw new ReadError(
      setProblem('encoding_invalid', `bytes that are not valid ${encoding} (at character ${column} of the line); save the file as ${encoding} or declare its real "encoding" in the control file`, {
        file,
        line,
        column,
      }),
    );
  };
  for await (const chunk of source) {
    const loose = lenient.decode(chunk, { stream: true });
    let text: string;
    try {
      text = strict.decode(chunk, { stream: true });
    } catch {
      return fail(loose);
    }
    if (text) {
      advance(text);
      yield text;
    }
  }
  const looseTail = lenient.decode();
  let tail: string;
  try {
    tail = strict.decode();
  } catch {
    return fail(looseTail);
  }
  if (tail) yield tail;
}
