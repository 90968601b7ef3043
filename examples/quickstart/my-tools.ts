// A tool of your own, in TypeScript: declare it (zod in, zod out, scopes, budget), implement it, export it.
// Run it (from the repository root; in your own project, `npx holdline start --tools ./my-tools.ts`):
//   npx tsx src/cli/holdline.ts start --tools examples/quickstart/my-tools.ts --tools-file examples/quickstart/holdline.tools.yaml
import { z } from 'zod';
import { defineTool, implementTool, ToolFailure } from 'holdline';

export const bookTable = defineTool({
  name: 'book_table',
  description: 'Book a table at a restaurant for a party at a given time. Use when the caller wants to reserve a table.',
  input: z.strictObject({
    restaurant: z.string().trim().min(2).max(80).describe('The restaurant, as the caller names it'),
    party_size: z.number().int().min(1).max(12).describe('How many people'),
    time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time like 19:30').describe('Time of the booking, 24-hour HH:MM'),
  }),
  output: z.object({ booking_id: z.string(), restaurant: z.string(), party_size: z.number().int(), time: z.string() }),
  scopes: ['bookings:write'],
  sideEffect: 'write',
  // Callers wait up to 1 s for the result; then they get an ack ("working on it") and the
  // progress below, and the result when it comes. A 5 s silence means the worker died: retry.
  budget: { ackAfterMs: 1_000, timeoutMs: 20_000, heartbeatTimeoutMs: 5_000 },
  cancellable: true,
});

// Bookings by idempotency key. A real tool sends `ctx.idempotencyKey` to its booking system
// instead, so that a retried attempt finds the booking the first attempt made.
const bookings = new Map<string, z.infer<typeof bookTable.output>>();

const bookTableTool = implementTool(bookTable, async ({ restaurant, party_size, time }, ctx) => {
  const made = bookings.get(ctx.idempotencyKey);
  if (made) return made;

  ctx.progress({ stage: 'availability', pct: 20, message: `Checking tables at ${restaurant}` });
  await ctx.sleep(800); // stands in for the restaurant's API; throws if the caller cancels
  // A ToolFailure is the tool's own refusal: not retried, its message reaches the model.
  if (party_size > 8) throw new ToolFailure('FULLY_BOOKED', `${restaurant} has no table for ${party_size} at ${time}`);

  ctx.progress({ stage: 'holding', pct: 50, message: `Holding a table for ${party_size} at ${time}` });
  await ctx.sleep(800);
  ctx.progress({ stage: 'confirming', pct: 80, message: 'Waiting for the restaurant to confirm' });
  await ctx.sleep(800);
  const booking = { booking_id: `B-${bookings.size + 1001}`, restaurant, party_size, time };
  bookings.set(ctx.idempotencyKey, booking);
  return booking;
});

export default [bookTableTool];
