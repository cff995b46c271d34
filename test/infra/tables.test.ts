import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { HandlerFunction } from '../../lib/constructs/handler-function.js';
import { IdempotencyTable, LedgerTable } from '../../lib/constructs/tables.js';
import { fixtureEntry, newStack } from './support.js';

describe('IdempotencyTable', () => {
  it('is the Powertools layout: pk id, TTL expiration, on-demand, PITR, encrypted', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    new IdempotencyTable(stack, 'Idempotency');
    // THEN
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('retains the table with deletion protection by default', () => {
    const stack = newStack();
    new IdempotencyTable(stack, 'Idempotency');
    Template.fromStack(stack).hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('can be destroyed for a dev stage', () => {
    const stack = newStack();
    new IdempotencyTable(stack, 'Idempotency', { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(stack).hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  it('grants exactly the Powertools actions and sets IDEMPOTENCY_TABLE_NAME', () => {
    const stack = newStack();
    const table = new IdempotencyTable(stack, 'Idempotency');
    const fn = new HandlerFunction(stack, 'Fn', { entry: fixtureEntry() });
    table.grantIdempotency(fn.function);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
            Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Idempotency'), 'Arn'] }]),
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ IDEMPOTENCY_TABLE_NAME: { Ref: Match.stringLikeRegexp('^Idempotency') } }) },
    });
  });
});

describe('LedgerTable', () => {
  it('is the single-table layout: pk/sk, TTL expiresAt, NEW_IMAGE stream, PITR, encrypted', () => {
    const stack = newStack();
    new LedgerTable(stack, 'Ledger');
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('takes NEW_AND_OLD_IMAGES and a customer-managed key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new LedgerTable(stack, 'Ledger', { stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, encryptionKey: key });
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } },
    });
  });

  it('grants the atomic consumer\'s actions by default (BatchGetItem, PutItem, UpdateItem) and GetItem only for readers', () => {
    const stack = newStack();
    const ledger = new LedgerTable(stack, 'Ledger');
    const writer = new HandlerFunction(stack, 'Writer', { entry: fixtureEntry() });
    const reader = new HandlerFunction(stack, 'Reader', { entry: fixtureEntry() });
    ledger.grantLedgerWrite(writer.function);
    ledger.grantLedgerRead(reader.function);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^WriterRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^ReaderRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'dynamodb:GetItem' })]) },
    });
  });

  it('grants exactly the item actions given, and only the key\'s read actions to a reader', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const ledger = new LedgerTable(stack, 'Ledger', { encryptionKey: key });
    const writer = new HandlerFunction(stack, 'Writer', { entry: fixtureEntry() });
    const reader = new HandlerFunction(stack, 'Reader', { entry: fixtureEntry() });
    ledger.grantLedgerWrite(writer.function, ['UpdateItem']);
    ledger.grantLedgerRead(reader.function);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^WriterRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'dynamodb:UpdateItem' }),
          Match.objectLike({ Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'] }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^ReaderRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: ['kms:Decrypt', 'kms:DescribeKey'] })]),
      },
    });
  });

  it.each([[[]], [['dynamodb:PutItem']], [['Scan', 'PutItem']]])('throws for grantLedgerWrite actions %j, naming the allowed ones', (actions) => {
    const stack = newStack();
    const ledger = new LedgerTable(stack, 'Ledger');
    const writer = new HandlerFunction(stack, 'Writer', { entry: fixtureEntry() });
    expect(() => ledger.grantLedgerWrite(writer.function, actions as never)).toThrow(
      /grantLedgerWrite\(.*Writer.*\) got actions .*(is not a ledger item action|the list is empty).*BatchGetItem, GetItem/,
    );
  });
});
