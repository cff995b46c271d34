/**
 * DynamoDB capacity accounting with AWS's billing rules, computed from the requests themselves.
 *
 * DynamoDB Local reports ConsumedCapacity, but it neither doubles transactional items nor charges failed conditional
 * writes the way AWS does, so the benchmark computes units here from each request, its outcome and the sizes of the
 * items involved (see {@link ItemSizeBook}).
 *
 * Rules applied (on-demand mode: 1 write request unit = 1 WCU, 1 read request unit = 1 RCU):
 * - Item size = sum over attributes of (name bytes + value bytes); numbers ≈ 1 byte per 2 significant digits + 1;
 *   lists/maps 3 bytes + 1 per element.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 * - Standard write: 1 unit per started KB of the LARGER of the item before and after (PutItem, UpdateItem); DeleteItem
 *   the deleted item's size; minimum 1.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html#write-operation-consumption
 * - A conditional write whose condition fails is still charged: the size of the existing item, minimum 1 unit.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html#write-operation-consumption
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 * - Transactions: 2 units per started KB of every item in TransactWriteItems (ConditionCheck included), 2 read units
 *   per started 4 KB in TransactGetItems. A cancelled transaction (TransactionCanceledException) is charged the same
 *   write units (the prepare phase touched every item) — an upper bound; AWS documents that cancelled transactions
 *   consume capacity without a per-item formula.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling
 * - Reads: 1 unit per started 4 KB strongly consistent, 0.5 eventually consistent; Query sums the items read before
 *   rounding; a GetItem that finds nothing still costs the minimum.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html#read-operation-consumption
 * - ReturnValues and ReturnValuesOnConditionCheckFailure cost no read units.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
 */

/** A DynamoDB attribute value in wire form (`{"S": "x"}`, `{"N": "1"}`, …). */
export type WireValue = Record<string, unknown>;
/** A DynamoDB item in wire form. */
export type WireItem = Record<string, WireValue>;

const KB = 1024;
const READ_BLOCK = 4 * KB;

/** Size in bytes of one item, by DynamoDB's rules. */
export function itemSize(item: WireItem): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) total += utf8(name) + valueSize(value);
  return total;
}

function utf8(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function numberSize(text: string): number {
  const digits = text.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function valueSize(value: WireValue): number {
  const [type, raw] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return utf8(raw as string);
    case 'N':
      return numberSize(raw as string);
    case 'B':
      return Buffer.from(raw as string, 'base64').length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (raw as string[]).reduce((sum, s) => sum + utf8(s), 0);
    case 'NS':
      return (raw as string[]).reduce((sum, n) => sum + numberSize(n), 0);
    case 'BS':
      return (raw as string[]).reduce((sum, b) => sum + Buffer.from(b, 'base64').length, 0);
    case 'L':
      return 3 + (raw as WireValue[]).reduce((sum, v) => sum + 1 + valueSize(v), 0);
    case 'M':
      return 3 + Object.entries(raw as WireItem).reduce((sum, [k, v]) => sum + 1 + utf8(k) + valueSize(v), 0);
    default:
      throw new Error(`Unknown DynamoDB attribute type ${type}: cannot size it for capacity accounting`);
  }
}

/** Write units for one item write of `bytes` (standard: 1 per started KB, minimum 1; transactional: twice that). */
export function writeUnits(bytes: number, transactional = false): number {
  const units = Math.max(1, Math.ceil(bytes / KB));
  return transactional ? 2 * units : units;
}

/** Read units for `bytes` read in one request. */
export function readUnits(bytes: number, options: { consistent: boolean; transactional?: boolean }): number {
  const blocks = Math.max(1, Math.ceil(bytes / READ_BLOCK));
  if (options.transactional) return 2 * blocks;
  return options.consistent ? blocks : blocks / 2;
}

/**
 * The current size of every item the recorder has seen, by table and key, so that the "larger of before and after"
 * and "size of the existing item" rules can be applied without reading the item (tables start empty in a bench run).
 */
export class ItemSizeBook {
  private readonly sizes = new Map<string, number>();
  private readonly keySchemas = new Map<string, readonly string[]>();

  /** Registers a table's key attribute names (partition, then sort). */
  setKeySchema(table: string, keyNames: readonly string[]): void {
    this.keySchemas.set(table, keyNames);
  }

  hasKeySchema(table: string): boolean {
    return this.keySchemas.has(table);
  }

  /** Identity of the item in `table` that `itemOrKey` (an item or a key) names. */
  keyOf(table: string, itemOrKey: WireItem): string {
    const names = this.keySchemas.get(table);
    if (names === undefined) throw new Error(`No key schema registered for table ${table}`);
    return `${table}\u0000${names.map((n) => JSON.stringify(itemOrKey[n] ?? null)).join('\u0000')}`;
  }

  get(table: string, itemOrKey: WireItem): number | undefined {
    return this.sizes.get(this.keyOf(table, itemOrKey));
  }

  set(table: string, itemOrKey: WireItem, bytes: number | undefined): void {
    const id = this.keyOf(table, itemOrKey);
    if (bytes === undefined) this.sizes.delete(id);
    else this.sizes.set(id, bytes);
  }
}

/** Units charged for one DynamoDB request. */
export interface Charge {
  readonly operation: string;
  readonly writeUnits: number;
  readonly readUnits: number;
  /** True when the request's condition failed or the transaction was cancelled (still charged). */
  readonly conditionFailed: boolean;
}

/** What the recorder knows about one request's outcome. */
export interface CallOutcome {
  /** The DynamoDB error type (`ConditionalCheckFailedException`, `TransactionCanceledException`, …), if it failed. */
  readonly errorType?: string;
  /** The parsed response body (success) or error body (failure). */
  readonly body: Record<string, unknown>;
  /**
   * Item after a successful write, when known (ALL_NEW image, or a read-back); keyed like {@link ItemSizeBook.keyOf}
   * through `table` + item.
   */
  readonly afterImages?: ReadonlyArray<{ table: string; item: WireItem | undefined }>;
}

/**
 * Charges one request by AWS's rules and updates `book` with the sizes it leaves behind.
 *
 * Errors other than failed conditions / cancelled transactions (validation, throttling, …) are not charged.
 */
export function chargeRequest(
  operation: string,
  request: Record<string, unknown>,
  outcome: CallOutcome,
  book: ItemSizeBook,
): Charge {
  const failedCondition =
    outcome.errorType === 'ConditionalCheckFailedException' || outcome.errorType === 'TransactionCanceledException';
  const none: Charge = { operation, writeUnits: 0, readUnits: 0, conditionFailed: false };
  if (outcome.errorType !== undefined && !failedCondition) return none;
  const table = request.TableName as string;

  switch (operation) {
    case 'PutItem': {
      const item = request.Item as WireItem;
      const before = book.get(table, item);
      if (failedCondition) return { ...none, writeUnits: writeUnits(before ?? 0), conditionFailed: true };
      const after = itemSize(item);
      book.set(table, item, after);
      return { ...none, writeUnits: writeUnits(Math.max(before ?? 0, after)) };
    }
    case 'UpdateItem': {
      const key = request.Key as WireItem;
      const before = book.get(table, key);
      if (failedCondition) return { ...none, writeUnits: writeUnits(before ?? 0), conditionFailed: true };
      const image = outcome.afterImages?.find((i) => i.table === table)?.item;
      const after = image === undefined ? (before ?? 0) : itemSize(image);
      book.set(table, key, after);
      return { ...none, writeUnits: writeUnits(Math.max(before ?? 0, after)) };
    }
    case 'DeleteItem': {
      const key = request.Key as WireItem;
      const before = book.get(table, key);
      if (!failedCondition) book.set(table, key, undefined);
      return { ...none, writeUnits: writeUnits(before ?? 0), conditionFailed: failedCondition };
    }
    case 'TransactWriteItems':
      return chargeTransactWrite(request, outcome, book, failedCondition);
    case 'GetItem': {
      const item = outcome.body.Item as WireItem | undefined;
      return { ...none, readUnits: readUnits(item ? itemSize(item) : 0, { consistent: request.ConsistentRead === true }) };
    }
    case 'Query':
    case 'Scan': {
      const items = (outcome.body.Items as WireItem[] | undefined) ?? [];
      const bytes = items.reduce((sum, item) => sum + itemSize(item), 0);
      return { ...none, readUnits: readUnits(bytes, { consistent: request.ConsistentRead === true }) };
    }
    case 'TransactGetItems': {
      const responses = (outcome.body.Responses as Array<{ Item?: WireItem }> | undefined) ?? [];
      const units = responses.reduce(
        (sum, r) => sum + readUnits(r.Item ? itemSize(r.Item) : 0, { consistent: true, transactional: true }),
        0,
      );
      return { ...none, readUnits: units };
    }
    case 'BatchGetItem': {
      // Each key is read as a GetItem: its item rounded up to 4 KB, and a key that finds nothing still costs the
      // minimum. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
      const responses = (outcome.body.Responses as Record<string, WireItem[]> | undefined) ?? {};
      const unprocessed = (outcome.body.UnprocessedKeys as Record<string, { Keys?: WireItem[] }> | undefined) ?? {};
      const requested = (request.RequestItems as Record<string, { Keys?: WireItem[]; ConsistentRead?: boolean }> | undefined) ?? {};
      let units = 0;
      for (const [t, spec] of Object.entries(requested)) {
        const found = new Map((responses[t] ?? []).map((item) => [book.keyOf(t, item), item] as const));
        const skipped = new Set((unprocessed[t]?.Keys ?? []).map((k) => book.keyOf(t, k)));
        for (const key of spec.Keys ?? []) {
          const id = book.keyOf(t, key);
          if (skipped.has(id)) continue;
          const item = found.get(id);
          units += readUnits(item ? itemSize(item) : 0, { consistent: spec.ConsistentRead === true });
        }
      }
      return { ...none, readUnits: units };
    }
    case 'BatchWriteItem': {
      let units = 0;
      const requestItems = request.RequestItems as Record<string, Array<{ PutRequest?: { Item: WireItem }; DeleteRequest?: { Key: WireItem } }>>;
      for (const [t, writes] of Object.entries(requestItems)) {
        for (const w of writes) {
          if (w.PutRequest) {
            const after = itemSize(w.PutRequest.Item);
            units += writeUnits(Math.max(book.get(t, w.PutRequest.Item) ?? 0, after));
            book.set(t, w.PutRequest.Item, after);
          } else if (w.DeleteRequest) {
            units += writeUnits(book.get(t, w.DeleteRequest.Key) ?? 0);
            book.set(t, w.DeleteRequest.Key, undefined);
          }
        }
      }
      return { ...none, writeUnits: units };
    }
    default:
      // Control-plane calls (DescribeTable, CreateTable, …) are not billed per request unit.
      return none;
  }
}

interface TransactAction {
  Put?: { TableName: string; Item: WireItem };
  Update?: { TableName: string; Key: WireItem };
  Delete?: { TableName: string; Key: WireItem };
  ConditionCheck?: { TableName: string; Key: WireItem };
}

function chargeTransactWrite(
  request: Record<string, unknown>,
  outcome: CallOutcome,
  book: ItemSizeBook,
  cancelled: boolean,
): Charge {
  let units = 0;
  for (const action of request.TransactItems as TransactAction[]) {
    if (action.Put) {
      const { TableName, Item } = action.Put;
      const after = itemSize(Item);
      units += writeUnits(Math.max(book.get(TableName, Item) ?? 0, after), true);
      if (!cancelled) book.set(TableName, Item, after);
    } else if (action.Update) {
      const { TableName, Key } = action.Update;
      const before = book.get(TableName, Key) ?? 0;
      const image = outcome.afterImages?.find((i) => i.table === TableName && sameKey(book, TableName, i.item, Key));
      const after = cancelled || image?.item === undefined ? before : itemSize(image.item);
      units += writeUnits(Math.max(before, after), true);
      if (!cancelled) book.set(TableName, Key, after);
    } else if (action.Delete) {
      const { TableName, Key } = action.Delete;
      units += writeUnits(book.get(TableName, Key) ?? 0, true);
      if (!cancelled) book.set(TableName, Key, undefined);
    } else if (action.ConditionCheck) {
      const { TableName, Key } = action.ConditionCheck;
      units += writeUnits(book.get(TableName, Key) ?? 0, true);
    }
  }
  return { operation: 'TransactWriteItems', writeUnits: units, readUnits: 0, conditionFailed: cancelled };
}

function sameKey(book: ItemSizeBook, table: string, item: WireItem | undefined, key: WireItem): boolean {
  return item !== undefined && book.keyOf(table, item) === book.keyOf(table, key);
}

/** Keys of the items a successful TransactWriteItems updated (their after-size is not in the request). */
export function transactUpdateKeys(request: Record<string, unknown>): Array<{ table: string; key: WireItem }> {
  const actions = (request.TransactItems as TransactAction[] | undefined) ?? [];
  return actions.filter((a) => a.Update).map((a) => ({ table: a.Update!.TableName, key: a.Update!.Key }));
}
