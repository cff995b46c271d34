import { Duration, Token } from 'aws-cdk-lib';

/**
 * The time windows of the pipeline, chosen together (issue 6): how long a duplicate can still arrive, and how long
 * each layer remembers what it already did.
 *
 * A duplicate of a message can reach a consumer as long as the message (or a copy in the DLQ) exists: the source
 * queue's retention plus the redrive window (how long a dead-lettered message may wait before an operator redrives
 * it, at most the DLQ's retention). A dedup record that expires earlier lets that late duplicate apply twice.
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
 */

/** SQS FIFO remembers a MessageDeduplicationId for 5 minutes only (F2); a later re-send is delivered again. */
export const FIFO_DEDUP_WINDOW = Duration.minutes(5);

/** SQS default message retention. */
export const DEFAULT_QUEUE_RETENTION = Duration.days(4);

/** Dead-letter queues keep messages for the SQS maximum, 14 days, so an operator has time to redrive. */
export const DLQ_RETENTION = Duration.days(14);

/** Margin added to the computed dedup lifetime (TTL deletion is late, never early; this covers clock skew). */
export const DEDUP_TTL_MARGIN = Duration.days(1);

/** The smallest dedup-record lifetime that is safe for a queue: retention + redrive window. */
export function minimumDedupTtl(retention: Duration, redriveWindow: Duration): Duration {
  return Duration.seconds(retention.toSeconds() + redriveWindow.toSeconds());
}

/** The default dedup-record lifetime: {@link minimumDedupTtl} plus {@link DEDUP_TTL_MARGIN}. */
export function defaultDedupTtl(retention: Duration, redriveWindow: Duration): Duration {
  return Duration.seconds(minimumDedupTtl(retention, redriveWindow).toSeconds() + DEDUP_TTL_MARGIN.toSeconds());
}

/** Human form of a duration for error messages: `345600 s (4 days)`. */
export function describeDuration(duration: Duration): string {
  if (duration.isUnresolved()) return '<token>';
  const seconds = duration.toSeconds();
  const units: Array<[number, string]> = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${seconds} s (${n} ${unit}${n === 1 ? '' : 's'})`;
    }
  }
  return `${seconds} s`;
}

/** True when every given value is known at synth time (validation skips unresolved tokens). */
export function allResolved(...values: Array<Duration | number | string | undefined>): boolean {
  return values.every((v) => {
    if (v === undefined) return true;
    if (v instanceof Duration) return !v.isUnresolved();
    return !Token.isUnresolved(v);
  });
}
