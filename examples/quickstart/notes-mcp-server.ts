// A small MCP server (stdio), written with the MCP TypeScript SDK as any MCP server is.
// Holdline starts it as a child process: holdline.tools.yaml runs `node --import tsx examples/quickstart/notes-mcp-server.ts`
// from the directory Holdline starts in. To try it alone: npx @modelcontextprotocol/inspector node --import tsx examples/quickstart/notes-mcp-server.ts
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

interface Note {
  id: string;
  text: string;
}

const notes: Note[] = [
  { id: 'n-1', text: 'The Lisbon office closes at 18:00 on Fridays.' },
  { id: 'n-2', text: 'Refunds over 500 EUR need a manager.' },
];
/** Notes added, by the idempotency key Holdline sends in `_meta`: a retried call adds nothing twice. */
const addedByKey = new Map<string, Note>();

const server = new McpServer({ name: 'notes', version: '1.0.0' });

server.registerTool(
  'search_notes',
  {
    description: 'Search the team notes for a word or phrase.',
    inputSchema: { query: z.string().min(1).describe('Word or phrase to look for') },
    outputSchema: { notes: z.array(z.object({ id: z.string(), text: z.string() })) },
    // Read-only: Holdline treats it as a read tool (no approval, cancellable).
    annotations: { readOnlyHint: true },
  },
  async ({ query }) => {
    const found = notes.filter((note) => note.text.toLowerCase().includes(query.toLowerCase()));
    return { content: [{ type: 'text', text: found.map((note) => note.text).join('\n') || 'No notes match.' }], structuredContent: { notes: found } };
  },
);

server.registerTool(
  'add_note',
  {
    description: 'Add a note for the team.',
    inputSchema: { text: z.string().min(1).max(500).describe('The note') },
    // Writes, but destroys nothing: Holdline runs it without asking for approval.
    annotations: { readOnlyHint: false, destructiveHint: false },
  },
  async ({ text }, extra) => {
    const key = extra._meta?.['holdline/idempotency_key'];
    const earlier = typeof key === 'string' ? addedByKey.get(key) : undefined;
    const note = earlier ?? { id: `n-${notes.length + 1}`, text };
    if (!earlier) {
      notes.push(note);
      if (typeof key === 'string') addedByKey.set(key, note);
    }
    return { content: [{ type: 'text', text: `Added note ${note.id}` }], structuredContent: { ...note } };
  },
);

server.registerTool(
  'delete_note',
  {
    description: 'Delete a note.',
    inputSchema: { id: z.string() },
    annotations: { destructiveHint: true },
  },
  async ({ id }) => {
    const at = notes.findIndex((note) => note.id === id);
    if (at < 0) return { isError: true, content: [{ type: 'text', text: `No note ${id}` }] };
    notes.splice(at, 1);
    return { content: [{ type: 'text', text: `Deleted note ${id}` }] };
  },
);

server.connect(new StdioServerTransport()).catch((error: unknown) => {
  // stdout carries the protocol: anything for people goes to stderr.
  console.error(`notes MCP server could not start: ${(error as Error).message}`);
  process.exit(1);
});
