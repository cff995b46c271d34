/** What the relay needs of a schema: zod's (and zod/mini's) `safeParse`. */
export interface OutboxEventSchema {
  safeParse(data: unknown): { success: true; data: unknown } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** The event types one consumer publishes through the outbox, and how to check them. */
export interface OutboxEventRegistration {
  /** The consumer that owns these event types (for messages and the runbook). */
  readonly owner: string;
  /** Event types validated by {@link OutboxEventRegistration.schema}. */
  readonly eventTypes: readonly string[];
  /** Schema of the payload (the whole event). */
  readonly schema: OutboxEventSchema;
  /**
   * FIFO group of an event whose outbox item has no `groupKey` attribute (items written before the shared format).
   * @default - the event id
   */
  readonly groupKey?: (payload: unknown) => string;
}

/** Finds the registration of an event type. */
export function registrationFor(eventType: string, registry: readonly OutboxEventRegistration[]): OutboxEventRegistration | undefined {
  return registry.find((r) => r.eventTypes.includes(eventType));
}
