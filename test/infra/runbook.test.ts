import { readFileSync } from 'node:fs';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { PipelineMonitoring } from '../../lib/constructs/pipeline-monitoring.js';
import { QueueConsumer } from '../../lib/constructs/queue-consumer.js';
import { fixtureEntry, newStack, paymentsStack } from './support.js';

/** GitHub's heading anchors of lib/README.md (lower case, spaces to dashes, punctuation dropped). */
function runbookAnchors(): Set<string> {
  const text = readFileSync(new URL('../../lib/README.md', import.meta.url), 'utf8');
  return new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}

function linkedSections(template: Template): { alarm: string; section: string }[] {
  return Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, alarm]) => {
    const description = String((alarm as { Properties: { AlarmDescription: string } }).Properties.AlarmDescription);
    const match = /Runbook: lib\/README\.md#([^\s]+)$/.exec(description);
    return { alarm: id, section: match?.[1] ?? '(no runbook link)' };
  });
}

/** A stack with no ledger: one consumer watched by PipelineMonitoring, as another app would use it. */
function ordersOnly() {
  const stack = newStack();
  const consumer = new QueueConsumer(stack, 'Orders', { entry: fixtureEntry('ledger'), fifo: true });
  const monitoring = new PipelineMonitoring(stack, 'Monitoring', {
    topic: new sns.Topic(stack, 'Topic'),
    functions: [],
    queues: [],
    deadLetterQueues: [],
    streamConsumers: [],
    consumers: [
      {
        label: 'Orders',
        function: consumer.handler.function,
        queue: consumer.queue,
        deadLetterQueue: consumer.deadLetterQueue,
        metrics: { service: 'orders', layer: 'orders' },
      },
    ],
    oldestMessageAgeThreshold: Duration.minutes(10),
  });
  return { stack, monitoring, template: Template.fromStack(stack) };
}

describe('runbook links', () => {
  it('links every alarm of the payments stack to a section that exists in lib/README.md', () => {
    const anchors = runbookAnchors();
    const broken = linkedSections(paymentsStack().template).filter((l) => !anchors.has(l.section));
    expect(broken).toEqual([]);
  });

  it('links every alarm of a consumer watched without a ledger to a section that exists', () => {
    const anchors = runbookAnchors();
    const links = linkedSections(ordersOnly().template);
    expect(links.length).toBeGreaterThanOrEqual(5);
    expect(links.filter((l) => !anchors.has(l.section))).toEqual([]);
  });

  it('can fail: a section missing from the runbook is reported', () => {
    const anchors = runbookAnchors();
    expect(anchors.has('ordersdlqnotempty')).toBe(false); // the link issue 12 found broken
    expect(anchors.has('consumer-dlq-not-empty')).toBe(true);
  });
});

describe('PipelineMonitoring without a ledger', () => {
  it('gives a consumer its DLQ, queue-age, errors, throttles and duplicate-rate alarms under its own name, and its metrics', () => {
    const { monitoring, template } = ordersOnly();
    expect(Object.keys(monitoring.alarms).sort()).toEqual(
      ['OrdersDlqNotEmpty', 'OrdersDuplicateRateSpike', 'OrdersErrors', 'OrdersOldestMessageAge', 'OrdersThrottles'].sort(),
    );
    const rate = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find((a) =>
      JSON.stringify(a).includes('duplicate rate'),
    ) as { Properties: { Metrics: { MetricStat?: { Metric: { MetricName: string; Dimensions: { Name: string; Value: string }[] } } }[] } };
    const metrics = rate.Properties.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []));
    expect(metrics.map((m) => m.MetricName).sort()).toEqual(['DuplicatesSkipped', 'EffectsApplied']);
    for (const m of metrics) expect(m.Dimensions).toEqual(expect.arrayContaining([{ Name: 'service', Value: 'orders' }]));
  });

  it('throws when a consumer label cannot name alarms', () => {
    const stack = newStack();
    const consumer = new QueueConsumer(stack, 'Orders', { entry: fixtureEntry('ledger') });
    expect(
      () =>
        new PipelineMonitoring(stack, 'Monitoring', {
          topic: new sns.Topic(stack, 'Topic'),
          functions: [],
          queues: [],
          deadLetterQueues: [],
          streamConsumers: [],
          consumers: [{ label: 'orders-x', function: consumer.handler.function, queue: consumer.queue, deadLetterQueue: consumer.deadLetterQueue, metrics: { service: 'o', layer: 'o' } }],
        }),
    ).toThrow(/consumer label "orders-x" must be PascalCase/);
  });
});
