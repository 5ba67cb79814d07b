import { describe, expect, it } from 'vitest';
import { SNS_MESSAGE_ID_HEADER, SNS_TOPIC_ARN_HEADER, unwrapSnsEnvelope } from '../../src/sns-envelope.js';

const topicArn = 'arn:aws:sns:us-east-1:123456789012:orders';

function envelope(fields: Record<string, unknown>): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: 'sns-1',
    TopicArn: topicArn,
    Message: '{"orderId":"o-1"}',
    Timestamp: '2026-01-02T03:04:05.678Z',
    SignatureVersion: '1',
    ...fields,
  });
}

describe('unwrapSnsEnvelope', () => {
  it('unwraps a notification: the original body, attributes as headers, the SNS timestamp', () => {
    const result = unwrapSnsEnvelope(
      envelope({
        Subject: 'hello',
        MessageAttributes: {
          'sy-type': { Type: 'String', Value: 'OrderPlaced' },
          traceparent: { Type: 'String', Value: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
          bin: { Type: 'Binary', Value: 'AQID' },
          'sy-headers': { Type: 'String', Value: '{"x-extra":"e"}' },
        },
      }),
    );
    expect(result).toEqual({
      kind: 'unwrapped',
      body: '{"orderId":"o-1"}',
      headers: {
        'sy-type': 'OrderPlaced',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        bin: 'AQID',
        'x-extra': 'e',
        [SNS_TOPIC_ARN_HEADER]: topicArn,
        [SNS_MESSAGE_ID_HEADER]: 'sns-1',
        'sns-subject': 'hello',
      },
      timestamp: Date.parse('2026-01-02T03:04:05.678Z'),
    });
  });

  it('leaves application messages alone, including JSON that merely mentions the fields', () => {
    for (const body of [
      'plain text',
      '{"orderId":1}',
      '[1,2]',
      '{"Type":"Notification"}',
      '{"TopicArn":1,"Type":"x"',
      'null',
    ])
      expect(unwrapSnsEnvelope(body), body).toEqual({ kind: 'not-envelope' });
    expect(unwrapSnsEnvelope(JSON.stringify({ Type: 'Notification', TopicArn: 42 }))).toEqual({ kind: 'not-envelope' });
  });

  it('calls out malformed envelopes with a reason', () => {
    const cases: [string, RegExp][] = [
      [envelope({ Message: 42 }), /without a string Message/],
      [envelope({ MessageId: undefined }), /without a string MessageId/],
      [envelope({ MessageAttributes: [] }), /MessageAttributes is not an object/],
      [envelope({ MessageAttributes: { a: { Type: 'String' } } }), /attribute 'a' lacks/],
      [envelope({ MessageAttributes: { 'sy-headers': { Type: 'String', Value: 'nope' } } }), /sy-headers/],
      [envelope({ Type: 'SubscriptionConfirmation' }), /confirm the subscription/],
      [envelope({ Type: 'Strange' }), /unknown Type/],
    ];
    for (const [body, reason] of cases) {
      const result = unwrapSnsEnvelope(body);
      expect(result.kind).toBe('malformed');
      if (result.kind === 'malformed') expect(result.reason).toMatch(reason);
    }
  });
});
