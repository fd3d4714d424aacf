import { escapePointer } from './pointer.js';

export interface DuplicateKey {
  key: string;
  /** JSON pointer of the object that has the key twice. */
  pointer: string;
  line: number;
  column: number;
  firstLine: number;
}

export interface KeyScan {
  /**
   * Keys that appear twice in one object. JSON.parse keeps the last one silently, so a file
   * named twice in `files` would lose its first entry.
   */
  duplicates: DuplicateKey[];
  /** Where each object member's key stands, by its JSON pointer: problems found by pointer get a line. */
  positions: Map<string, { line: number; column: number }>;
}

/** Scans a JSON text that `JSON.parse` accepted for its keys: duplicates and positions. */
export function scanKeys(text: string): KeyScan {
  const found: DuplicateKey[] = [];
  const positions = new Map<string, { line: number; column: number }>();
  // One frame per open object or array: the keys seen (objects) and the path segment to it.
  const stack: { keys: Map<string, number> | null; segment: string; index: number }[] = [];
  let pendingKey: string | null = null;
  let line = 1;
  let lineStart = 0;
  const pointer = () => stack.slice(1).map((f) => `/${escapePointer(f.segment)}`).join('');
  const enter = (keys: Map<string, number> | null) => {
    const parent = stack[stack.length - 1];
    const segment = parent ? (parent.keys ? (pendingKey ?? '') : String(parent.index)) : '';
    stack.push({ keys, segment, index: 0 });
    pendingKey = null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = i + 1;
    } else if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const frame = stack[stack.length - 1];
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (frame?.keys && text[j] === ':') {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        const first = frame.keys.get(key);
        const column = start - lineStart + 1;
        if (first !== undefined) found.push({ key, pointer: pointer(), line, column, firstLine: first });
        else frame.keys.set(key, line);
        positions.set(`${pointer()}/${escapePointer(key)}`, { line, column });
        pendingKey = key;
      }
    } else if (c === '{') enter(new Map());
    else if (c === '[') enter(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const frame = stack[stack.length - 1];
      if (frame && !frame.keys) frame.index++;
    }
  }
  return { duplicates: found, positions };
}
