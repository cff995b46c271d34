import { Construct } from 'constructs';
import type { MonitoredConsumer } from '../constructs/pipeline-monitoring.js';
import type { QueueConsumer } from '../constructs/queue-consumer.js';
import type { ConsumerDeps, ConsumerRegistration } from './types.js';
// scaffold:imports — `npm run new -- consumer <name> …` adds one import above this line.

export type { ConsumerDeps, ConsumerRegistration } from './types.js';

/**
 * Every consumer added with `npm run new -- consumer <name> …`, in the order they were generated.
 * The scaffold appends to this list; removing a consumer means deleting its line here and its files.
 */
export const CONSUMERS: readonly ConsumerRegistration[] = [
  // scaffold:consumers — `npm run new` adds one entry above this line.
];

/**
 * Adds every registered consumer to `scope` (one construct per consumer, id = its PascalCase name, under a
 * `Consumers` construct so their logical ids do not collide with the stack's own).
 * @param scope the stack (or any construct inside it)
 * @param shared the tables and defaults the consumers use
 * @returns the consumers, in registration order (their functions, queues and DLQs can join the stack's alarms)
 */
export function addConsumers(scope: Construct, shared: ConsumerDeps): QueueConsumer[] {
  if (CONSUMERS.length === 0) return [];
  const parent = new Construct(scope, 'Consumers');
  return CONSUMERS.map((consumer) => consumer.add(parent, shared));
}

/**
 * What `PipelineMonitoring` watches for each consumer {@link addConsumers} added: DLQ, queue age, errors, throttles,
 * duplicate rate and effects, named after the consumer (`loyalty-points` → alarms `LoyaltyPointsDlqNotEmpty`, …;
 * metrics with dimensions `service` = `layer` = `loyalty-points`).
 * @param added the consumers, as {@link addConsumers} returned them (registration order)
 */
export function monitoredConsumers(added: readonly QueueConsumer[]): MonitoredConsumer[] {
  return added.map((consumer, index) => {
    const name = CONSUMERS[index]!.name;
    return {
      label: name
        .split('-')
        .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
        .join(''),
      function: consumer.handler.function,
      queue: consumer.queue,
      deadLetterQueue: consumer.deadLetterQueue,
      metrics: { service: name, layer: name },
    };
  });
}
