import type { Request } from 'express';
import { z } from 'zod';
import { CallStatusSchema } from '../contracts/calls';
import { GatewayRejection, MAX_PAGE_SIZE, type CallListRequest } from '../gateway';

const DEFAULT_PAGE_SIZE = 50;

/** A filter given once, as a bounded string. */
const Filter = z.string().min(1).max(200);

const CallListQuery = z.strictObject({
  status: CallStatusSchema.optional(),
  tool: Filter.optional(),
  session: Filter.optional(),
  user: Filter.optional(),
  page_size: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  page_token: z.string().min(1).max(4096).optional(),
});

/** `GET /v1/tool-calls?status=&tool=&session=&user=&page_size=&page_token=`, checked at the boundary. */
export function callListRequestOf(req: Request): { request: CallListRequest; user?: string } {
  // An empty parameter (`status=`) means no filter, as forms send it.
  const given = Object.fromEntries(Object.entries(req.query).filter(([, value]) => value !== ''));
  const parsed = CallListQuery.safeParse(given);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? 'query')))];
    throw new GatewayRejection('INVALID_ARGUMENTS', `Invalid query parameter ${names.join(', ')}: status is one of ${CallStatusSchema.options.join(', ')}; page_size 1–${MAX_PAGE_SIZE}; each given once`);
  }
  const { status, tool, session, user, page_size, page_token } = parsed.data;
  return {
    request: {
      pageSize: page_size,
      ...(status ? { status } : {}),
      ...(tool ? { tool } : {}),
      ...(session ? { session } : {}),
      ...(page_token ? { pageToken: page_token } : {}),
    },
    ...(user ? { user } : {}),
  };
}
