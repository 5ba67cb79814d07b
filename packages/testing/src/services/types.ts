// The shapes shared by every service provider (containers, local processes, external endpoints)
// and by the environment command: what a test needs to reach a service, and the handles that
// let fault-injection tests stop, restart or freeze one.

export const ServiceNames = ['kafka', 'sqs', 'sns', 'sqsMoto', 'redis', 'postgres'] as const;
export type ServiceName = (typeof ServiceNames)[number];

export const ProviderNames = ['containers', 'local', 'external'] as const;
export type ProviderName = (typeof ProviderNames)[number];
export type ProviderChoice = ProviderName | 'auto';

export interface KafkaEndpoint {
  readonly brokers: readonly string[];
}

export interface AwsEndpoint {
  /** Base URL for the AWS SDK's `endpoint` option, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  readonly region: string;
  /** The account id the emulator puts in queue URLs and ARNs. */
  readonly accountId: string;
}

export interface UrlEndpoint {
  readonly url: string;
}

/**
 * Where each service answers. `sqs` is ElasticMQ (the SQS emulator with the most faithful
 * semantics); `sns` and `sqsMoto` are one moto server, because SNS only delivers to queues
 * that live in the same server.
 */
export interface Endpoints {
  kafka?: KafkaEndpoint;
  sqs?: AwsEndpoint;
  sns?: AwsEndpoint;
  sqsMoto?: AwsEndpoint;
  redis?: UrlEndpoint;
  postgres?: UrlEndpoint;
}

export type EndpointOf<N extends ServiceName> = NonNullable<Endpoints[N]>;

/** Fault hooks for one running service. */
export interface ServiceHandle {
  readonly service: ServiceName;
  /** Operating-system pid of the server process (local provider only). */
  readonly pid: number | undefined;
  /** Stops the server; its endpoint refuses connections until `restart()`. */
  stop(): Promise<void>;
  /**
   * Starts it again on the same address. Kafka and Postgres keep their data; ElasticMQ, moto
   * and Redis come back empty (they keep state in memory only).
   */
  restart(): Promise<void>;
  /** Freezes the server (SIGSTOP / `docker pause`): connections stay open but nothing answers. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** What `env:down` (or a reaper) needs to clean up a run started by another process. */
export interface ServicesRecord {
  readonly version: 1;
  readonly provider: ProviderName;
  readonly endpoints: Endpoints;
  readonly startedAt: string;
  /** Local provider: every server process by pid (its working folder lies inside `runDir`). */
  readonly processes: readonly { readonly server: string; readonly pid: number; readonly stopSignal: NodeJS.Signals }[];
  /** Local provider: the run folder holding configs, data and logs; removed on stop. */
  readonly runDir: string | undefined;
  /** Containers provider: container ids, removed on stop. */
  readonly containers: readonly string[];
}

export interface RunningServices {
  readonly provider: ProviderName;
  readonly endpoints: Endpoints;
  readonly kafka?: ServiceHandle;
  readonly sqs?: ServiceHandle;
  readonly sns?: ServiceHandle;
  readonly sqsMoto?: ServiceHandle;
  readonly redis?: ServiceHandle;
  readonly postgres?: ServiceHandle;
  /** A serialisable description, for `env:down` in another process. */
  record(): ServicesRecord;
  /** Stops every process or container this object started and removes its data. Idempotent. */
  stop(): Promise<void>;
}

export interface StartServicesOptions {
  /** Which services to start. Default: all of them. */
  readonly services?: readonly ServiceName[];
  /** Default: `SWITCHYARD_TEST_SERVICES`, else `auto` (containers when an engine answers, else local). */
  readonly provider?: ProviderChoice;
  /** Progress lines (install costs, ports, start times). Default: written to stderr. */
  readonly log?: (line: string) => void;
  /**
   * Leave the services running after this process exits (used by `env:up`). Without it a
   * watchdog process kills them if this process dies without calling `stop()`.
   */
  readonly detached?: boolean;
  /** Environment to read settings from. Default: `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}
