/**
 * SQS's rules for a message's user-defined attributes, where fauxqs is laxer than AWS (it accepts an empty or unknown
 * `DataType`, a reserved or malformed name, eleven attributes, `"abc"` as a Number). The gateway applies them to every
 * SendMessage and SendMessageBatch entry; the relay's tests read the same rules (test/lambdas/relay/sqs-request-rules.ts).
 *
 * Sources (developer guide and API reference), and, where one exists, the error text real SQS answers:
 * - at most 10 attributes per message — "Number of message attributes [11] exceeds the allowed maximum [10].";
 * - a name is not empty, at most 256 characters of letters, digits, `_`, `-` and `.` (SQS also takes the Latin letters
 *   U+00C0–U+017F, e.g. `attr.1øßä`, although the guide does not list them), does not start with `AWS.` or `Amazon.`
 *   in any case, does not start or end with `.`, and has no `..`;
 * - `DataType` is required: `String`, `Number` or `Binary`, optionally followed by `.` and a custom label, at most
 *   256 characters;
 * - String and Number attributes carry a non-empty `StringValue` of the characters a body may hold
 *   ("Message (user) attribute 'x' must contain a non-empty value of type 'String'."); a Number is a decimal number
 *   ("Can't cast the value of message (user) attribute 'x' to a number.") of at most 38 significant digits between
 *   10^-128 and 10^+126; Binary attributes carry a non-empty `BinaryValue`;
 * - the list values (`StringListValues`, `BinaryListValues`) are not implemented: SQS answers UnsupportedOperation;
 * - message system attributes: only `AWSTraceHeader`, of type `String`, with a non-empty value (the X-Ray header
 *   format itself is not checked here).
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageSystemAttributeValue.html
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
 */

/** At most this many user-defined attributes per message. */
export const SQS_MAX_MESSAGE_ATTRIBUTES = 10;
/** Longest attribute name and longest DataType, in characters. */
export const SQS_MAX_ATTRIBUTE_NAME_LENGTH = 256;
/** Longest DataType (base type plus custom label), in characters. */
export const SQS_MAX_ATTRIBUTE_TYPE_LENGTH = 256;
/** Most significant digits of a Number attribute. */
export const SQS_NUMBER_MAX_DIGITS = 38;

/** An error SQS answers for a message: its code (`InvalidParameterValue`, `UnsupportedOperation`) and message. */
export interface SqsMessageRuleError {
  readonly code: 'InvalidParameterValue' | 'UnsupportedOperation';
  readonly message: string;
}

/** A message attribute value as the JSON protocol (and the query protocol, translated) carries it. */
interface AttributeValue {
  readonly DataType?: unknown;
  readonly StringValue?: unknown;
  readonly BinaryValue?: unknown;
  readonly StringListValues?: unknown;
  readonly BinaryListValues?: unknown;
}

// Letters, digits, '_', '-', '.', and the Latin letters SQS accepts beyond the documented set.
const NAME_CHARACTERS = /^[A-Za-z0-9_.\-\u00C0-\u017F]+$/;
const TYPE = /^(String|Number|Binary)(\..+)?$/;
// What a body (and a String value) may hold: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF.
const INVALID_CHARACTER = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const invalid = (message: string): SqsMessageRuleError => ({ code: 'InvalidParameterValue', message });

/**
 * The first rule a message's user-defined attributes break, as SQS answers it; undefined when SQS accepts them
 * (no attributes at all included).
 */
export function messageAttributesError(attributes: unknown): SqsMessageRuleError | undefined {
  if (attributes === undefined || attributes === null) return undefined;
  if (typeof attributes !== 'object' || Array.isArray(attributes)) return invalid('MessageAttributes must be a map of attribute name to value.');
  const entries = Object.entries(attributes as Record<string, unknown>);
  if (entries.length > SQS_MAX_MESSAGE_ATTRIBUTES) {
    return invalid(`Number of message attributes [${entries.length}] exceeds the allowed maximum [${SQS_MAX_MESSAGE_ATTRIBUTES}].`);
  }
  for (const [name, value] of entries) {
    const error = nameError(name) ?? valueError(name, (value ?? {}) as AttributeValue);
    if (error) return error;
  }
  return undefined;
}

function nameError(name: string): SqsMessageRuleError | undefined {
  if (name.length === 0) return invalid('The request must contain non-empty message (user) attribute names.');
  if (name.length > SQS_MAX_ATTRIBUTE_NAME_LENGTH) {
    return invalid(`Message (user) attribute name '${name.slice(0, 32)}…' is ${name.length} characters long; the limit is ${SQS_MAX_ATTRIBUTE_NAME_LENGTH}.`);
  }
  if (!NAME_CHARACTERS.test(name)) {
    return invalid(`Message (user) attribute name '${name}' can only contain upper and lower case letters, digits, periods, hyphens and underscores.`);
  }
  if (/^(aws|amazon)\./i.test(name) || name.startsWith('.') || name.endsWith('.')) {
    return invalid(
      `Message (user) attribute name '${name}': you can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings are reserved for internal use. Additionally, they cannot start or end with '.'.`,
    );
  }
  if (name.includes('..')) return invalid(`Message (user) attribute name '${name}' must not have successive '.' characters.`);
  return undefined;
}

function valueError(name: string, value: AttributeValue): SqsMessageRuleError | undefined {
  const type = typeof value.DataType === 'string' ? value.DataType : '';
  if (type === '') return invalid(`The message attribute '${name}' must contain non-empty message attribute type (DataType String, Number or Binary).`);
  const base = TYPE.exec(type)?.[1];
  if (base === undefined) {
    return invalid(`The type of message (user) attribute '${name}' is invalid ('${type}'). You must use only the following supported type prefixes: Binary, Number, String.`);
  }
  if (type.length > SQS_MAX_ATTRIBUTE_TYPE_LENGTH) {
    return invalid(`Message (user) attribute '${name}' has a DataType of ${type.length} characters; the limit is ${SQS_MAX_ATTRIBUTE_TYPE_LENGTH}.`);
  }
  if (value.StringListValues !== undefined || value.BinaryListValues !== undefined) {
    return { code: 'UnsupportedOperation', message: 'Message attribute list values in SendMessage operation are not supported.' };
  }
  if (base === 'Binary') {
    const binary = value.BinaryValue;
    const empty = binary === undefined || binary === null || (typeof binary === 'string' || binary instanceof Uint8Array ? binary.length === 0 : true);
    return empty ? invalid(`Message (user) attribute '${name}' must contain a non-empty value of type 'Binary'.`) : undefined;
  }
  const text = value.StringValue;
  if (typeof text !== 'string' || text.length === 0) return invalid(`Message (user) attribute '${name}' must contain a non-empty value of type '${base}'.`);
  if (INVALID_CHARACTER.test(text)) {
    return invalid(
      `Message (user) attribute '${name}' value contains invalid characters. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`,
    );
  }
  if (base === 'Number') return numberError(name, text);
  return undefined;
}

/** A Number: decimal syntax, ≤ 38 significant digits, 0 or a magnitude in [10^-128, 10^+126]. */
function numberError(name: string, text: string): SqsMessageRuleError | undefined {
  const match = DECIMAL.exec(text.trim());
  if (!match) return invalid(`Can't cast the value of message (user) attribute '${name}' to a number.`);
  const [mantissa = '', exponentText] = text.trim().replace(/^[+-]/, '').split(/[eE]/);
  const [whole = '', fraction = ''] = mantissa.split('.');
  const digits = `${whole}${fraction}`;
  const first = digits.search(/[1-9]/);
  if (first < 0) return undefined; // zero
  const significant = digits.slice(first).replace(/0+$/, '');
  // value = 0.d1d2… × 10^magnitude, so 10^(magnitude-1) ≤ |value| < 10^magnitude.
  const magnitude = whole.length - first + Number(exponentText ?? 0);
  const outOfRange = magnitude > 127 || (magnitude === 127 && significant !== '1') || magnitude - 1 < -128;
  if (significant.length > SQS_NUMBER_MAX_DIGITS || outOfRange) {
    return invalid(
      `Value ${text} for message (user) attribute '${name}' is not a Number SQS can hold: up to ${SQS_NUMBER_MAX_DIGITS} significant digits, between 10^-128 and 10^+126.`,
    );
  }
  return undefined;
}

/** The only message system attribute SQS supports. */
export const SQS_SYSTEM_ATTRIBUTES: readonly string[] = ['AWSTraceHeader'];

/**
 * The first rule a message's system attributes (`MessageSystemAttributes`) break: only `AWSTraceHeader`, a `String`
 * with a non-empty value; undefined when SQS accepts them.
 */
export function messageSystemAttributesError(attributes: unknown): SqsMessageRuleError | undefined {
  if (attributes === undefined || attributes === null) return undefined;
  if (typeof attributes !== 'object' || Array.isArray(attributes)) return invalid('MessageSystemAttributes must be a map of attribute name to value.');
  for (const [name, value] of Object.entries(attributes as Record<string, AttributeValue | null>)) {
    if (!SQS_SYSTEM_ATTRIBUTES.includes(name)) {
      return invalid(`Message system attribute name '${name}' is invalid: the only supported message system attribute is AWSTraceHeader.`);
    }
    if (value?.DataType !== 'String') return invalid(`Message system attribute '${name}' must be of type 'String', not '${String(value?.DataType ?? '')}'.`);
    if (typeof value.StringValue !== 'string' || value.StringValue.length === 0) {
      return invalid(`Message system attribute '${name}' must contain a non-empty value of type 'String' (an X-Ray trace header).`);
    }
  }
  return undefined;
}
