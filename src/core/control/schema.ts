import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { controlSchemaPath } from '../../paths.js';

const schema = JSON.parse(readFileSync(controlSchemaPath, 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validateControl = ajv.compile(schema);

export interface SchemaViolation {
  pointer: string;
  message: string;
  /** The offending property's name, where the violation is about one member of the object at `pointer`. */
  member?: string;
}

const targetFieldHint =
  'target fields are username, email, firstName, lastName, title, jobTitle, company, country, biography, additionalInfo, avatarUrl, badgeUrl, groups, or custom.<name>';

/** Validates against the JSON Schema and turns ajv's errors into sentences an exporter can act on. */
export function checkControlSchema(value: unknown): SchemaViolation[] {
  if (validateControl(value)) return [];
  const errors = validateControl.errors ?? [];
  const violations: SchemaViolation[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const violation = describe(error);
    if (!violation) continue;
    const id = `${violation.pointer}|${violation.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      violations.push(violation);
    }
  }
  return violations;
}

function describe(error: ErrorObject): SchemaViolation | null {
  const pointer = error.instancePath;
  const params = error.params as Record<string, unknown>;
  // The branches of an anyOf and the checks inside propertyNames are summed up by their parent.
  if (error.schemaPath.includes('/anyOf/')) return null;
  if (error.propertyName !== undefined && error.keyword !== 'propertyNames') return null;
  switch (error.keyword) {
    case 'required':
      return { pointer, message: `missing required property "${params.missingProperty}"` };
    case 'additionalProperties':
      return { pointer, member: String(params.additionalProperty), message: `unknown property "${params.additionalProperty}"${hintFor(pointer)}` };
    case 'propertyNames': {
      const name = String(params.propertyName);
      if (pointer.endsWith('/fields')) return { pointer, member: name, message: `"${name}" is not a target field: ${targetFieldHint}` };
      return { pointer, member: name, message: `"${name}" is not a plain file name (no paths, no "..")` };
    }
    case 'pattern':
      if (pointer === '/feed') return { pointer, message: 'must be a feed slug: lower-case letters, digits, "-" and "_"' };
      if (pointer.endsWith('/sha256')) return { pointer, message: 'must be 64 hexadecimal digits (the SHA-256 of the file)' };
      return { pointer, message: `does not match the expected pattern ${params.pattern}` };
    case 'enum':
      return { pointer, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { pointer, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'type':
      return { pointer, message: `must be ${String(params.type).replace(',', ' or ')}` };
    case 'anyOf':
      return { pointer, message: 'a mapping object needs a "column" or a "default"' };
    case 'minLength':
      return { pointer, message: 'must not be empty' };
    case 'maxLength':
      return { pointer, message: `must be at most ${params.limit} characters long` };
    case 'minProperties':
      return { pointer, message: pointer === '/files' ? 'must name at least one data file' : 'must have a condition (in, notIn or equals)' };
    case 'minItems':
      return { pointer, message: 'must not be empty' };
    case 'minimum':
      return { pointer, message: `must be ${params.comparison} ${params.limit}` };
    case 'uniqueItems':
      return { pointer, message: 'must not list the same value twice' };
    default:
      return { pointer, message: error.message ?? 'is invalid' };
  }
}

function hintFor(pointer: string): string {
  if (pointer === '') return ' (known: version, feed, mode, files, users, groups, memberships)';
  if (/^\/files\/[^/]+$/.test(pointer)) return ' (known: type, format, delimiter, encoding, rows, sha256, ignoreColumns, unmappedColumns)';
  if (/\/fields\/[^/]+$/.test(pointer)) return ' (known: column, map, default, transform, split)';
  return '';
}
