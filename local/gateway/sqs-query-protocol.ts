/**
 * The SQS query protocol (form-encoded `Action=…` requests, XML answers), which the AWS CLI v1 and older SDKs speak,
 * translated to and from the AWS JSON protocol fauxqs serves.
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-xml.html
 */

/** Query fields that are numbers in the JSON protocol. */
const NUMBERS = new Set(['DelaySeconds', 'MaxNumberOfMessages', 'VisibilityTimeout', 'WaitTimeSeconds', 'MaxResults']);

/** Flattened list members (`AttributeName.1`) → JSON list names. */
const LISTS: Record<string, string> = {
  AttributeName: 'AttributeNames',
  MessageAttributeName: 'MessageAttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames',
  TagKey: 'TagKeys',
  AWSAccountId: 'AWSAccountIds',
  ActionName: 'Actions',
};

type Tree = { [key: string]: Tree | string };

/** Turns the query parameters of `operation` into the JSON protocol's input. */
export function queryToJson(operation: string, params: URLSearchParams): Record<string, unknown> {
  const tree: Tree = {};
  for (const [key, value] of params) {
    if (key === 'Action' || key === 'Version') continue;
    const parts = key.split('.');
    let node = tree;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = node[parts[i]!];
      node = typeof next === 'object' ? next : (node[parts[i]!] = {});
    }
    node[parts.at(-1)!] = value;
  }
  return convert(tree, operation) as Record<string, unknown>;
}

function convert(tree: Tree, operation: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tree)) {
    if (typeof value === 'string') {
      out[key] = NUMBERS.has(key) && /^-?\d+$/.test(value) ? Number(value) : value;
      continue;
    }
    const members = Object.keys(value)
      .filter((k) => /^\d+$/.test(k))
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => value[k]!);
    if (LISTS[key]) out[LISTS[key]] = members;
    else if (key === 'Attribute' || key === 'MessageSystemAttribute') {
      const map: Record<string, unknown> = {};
      for (const member of members) if (typeof member === 'object') map[String(member.Name)] = typeof member.Value === 'object' ? convert(member.Value, operation) : member.Value;
      out[key === 'Attribute' ? 'Attributes' : 'MessageSystemAttributes'] = map;
    } else if (key === 'MessageAttribute') {
      const map: Record<string, unknown> = {};
      for (const member of members) if (typeof member === 'object' && typeof member.Value === 'object') map[String(member.Name)] = convert(member.Value, operation);
      out.MessageAttributes = map;
    } else if (key === 'Tag') {
      const map: Record<string, string> = {};
      for (const member of members) if (typeof member === 'object') map[String(member.Key)] = String(member.Value ?? '');
      out[operation === 'CreateQueue' ? 'tags' : 'Tags'] = map;
    } else if (key.endsWith('RequestEntry')) {
      out.Entries = members.map((member) => (typeof member === 'object' ? convert(member, operation) : member));
    } else {
      out[key] = convert(value, operation);
    }
  }
  return out;
}

/** Renders a JSON-protocol answer of `operation` as the query protocol's XML. */
export function jsonToQueryXml(operation: string, output: Record<string, unknown>, requestId: string): string {
  const body = Object.entries(output)
    .map(([key, value]) => element(key, value, operation))
    .join('');
  const result = body ? `<${operation}Result>${body}</${operation}Result>` : '';
  return `<?xml version="1.0"?><${operation}Response xmlns="http://queue.amazonaws.com/doc/2012-11-05/">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${operation}Response>`;
}

function element(key: string, value: unknown, operation: string): string {
  if (value === undefined || value === null) return '';
  if (key === 'Attributes' && isRecord(value)) return Object.entries(value).map(([k, v]) => `<Attribute><Name>${xml(k)}</Name><Value>${xml(String(v))}</Value></Attribute>`).join('');
  if (key === 'MessageAttributes' && isRecord(value)) {
    return Object.entries(value)
      .map(([k, v]) => `<MessageAttribute><Name>${xml(k)}</Name><Value>${Object.entries(v as Record<string, unknown>).map(([f, x]) => element(f, x, operation)).join('')}</Value></MessageAttribute>`)
      .join('');
  }
  if (key === 'Tags' && isRecord(value)) return Object.entries(value).map(([k, v]) => `<Tag><Key>${xml(k)}</Key><Value>${xml(String(v))}</Value></Tag>`).join('');
  const itemName = key === 'QueueUrls' || key === 'queueUrls' ? 'QueueUrl' : key === 'Messages' ? 'Message' : key === 'Successful' ? `${operation}ResultEntry` : key === 'Failed' ? 'BatchResultErrorEntry' : key;
  if (Array.isArray(value)) return value.map((item) => element(itemName, item, operation)).join('');
  if (isRecord(value)) return `<${key}>${Object.entries(value).map(([k, v]) => element(k, v, operation)).join('')}</${key}>`;
  return `<${key}>${xml(String(value))}</${key}>`;
}

/** Renders a JSON-protocol error (its `x-amzn-query-error` code, else its `__type`) as the query protocol's XML. */
export function jsonErrorToQueryXml(output: Record<string, unknown>, queryError: string | undefined, requestId: string): string {
  const [code, type] = (queryError ?? '').split(';');
  const name = code || String(output.__type ?? 'InternalFailure').split('#').pop();
  const message = String(output.message ?? output.Message ?? '');
  return `<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>${xml(type || 'Sender')}</Type><Code>${xml(name ?? '')}</Code><Message>${xml(message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Escapes text for an XML element. */
export function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
