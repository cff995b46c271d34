import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.js';

const read = (context: Record<string, unknown>) => (key: string) => context[key];
const base = { webhookUrl: 'https://hooks.example.com/p' };

describe('parseConfig', () => {
  it('applies safe defaults', () => {
    // GIVEN only the required webhook
    // WHEN
    const config = parseConfig(read(base));
    // THEN
    expect(config).toMatchObject({
      stage: 'dev',
      ledgerStrategy: 'atomic',
      kmsKey: 'aws-managed',
      apiKey: false,
      memorySize: 512,
      consumerTimeoutSeconds: 30,
      maxReceiveCount: 5,
      relayRetryAttempts: 3,
      outboxSweepAgeSeconds: 1200,
    });
  });

  it('parses CLI-style string context (-c key=value)', () => {
    const config = parseConfig(
      read({ ...base, stage: 'prod', apiKey: 'true', memorySize: '1024', ledgerStrategy: 'watermark', kmsKey: 'customer-managed' }),
    );
    expect(config).toMatchObject({ stage: 'prod', apiKey: true, memorySize: 1024, ledgerStrategy: 'watermark', kmsKey: 'customer-managed' });
  });

  it('accepts a plain-http local webhook', () => {
    expect(parseConfig(read({ webhookUrl: 'http://127.0.0.1:4000/hook' })).webhookUrl).toBe('http://127.0.0.1:4000/hook');
  });

  it('throws when webhookUrl is missing', () => {
    expect(() => parseConfig(read({}))).toThrow(/Invalid context "webhookUrl": is required/);
  });

  it('throws when webhookUrl is not an http(s) URL', () => {
    expect(() => parseConfig(read({ webhookUrl: 'not a url' }))).toThrow(/"not a url" is not a URL/);
    expect(() => parseConfig(read({ webhookUrl: 'ftp://x.example.com/' }))).toThrow(/must use http or https, not ftp:/);
  });

  it('throws on an unknown stage, strategy or key mode', () => {
    expect(() => parseConfig(read({ ...base, stage: 'staging' }))).toThrow(/"staging" is not one of dev \| prod/);
    expect(() => parseConfig(read({ ...base, ledgerStrategy: 'magic' }))).toThrow(/"magic" is not one of atomic/);
    expect(() => parseConfig(read({ ...base, kmsKey: 'mine' }))).toThrow(/"mine" is not one of aws-managed \| customer-managed/);
  });

  it('throws on a number outside its range', () => {
    expect(() => parseConfig(read({ ...base, memorySize: '64' }))).toThrow(/"memorySize": "64" must be an integer from 128 to 10240/);
    expect(() => parseConfig(read({ ...base, consumerTimeoutSeconds: '1.5' }))).toThrow(/consumerTimeoutSeconds/);
  });

  it('throws on a malformed boolean', () => {
    expect(() => parseConfig(read({ ...base, apiKey: 'yes' }))).toThrow(/"apiKey": "yes" must be true or false/);
  });

  it('rejects a malformed alarm email or topic ARN, and both together', () => {
    expect(() => parseConfig(read({ ...base, alarmEmail: 'nobody' }))).toThrow(/"nobody" is not an email address/);
    expect(() => parseConfig(read({ ...base, alarmTopicArn: 'arn:aws:s3:::bucket' }))).toThrow(/is not an SNS topic ARN/);
    expect(() =>
      parseConfig(read({ ...base, alarmEmail: 'ops@example.com', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' })),
    ).toThrow(/cannot be combined with alarmTopicArn/);
  });
});
