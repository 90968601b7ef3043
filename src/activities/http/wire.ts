import { createHash } from 'node:crypto';
import type { ToolCallMeta } from '../../contracts/tool-call';

/**
 * What Holdline puts on the wire for a call: the headers every request of an
 * attempt carries, the W3C trace context, and arguments as a query string.
 * Pure functions of the call, so every attempt and every poll of a job says
 * the same thing about who and what it is for.
 */

/** The call an HTTP request is made for. */
export interface CallOnTheWire extends Pick<ToolCallMeta, 'callId' | 'idempotencyKey' | 'traceId' | 'tenantId' | 'userId'> {
  attempt: number;
}

/**
 * A W3C `traceparent` (version 00, sampled) derived from the call's trace id:
 * the same trace id across attempts, one parent id per attempt. A trace id
 * that already is 32 lowercase hex digits (not all zero) is kept as it is.
 */
export function traceparentOf(traceId: string, callId: string, attempt: number): string {
  const trace = /^[0-9a-f]{32}$/.test(traceId) && !/^0+$/.test(traceId) ? traceId : nonZeroHex(`trace\n${traceId}`, 32);
  const parent = nonZeroHex(`span\n${traceId}\n${callId}\n${attempt}`, 16);
  return `00-${trace}-${parent}-01`;
}

function nonZeroHex(seed: string, length: number): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, length);
  // All zeros is invalid in a traceparent; a hash gives it with probability 2^-64 or less.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/**
 * A header value any HTTP stack accepts: characters outside visible ASCII,
 * and `%` itself, are percent-encoded (UTF-8), so `decodeURIComponent` always
 * gives the original back and plain values pass unchanged.
 */
export function headerSafe(value: string): string {
  return value.replace(/[^\x21-\x24\x26-\x7e]/gu, (char) => {
    try {
      return encodeURIComponent(char);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: U+FFFD, as a UTF-8 encoder writes it
    }
  });
}

/** The headers Holdline sets on every request of an attempt (the tool's own headers come first and cannot override them). */
export function callHeadersOf(call: CallOnTheWire): Record<string, string> {
  return {
    'idempotency-key': headerSafe(call.idempotencyKey),
    traceparent: traceparentOf(call.traceId, call.callId, call.attempt),
    'holdline-trace-id': headerSafe(call.traceId),
    'holdline-tenant': headerSafe(call.tenantId),
    'holdline-user': headerSafe(call.userId),
    'holdline-call-id': headerSafe(call.callId),
    'holdline-attempt': String(call.attempt),
    accept: 'application/json',
  };
}

/**
 * Arguments as a query string, for GET and DELETE: strings, numbers and
 * booleans as they print; an array as the key repeated, once per element;
 * an object (or an array's object element) as its JSON; null and undefined
 * left out. Keys in the order the arguments give them.
 */
export function queryOf(args: Readonly<Record<string, unknown>>): URLSearchParams {
  const query = new URLSearchParams();
  const add = (key: string, value: unknown) => {
    if (value === null || value === undefined) return;
    query.append(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  };
  for (const [key, value] of Object.entries(args)) {
    if (Array.isArray(value)) for (const element of value) add(key, element);
    else add(key, value);
  }
  return query;
}

/** The tool's URL with the arguments' query appended to any query it already has. */
export function urlWithQuery(url: string, args: Readonly<Record<string, unknown>>): string {
  const target = new URL(url);
  for (const [key, value] of queryOf(args)) target.searchParams.append(key, value);
  return target.toString();
}
