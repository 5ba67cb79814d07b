// Header maps are plain objects keyed by names that come off the wire, and `__proto__` is a valid
// Kafka header and SQS attribute name. Assigning it sets the object's prototype instead of adding a
// header, so the header vanished; every map built from untrusted names goes through setHeader.

/** Adds `name: value` as an own property, `__proto__` included. */
export function setHeader<V>(headers: Record<string, V>, name: string, value: V): void {
  if (name === '__proto__')
    Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  else headers[name] = value;
}
