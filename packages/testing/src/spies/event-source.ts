import type { SwitchyardEventName, SwitchyardEvents } from '@switchyard/core';

/**
 * Anything that emits Switchyard's typed events: `app.events`, a `TypedEvents<SwitchyardEvents>`,
 * or a Node EventEmitter carrying the same payloads. `on` may return an unsubscribe function;
 * otherwise `off` is used to detach.
 */
export interface SwitchyardEventSource {
  on<K extends SwitchyardEventName>(name: K, listener: (payload: SwitchyardEvents[K]) => void): unknown;
  off?<K extends SwitchyardEventName>(name: K, listener: (payload: SwitchyardEvents[K]) => void): unknown;
}

/** Subscribe and return the way to unsubscribe, whichever style the source offers. */
export function listen<K extends SwitchyardEventName>(
  source: SwitchyardEventSource,
  name: K,
  listener: (payload: SwitchyardEvents[K]) => void,
): () => void {
  const returned = source.on(name, listener);
  if (typeof returned === 'function') return () => void returned();
  return () => void source.off?.(name, listener);
}
