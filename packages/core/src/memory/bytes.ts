// A body the in-memory broker keeps or hands out must be its own copy, so a caller that reuses its
// buffer cannot change a stored message. `Buffer.prototype.slice` returns a view, not a copy, and
// bodies are often Buffers (the wire encoder writes them), hence a copy that does not depend on
// which Uint8Array subclass came in.

export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
