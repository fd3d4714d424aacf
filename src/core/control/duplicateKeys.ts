import { escapePointer } from './pointer.js';

export interface DuplicateKey {
  key: string;
  /** JSON pointer of the object that has the key twice. */
  pointer: string;
  line: number;
  column: number;
  firstLine: number;
}

/**
 * Keys that appear twice in one object of a JSON text that `JSON.parse` accepted. JSON.parse
 * keeps the last one silently, so a file named twice in `files` would lose its first entry.
 */
export function duplicateKeys(text: string): DuplicateKey[] {
  const found: DuplicateKey[] = [];
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
        if (first !== undefined) found.push({ key, pointer: pointer(), line, column: start - lineStart + 1, firstLine: first });
        else frame.keys.set(key, line);
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
  return found;
}
