import { DeleteTopicCommand } from '@aws-sdk/client-sns';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { TestResources, uniqueName } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { runFanOut } from '../../examples/fan-out.js';
import { motoClients } from '../support/moto.js';

describe('the fan-out example on moto', () => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  it('routes each event to the services whose filter policy takes it, each through its own app', async () => {
    const { sns, sqs } = motoClients();
    const result = await runFanOut(sns, sqs, uniqueName('fan', { maxLength: 40 }));
    resources.track(async () => {
      await sns.send(new DeleteTopicCommand({ TopicArn: result.topicArn }));
      for (const QueueUrl of result.queueUrls) await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    });
    expect(result.handled.audit.sort()).toEqual(['o-1', 'o-2', 'o-2']);
    expect(result.handled.billing.sort()).toEqual(['o-1', 'o-2']);
    expect(result.handled.fraud.sort()).toEqual(['o-2', 'o-2']);
  });
});
