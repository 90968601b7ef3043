/**
 * Reads a response body up to a limit. The body is consumed as it arrives and
 * the connection is dropped as soon as the limit is passed, so an endpoint
 * that answers gigabytes costs at most `limit` bytes of memory.
 */
export type BoundedBody = { kind: 'body'; bytes: Buffer } | { kind: 'too-large'; read: number };

export async function readBounded(response: Response, limit: number): Promise<BoundedBody> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => {});
    return { kind: 'too-large', read: 0 };
  }
  if (!response.body) return { kind: 'body', bytes: Buffer.alloc(0) };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let read = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.byteLength;
    if (read > limit) {
      await reader.cancel().catch(() => {});
      return { kind: 'too-large', read };
    }
    chunks.push(value);
  }
  return { kind: 'body', bytes: Buffer.concat(chunks) };
}

/** Drops a body nobody reads, so the connection is released. */
export async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

export type ParsedJson = { ok: true; value: unknown } | { ok: false };

export function parseJson(bytes: Buffer): ParsedJson {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}
