import { App, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { describe, expect, it } from 'vitest';
import type { FunctionInvoker, InvokeResult } from '../../../local/lambda/types.js';
import { parseScheduleExpression, readSchedules, startSchedules } from '../../../local/schedules/index.js';
import { TemplateResolver } from '../../../local/template/resolver.js';

const at = (iso: string) => new Date(iso);
const start = at('2026-12-01T10:00:00.000Z');

describe('parseScheduleExpression', () => {
  it('fires rate() one period after the start, then every period', () => {
    const rate = parseScheduleExpression('rate(5 minutes)');
    expect(rate.nextAfter(start, start)).toEqual(at('2026-12-01T10:05:00.000Z'));
    expect(rate.nextAfter(at('2026-12-01T10:07:30.000Z'), start)).toEqual(at('2026-12-01T10:10:00.000Z'));
    expect(parseScheduleExpression('rate(1 day)').nextAfter(start, start)).toEqual(at('2026-12-02T10:00:00.000Z'));
  });

  it('fires cron() at the next matching minute in UTC (lists, ranges, steps, names, ?)', () => {
    expect(parseScheduleExpression('cron(0/15 * * * ? *)').nextAfter(at('2026-12-01T10:07:00.000Z'), start)).toEqual(at('2026-12-01T10:15:00.000Z'));
    expect(parseScheduleExpression('cron(30 6 ? * MON-FRI *)').nextAfter(at('2026-12-04T07:00:00.000Z'), start)).toEqual(
      at('2026-12-07T06:30:00.000Z'), // Friday 07:00 → Monday 06:30
    );
    expect(parseScheduleExpression('cron(0 0 1 JAN,JUL ? *)').nextAfter(start, start)).toEqual(at('2027-01-01T00:00:00.000Z'));
    expect(parseScheduleExpression('cron(0 12 * * ? 2025)').nextAfter(start, start)).toBeUndefined();
  });

  it('rejects malformed expressions and the cron features it does not emulate, naming the expression', () => {
    expect(() => parseScheduleExpression('rate(5 minute)')).toThrow(/"rate\(5 minute\)".*singular unit for 1 and the plural otherwise/);
    expect(() => parseScheduleExpression('rate(2 weeks)')).toThrow(/unit "weeks" must be minute\(s\), hour\(s\) or day\(s\)/);
    expect(() => parseScheduleExpression('cron(0 12 * * *)')).toThrow(/cron needs 6 fields/);
    expect(() => parseScheduleExpression('cron(0 12 * * * *)')).toThrow(/exactly one of day-of-month and day-of-week must be "\?"/);
    expect(() => parseScheduleExpression('cron(0 12 L * ? *)')).toThrow(/uses L, W or #, which the local runtime does not emulate/);
    expect(() => parseScheduleExpression('cron(61 12 * * ? *)')).toThrow(/minutes value "61" must be 0-59/);
    expect(() => parseScheduleExpression('every 5 minutes')).toThrow(/must be rate\(value unit\), cron\(fields\)/);
  });
});

/** A template with an EventBridge rule (two targets: a function and something else) and a Scheduler schedule. */
function scheduledTemplate() {
  const app = new App();
  const stack = new Stack(app, 'Scheduled');
  const fn = new lambda.Function(stack, 'Sweeper', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('x') });
  new events.Rule(stack, 'Every5', { schedule: events.Schedule.rate(Duration.minutes(5)), targets: [new targets.LambdaFunction(fn)] });
  new scheduler.CfnSchedule(stack, 'Nightly', {
    scheduleExpression: 'cron(0 2 * * ? *)',
    flexibleTimeWindow: { mode: 'OFF' },
    target: { arn: fn.functionArn, roleArn: 'arn:aws:iam::000000000000:role/scheduler', input: '{"replay":true}' },
  });
  new events.Rule(stack, 'Pattern', { eventPattern: { source: ['x'] }, targets: [new targets.LambdaFunction(fn)] });
  const template = app.synth().getStackByName('Scheduled').template;
  const resolver = new TemplateResolver(template, {
    stackName: 'Scheduled',
    region: 'us-east-1',
    accountId: '000000000000',
    partition: 'aws',
    sqsEndpoint: 'http://127.0.0.1:9',
  });
  const fnId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::Lambda::Function')!;
  const fnArn = String(resolver.identity(fnId).attributes.Arn);
  return { resolver, fnArn };
}

describe('readSchedules + startSchedules', () => {
  it('reads EventBridge schedule rules and Scheduler schedules that target a local function (not event-pattern rules)', () => {
    const { resolver, fnArn } = scheduledTemplate();
    const { schedules } = readSchedules(resolver, 'us-east-1', new Set([fnArn]));
    expect(schedules.map((s) => [s.kind, s.schedule.expression, s.functionArn, s.input])).toEqual([
      ['AWS::Events::Rule', 'rate(5 minutes)', fnArn, undefined],
      ['AWS::Scheduler::Schedule', 'cron(0 2 * * ? *)', fnArn, { replay: true }],
    ]);
  });

  it('trigger(id) invokes the target now with a Scheduled Event (or the target Input), and refuses an unknown id', async () => {
    const { resolver, fnArn } = scheduledTemplate();
    const { schedules } = readSchedules(resolver, 'us-east-1', new Set([fnArn]));
    const received: unknown[] = [];
    const invoker: FunctionInvoker = {
      functionName: 'sweeper',
      arn: fnArn,
      timeoutSeconds: 3,
      invoke: async (event): Promise<InvokeResult> => {
        received.push(event);
        return { ok: true, payload: null, timedOut: false, durationMs: 1, requestId: 'r' };
      },
    };
    const running = startSchedules({ schedules, invokers: new Map([[fnArn, invoker]]), region: 'us-east-1', accountId: '000000000000', timers: false });
    try {
      await running.trigger(schedules[0]!.logicalId);
      await running.trigger(schedules[1]!.logicalId);
      expect(received[0]).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [expect.stringMatching(/^arn:aws:events:us-east-1:000000000000:rule\//)] });
      expect(received[1]).toEqual({ replay: true });
      expect(running.list().map((s) => s.firings)).toEqual([1, 1]);
      await expect(running.trigger('Nope')).rejects.toThrow(/no schedule "Nope" in the template; known: /);
    } finally {
      running.stop();
    }
  });

  it('fires on its timer when the time comes', async () => {
    const fireAt = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
    const schedule = parseScheduleExpression(`at(${fireAt.toISOString().slice(0, 19)})`);
    let fired = 0;
    const invoker: FunctionInvoker = {
      functionName: 'f',
      arn: 'arn:f',
      timeoutSeconds: 3,
      invoke: async () => {
        fired += 1;
        return { ok: true, timedOut: false, durationMs: 1, requestId: 'r' };
      },
    };
    const running = startSchedules({
      schedules: [{ logicalId: 'Once', kind: 'AWS::Scheduler::Schedule', name: 'once', arn: 'arn:s', schedule, functionArn: 'arn:f', enabled: true }],
      invokers: new Map([['arn:f', invoker]]),
      region: 'us-east-1',
      accountId: '000000000000',
    });
    try {
      expect(running.list()[0]?.nextAt).toEqual(fireAt);
      await new Promise((resolve) => setTimeout(resolve, fireAt.getTime() - Date.now() + 500));
      expect(fired).toBe(1);
    } finally {
      running.stop();
    }
  });
});
