// Topic names -> ARNs: an ARN is used as it is; a name is the configured prefix plus the name, or
// looked up once with ListTopics.

import { ListTopicsCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SwitchyardError } from '@switchyard/core';

export function isTopicArn(value: string): boolean {
  return value.startsWith('arn:');
}

export function topicNameOf(nameOrArn: string): string {
  return isTopicArn(nameOrArn) ? nameOrArn.slice(nameOrArn.lastIndexOf(':') + 1) : nameOrArn;
}

export class TopicDirectory {
  readonly #client: SNSClient;
  readonly #prefix: string | undefined;
  readonly #arns = new Map<string, Promise<string>>();

  constructor(client: SNSClient, prefix: string | undefined) {
    this.#client = client;
    this.#prefix = prefix;
  }

  arnFor(nameOrArn: string): Promise<string> {
    if (isTopicArn(nameOrArn)) return Promise.resolve(nameOrArn);
    if (this.#prefix) return Promise.resolve(`${this.#prefix}${nameOrArn}`);
    let arn = this.#arns.get(nameOrArn);
    if (!arn) {
      arn = this.#lookUp(nameOrArn).catch((error: unknown) => {
        this.#arns.delete(nameOrArn);
        throw error;
      });
      this.#arns.set(nameOrArn, arn);
    }
    return arn;
  }

  async #lookUp(name: string): Promise<string> {
    let token: string | undefined;
    do {
      const page = await this.#client.send(new ListTopicsCommand(token ? { NextToken: token } : {}));
      const found = page.Topics?.find((t) => t.TopicArn !== undefined && topicNameOf(t.TopicArn) === name);
      if (found?.TopicArn) return found.TopicArn;
      token = page.NextToken;
    } while (token);
    throw new SwitchyardError(
      'SWITCHYARD_TRANSPORT',
      `SNS topic '${name}' does not exist: create it first (ensureTopic), or pass its ARN`,
      { retryable: false, details: { topic: name } },
    );
  }
}
