import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * Minimal conversion between plain values and DynamoDB attribute values, for the flat items this project writes.
 * (`@aws-sdk/util-dynamodb` does the same but is only a transitive dependency here.) Numbers come back as JS numbers
 * unless they exceed the safe-integer range, in which case their decimal string is kept (FIFO sequence numbers).
 */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

/** Converts a plain value to an attribute value. */
export function toAttributeValue(value: PlainValue): AttributeValue {
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`Cannot store a non-finite number (${value}) in DynamoDB`);
    return { N: String(value) };
  }
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) };
  return { M: toAttributeMap(value) };
}

/** Converts a plain object to an attribute map (undefined fields are skipped). */
export function toAttributeMap(values: Readonly<Record<string, PlainValue | undefined>>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) out[key] = toAttributeValue(value);
  }
  return out;
}

/** Converts an attribute value back to a plain value (sets become arrays, binaries base64 strings). */
export function fromAttributeValue(value: AttributeValue): PlainValue {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) {
    const n = Number(value.N);
    return Number.isSafeInteger(n) || !/^-?\d+$/.test(value.N) ? n : value.N;
  }
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.L !== undefined) return value.L.map(fromAttributeValue);
  if (value.M !== undefined) return fromAttributeMap(value.M);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(Number);
  if (value.B !== undefined) return Buffer.from(value.B).toString('base64');
  return null;
}

/** Converts an attribute map back to a plain object. */
export function fromAttributeMap(item: Readonly<Record<string, AttributeValue>>): Record<string, PlainValue> {
  const out: Record<string, PlainValue> = {};
  for (const [key, value] of Object.entries(item)) out[key] = fromAttributeValue(value);
  return out;
}
