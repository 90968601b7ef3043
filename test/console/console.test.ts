import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { startHarness, type Harness } from '../support/harness';
import { TEST_SCOPES } from '../support/test-tools';
import { waitFor } from '../support/wait';
import { createConsoleTools } from './console-tools';

/**
 * The operator console in a real browser (Debian's chromium, driven by
 * playwright-core) against a real Holdline on the suite's Temporal. Each test
 * saves a screenshot and checks the page by its accessible structure.
 */
// Functions passed to page.evaluate run in the page; the root project has no DOM types, so these are named here.
declare const document: any;
declare const sessionStorage: any;
declare const getComputedStyle: any;
declare const window: any;
declare const requestAnimationFrame: any;
declare const PerformanceObserver: any;

const SHOTS = join(__dirname, 'screenshots');
const README_SHOT = join(__dirname, '..', '..', 'docs', 'console.png');
/** The suite's dev server runs without its Web UI; the server only reports the address it is told. */
const TEMPORAL_UI = 'http://127.0.0.1:8233';

let harness: Harness;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [harness, browser] = await Promise.all([
    // Refunds take about 3 s (three stages of 1 s), reporting progress every 100 ms: slow enough to watch.
    startHarness({ refundTimings: { stageMs: 1_000, progressEveryMs: 100 }, tools: createConsoleTools(), temporalUiUrl: TEMPORAL_UI, limits: { sessionMaxInFlight: 100 }, backendTimeoutMs: 5_000 }),
    chromium.launch({ executablePath: '/usr/bin/chromium' }),
  ]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await harness?.stop();
});

interface PageOptions {
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
}

/** A fresh browser context (its own sessionStorage) on the console. */
async function openConsole(options: PageOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
  const page = await context.newPage();
  page.on('pageerror', (error) => {
    throw new Error(`the console threw: ${error.message}`);
  });
  await page.goto(harness.url);
  return page;
}

/** Signs in by pasting a token minted for the user. */
async function signIn(page: Page, who: { user: string; tenant?: string; scopes?: string[] }): Promise<void> {
  const tenant = who.tenant ?? 'acme';
  await page.getByLabel('Access token').fill(await harness.token({ tenant, user: who.user, scopes: who.scopes ?? TEST_SCOPES }));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signedInAs(page, who.user, tenant);
}

const signedInAs = (page: Page, user: string, tenant: string) => page.locator('header.top .who').filter({ hasText: `Signed in as ${user} of ${tenant}` }).waitFor();

/** Every line must appear in the page's accessibility tree (playwright's aria snapshot). */
async function expectStructure(scope: Page | Locator, lines: string[]): Promise<void> {
  const tree = await ('locator' in scope && typeof (scope as Page).goto === 'function' ? (scope as Page).locator('body') : (scope as Locator)).ariaSnapshot();
  for (const line of lines) expect(tree).toContain(line);
}

/** The element's text holds each piece (JSON shown in a region, say). */
async function expectText(scope: Locator, pieces: string[]): Promise<void> {
  const text = (await scope.innerText()).replace(/\s+/g, ' ');
  for (const piece of pieces) expect(text).toContain(piece);
}

const shoot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

const livePanel = (page: Page) => page.getByRole('region', { name: 'Live calls' });
/** A cell naming the console's own talk session: picks its conversation's rows from a live list other suites' calls share. */
const ownSessionCell = async (page: Page) => page.locator(`td[title="${await page.evaluate(() => sessionStorage.getItem('holdline.talk.session'))}"]`);
const historyPanel = (page: Page) => page.getByRole('region', { name: 'History' });
const conversation = (page: Page) => page.getByRole('list', { name: 'Conversation' });

async function startConversation(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Start a conversation' }).click();
  await page.getByRole('status').filter({ hasText: /^Connected · session / }).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message').fill(text);
  await page.getByLabel('Message').press('Enter');
}

describe('operator console', () => {
  it('is served by Holdline itself: nothing from another origin, assets under 300 KB compressed', async () => {
    const page = await openConsole();
    const foreign: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(harness.url)) foreign.push(request.url());
    });
    await page.reload();
    await page.getByRole('heading', { name: 'Holdline console', level: 1 }).waitFor();
    const index = await fetch(`${harness.url}/`);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const sizes: Record<string, number> = {};
    for (const name of ['', 'console.js', 'console.css']) {
      const response = await fetch(`${harness.url}/${name}`);
      expect(response.status).toBe(200);
      sizes[name || 'index.html'] = gzipSync(Buffer.from(await response.arrayBuffer())).length;
    }
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    console.log(`console assets, gzip bytes: ${JSON.stringify(sizes)}, total ${total}`);
    expect(total).toBeLessThan(300 * 1024);
    expect(foreign).toEqual([]);
    await shoot(page, 'served');
    await page.context().close();
  });

  it('signs in with a pasted token, keeps it for the tab, signs out, and reads at phone width in dark mode', async () => {
    const page = await openConsole();
    await expectStructure(page, ['heading "Holdline console" [level=1]', 'textbox "Access token"', 'textbox "Tenant"', 'textbox "User"', 'button "Sign in for development"']);
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'paste the whole token' }).waitFor();

    await signIn(page, { user: 'alice' });
    expect(await page.evaluate(() => sessionStorage.getItem('holdline.token'))).toMatch(/^ey/);
    await expectStructure(page, ['region "Talk to the agent"', 'region "Live calls"', 'region "History"', 'button "Sign out"', 'button "Start a conversation"', 'table "Live calls"', 'combobox "Status"']);
    await page.reload();
    await signedInAs(page, 'alice', 'acme');
    await shoot(page, 'signed-in');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access token').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('holdline.token'))).toBeNull();
    await page.context().close();

    const phone = await openConsole({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await signIn(phone, { user: 'alice' });
    const layout = await phone.evaluate(() => ({ width: document.documentElement.scrollWidth, background: getComputedStyle(document.body).backgroundColor }));
    expect(layout.width).toBeLessThanOrEqual(390);
    expect(layout.background).toBe('rgb(18, 19, 22)');
    await shoot(phone, 'phone-dark');
    await phone.context().close();
  });

  it('signs in with the development sign-in for a chosen tenant, user and scopes', async () => {
    const page = await openConsole();
    await page.getByLabel('Tenant').fill('acme');
    await page.getByLabel('User', { exact: true }).fill('dana');
    await page.getByLabel('Scopes (separated by spaces)').fill('orders:read');
    await page.getByRole('button', { name: 'Sign in for development' }).click();
    await signedInAs(page, 'dana', 'acme');
    const token = await page.evaluate(() => sessionStorage.getItem('holdline.token'));
    expect((await harness.get('/v1/tools', token!)).body.tools.map((tool: { name: string }) => tool.name)).toEqual(['lookup_order']);
    await shoot(page, 'dev-sign-in');
    await page.context().close();
  });

  it('shows a slow refund started in the conversation advancing to completion there and in the live list', async () => {
    const page = await openConsole();
    await signIn(page, { user: 'alice' });
    await startConversation(page);
    await say(page, 'refund order A-1003 for $5');

    const seen = { card: [] as number[], row: [] as number[], cardPhase: '', rowStatus: '' };
    const note = (list: number[], value: number | undefined) => {
      if (value !== undefined && value !== list[list.length - 1]) list.push(value);
    };
    let shot = false;
    await waitFor(
      async () => {
        const now = await page.evaluate(() => {
          const card = [...document.querySelectorAll('.conversation .card')].find((c) => c.textContent?.includes('refund_order'));
          // This conversation's own call: suites sharing the Temporal server may run alice's refunds in the live list too.
          const session = sessionStorage.getItem('holdline.talk.session');
          const row = [...document.querySelectorAll('section.live tr.call')].find(
            (r) => r.textContent?.includes('refund_order') && session !== null && r.querySelector(`td[title="${session}"]`) !== null,
          );
          return {
            card: card?.querySelector('progress')?.value,
            cardPhase: card?.className ?? '',
            row: row?.querySelector('progress')?.value,
            rowStatus: row?.querySelector('.badge')?.textContent ?? '',
          };
        });
        note(seen.card, now.card);
        note(seen.row, now.row);
        Object.assign(seen, { cardPhase: now.cardPhase, rowStatus: now.rowStatus });
        if (!shot && (now.row ?? 0) >= 40) {
          shot = true;
          await page.screenshot({ path: README_SHOT });
        }
        return now.cardPhase.includes('completed') && now.rowStatus === 'Done';
      },
      30_000,
      'the refund to complete in the conversation and the live list',
    );
    // The bars moved forward through several values before the call finished.
    const rising = (list: number[]) => list.every((value, i) => i === 0 || value >= list[i - 1]!);
    expect(seen.card.filter((pct) => pct > 0 && pct < 100).length).toBeGreaterThanOrEqual(3);
    expect(rising(seen.card)).toBe(true);
    expect(seen.card[seen.card.length - 1]).toBe(100);
    expect(seen.row.filter((pct) => pct > 0 && pct < 100).length).toBeGreaterThanOrEqual(2);
    expect(rising(seen.row)).toBe(true);

    const card = conversation(page).getByRole('listitem', { name: 'refund_order call' });
    await expectStructure(card, ['Completed', 'progressbar "Progress of refund_order"', 'region "Result"']);
    await expectText(card, ['"order_id": "A-1003"', '"amount_cents": 500', '"refund_id"']);
    await conversation(page).getByRole('listitem').filter({ hasText: 'Assistant' }).first().waitFor();
    await shoot(page, 'refund-completed');
    // Opened after it finished, the detail still shows the progress the live list saw.
    await livePanel(page)
      .locator('tr.call', { hasText: 'refund_order', has: await ownSessionCell(page) })
      .first()
      .getByRole('button', { name: /^Details of refund_order call / })
      .click();
    const detail = page.getByRole('dialog', { name: /refund_order/ });
    const timeline = detail.getByRole('list', { name: 'Progress timeline' }).getByRole('listitem');
    await timeline.first().waitFor();
    expect(await timeline.count()).toBeGreaterThanOrEqual(3);
    await page.context().close();
  }, 60_000);

  it('resumes the same session after the connection drops, and the conversation goes on', async () => {
    const page = await openConsole();
    await signIn(page, { user: 'erin' });
    await startConversation(page);
    const linkState = page.getByRole('region', { name: 'Talk to the agent' }).getByRole('status');
    const session = (await linkState.innerText()).replace(/^Connected · session /, '');
    // The scripted model hangs up on "hang up": Holdline closes the client's socket, the panel reconnects.
    await say(page, 'hang up');
    await conversation(page).getByRole('listitem').filter({ hasText: 'Reconnected: the conversation goes on in the same session.' }).waitFor({ timeout: 15_000 });
    expect(await linkState.innerText()).toBe(`Connected · session ${session}`);
    await say(page, 'look up order A-1002');
    await conversation(page).getByRole('listitem', { name: 'lookup_order call' }).filter({ hasText: 'Completed' }).waitFor({ timeout: 15_000 });
    await shoot(page, 'resumed');
    await page.context().close();
  }, 45_000);

  it('approves one cancel_order in the conversation and denies another from its call detail', async () => {
    const page = await openConsole();
    await signIn(page, { user: 'alice' });
    await startConversation(page);
    await say(page, 'cancel order A-1001');
    const cards = conversation(page).getByRole('listitem', { name: 'cancel_order call' });
    await cards.first().filter({ hasText: 'Waiting for your approval' }).waitFor();
    // The waiting call stands out in the live list: first, marked, and saying it needs a decision.
    // This conversation's calls only (its session's): other suites' calls of the same user share the Temporal server.
    const waitingRow = livePanel(page).locator('tr.status-awaiting_approval', { hasText: 'cancel_order', has: await ownSessionCell(page) });
    await waitingRow.filter({ hasText: 'Needs a decision' }).waitFor();
    expect(await livePanel(page).locator('tbody tr').first().getAttribute('class')).toContain('status-awaiting_approval');
    await expectStructure(cards.first(), ['group "Decide on cancel_order"', 'button "Approve"', 'button "Deny"', 'region "Arguments to approve"']);
    await expectText(cards.first(), ['"order_id": "A-1001"']);
    await shoot(page, 'approval-waiting');
    await cards.first().getByRole('button', { name: 'Approve' }).click();
    await cards.first().filter({ hasText: 'Completed' }).waitFor({ timeout: 15_000 });
    await expectText(cards.first(), ['"state": "cancelled"']);

    await say(page, 'cancel order A-1004');
    await cards.nth(1).filter({ hasText: 'Waiting for your approval' }).waitFor();
    await waitingRow.getByRole('button', { name: /^Details of cancel_order call / }).click();
    const dialog = page.getByRole('dialog', { name: /cancel_order/ });
    await expectStructure(dialog, ['heading', 'button "Approve"', 'button "Deny"', 'button "Cancel call"', 'button "Close call details"']);
    await dialog.getByRole('button', { name: 'Deny' }).click();
    await dialog.getByRole('status').filter({ hasText: 'Denied' }).waitFor();
    await dialog.locator('.facts .badge').filter({ hasText: 'Failed' }).waitFor({ timeout: 15_000 });
    await expectStructure(dialog, ['region "Final envelope"']);
    await expectText(dialog.getByRole('region', { name: 'Final envelope' }), ['"error_code": "APPROVAL_DENIED"']);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await cards.nth(1).filter({ hasText: 'Failed' }).filter({ hasText: 'APPROVAL_DENIED' }).waitFor({ timeout: 15_000 });
    expect(harness.store.findOrder('acme', 'A-1001')!.state).toBe('cancelled');
    expect(harness.store.findOrder('acme', 'A-1004')!.state).toBe('placed');
    await shoot(page, 'approval-decided');
    await page.context().close();
  }, 60_000);

  it('cancels a running refund from its detail, which links to the workflow in the Temporal UI', async () => {
    const page = await openConsole();
    await signIn(page, { user: 'alice' });
    await page.getByRole('status').filter({ hasText: /^0 running/ }).waitFor();
    const started = await harness.call('refund_order', { order_id: 'A-1005', amount_cents: 700, reason: 'console test' });
    expect(started.status).toBe(202);
    const { call_id: callId, workflow_id: workflowId } = started.body as { call_id: string; workflow_id: string };
    const row = livePanel(page).locator(`tr[data-workflow-id="${workflowId}"]`);
    await row.getByRole('button', { name: `Details of refund_order call ${callId}` }).click();
    const dialog = page.getByRole('dialog', { name: new RegExp(`refund_order ${callId}`) });
    await dialog.waitFor();

    const info = (await harness.get('/v1/info')).body as { temporal_ui_url?: string; namespace: string };
    expect(info.temporal_ui_url).toBeTruthy();
    const link = dialog.getByRole('link', { name: 'Open this workflow in the Temporal UI' });
    expect(await link.getAttribute('href')).toBe(`${info.temporal_ui_url}/namespaces/${info.namespace}/workflows/${encodeURIComponent(workflowId)}`);

    // The arguments as the audit keeps them: the refund's reason is a sensitive field.
    await expectText(dialog.getByRole('region', { name: 'Arguments (redacted)' }), ['"order_id": "A-1005"', '"reason": "[redacted]"']);
    // The timeline fills from the call's own event stream.
    await dialog.getByRole('list', { name: 'Progress timeline' }).getByRole('listitem').first().waitFor();
    await dialog.getByRole('button', { name: 'Cancel call' }).click();
    await dialog.getByRole('status').filter({ hasText: 'Cancel requested' }).waitFor();
    await dialog.locator('.facts .badge').filter({ hasText: 'Cancelled' }).waitFor({ timeout: 15_000 });
    await expectStructure(dialog, ['list "Progress timeline"', 'region "Final envelope"']);
    await expectText(dialog.getByRole('region', { name: 'Final envelope' }), ['"error_code": "CANCELLED"']);
    expect((await harness.get(`/v1/tool-calls/${encodeURIComponent(callId)}`)).body.error_code).toBe('CANCELLED');
    await shoot(page, 'cancelled-detail');
    await page.context().close();
  }, 45_000);

  it("shows a second user of the tenant and a user of another tenant none of alice's calls", async () => {
    // Users of their own: the Temporal server is shared with other suites, whose calls of a plain "bob" its history would list.
    const suffix = Date.now().toString(36);
    const bob = await openConsole();
    await signIn(bob, { user: `bob-${suffix}` });
    const carol = await openConsole();
    await signIn(carol, { user: `carol-${suffix}`, tenant: 'globex' });
    const operator = await openConsole();
    await signIn(operator, { user: 'olga', scopes: [...TEST_SCOPES, 'holdline:operator'] });
    for (const page of [bob, carol, operator]) await livePanel(page).getByRole('status').filter({ hasText: /^0 running/ }).waitFor();

    // A call alice makes now, while their live feeds are open.
    const started = await harness.call('refund_order', { order_id: 'A-1002', amount_cents: 100, reason: 'console isolation' });
    expect(started.status).toBe(202);
    const workflowId = started.body.workflow_id as string;
    // The tenant's operator sees it (so the feeds work), then it finishes.
    await livePanel(operator).locator(`tr[data-workflow-id="${workflowId}"]`).waitFor();
    expect((await harness.get(`/v1/tool-calls/${encodeURIComponent(started.body.call_id)}?wait=15000`)).body.status).toBe('ok');
    await livePanel(operator).locator(`tr[data-workflow-id="${workflowId}"]`).filter({ hasText: 'Done' }).waitFor();

    const alicesHistory = (await harness.get('/v1/tool-calls?page_size=100')).body.calls as unknown[];
    expect(alicesHistory.length).toBeGreaterThanOrEqual(4);
    for (const [name, page] of [['bob', bob], ['carol', carol]] as const) {
      await historyPanel(page).getByRole('button', { name: 'Apply filters and refresh' }).click();
      await historyPanel(page).getByRole('status').filter({ hasText: /^0 calls$/ }).waitFor();
      expect(await page.locator('tr.call').count()).toBe(0);
      await expectStructure(livePanel(page), ['No calls right now']);
      await shoot(page, `isolation-${name}`);
    }
    await historyPanel(operator).getByRole('button', { name: 'Apply filters and refresh' }).click();
    await historyPanel(operator).locator('tr.call', { hasText: 'alice' }).first().waitFor();
    await shoot(operator, 'isolation-operator');
    for (const page of [bob, carol, operator]) await page.context().close();
  }, 45_000);

  it('filters the history by tool, status and session', async () => {
    // A user of its own, so the history holds only this test's calls (the Temporal server is shared).
    const user = `hist-${Date.now().toString(36)}`;
    const token = await harness.token({ user });
    const [first, second] = [`filters-a-${user}`, `filters-b-${user}`];
    const lookups = await Promise.all([
      harness.call('lookup_order', { order_id: 'A-1002' }, { token, session: first }),
      harness.call('lookup_order', { order_id: 'A-1003' }, { token, session: second }),
    ]);
    // Answered at once or acked (202) on a loaded machine; either way they finish.
    for (const answer of lookups) expect([200, 202]).toContain(answer.status);
    const waiting = await harness.call('cancel_order', { order_id: 'A-1003', reason: 'history filters' }, { token, session: first });
    expect(waiting.status).toBe(202);
    const denied = await harness.post(`/v1/tool-calls/${encodeURIComponent(waiting.body.call_id)}/approval`, { approved: false }, token);
    expect(denied.status).toBeLessThan(300);
    expect((await harness.get(`/v1/tool-calls/${encodeURIComponent(waiting.body.call_id)}?wait=15000`, token)).body.error_code).toBe('APPROVAL_DENIED');
    // Visibility is eventually consistent: wait until it lists all three, finished.
    await waitFor(
      async () => {
        const calls = (await harness.get('/v1/tool-calls?page_size=100', token)).body.calls as { status: string }[];
        return calls.length === 3 && calls.every((call) => call.status === 'ok' || call.status === 'error');
      },
      20_000,
      'visibility to list the three finished calls',
    );

    const page = await openConsole();
    await signIn(page, { user });
    const history = historyPanel(page);
    const table = history.getByRole('table', { name: 'Call history' });
    /** The listed rows as [tool, user, session, status] (the header row has column headers, not cells). */
    const rows = async (): Promise<string[][]> => {
      const listed = await table.getByRole('row').filter({ has: page.getByRole('cell') }).all();
      const cells = await Promise.all(listed.map((row) => row.getByRole('cell').allInnerTexts()));
      return cells.filter((row) => row.length > 1).map((row) => row.slice(0, 4).map((cell) => cell.trim()));
    };
    const apply = async (filters: { status?: string; tool?: string; session?: string }, count: number) => {
      await history.getByRole('combobox', { name: 'Status' }).selectOption({ label: filters.status ?? 'Any' });
      await history.getByRole('combobox', { name: 'Tool' }).selectOption({ label: filters.tool ?? 'Any' });
      await history.getByRole('textbox', { name: 'Session' }).fill(filters.session ?? '');
      await history.getByRole('button', { name: 'Apply filters and refresh' }).click();
      await history.getByRole('status').filter({ hasText: new RegExp(`^${count} calls?$`) }).waitFor({ timeout: 15_000 });
    };
    await history.getByRole('status').filter({ hasText: /^3 calls$/ }).waitFor({ timeout: 15_000 });

    await apply({ tool: 'lookup_order' }, 2);
    const byTool = await rows();
    expect(byTool).toHaveLength(2);
    for (const row of byTool) expect([row[0], row[1], row[3]]).toEqual(['lookup_order', user, 'Done']);
    await expectStructure(table, ['button "Details of lookup_order call']);

    await apply({ status: 'Failed' }, 1);
    expect((await rows()).map((row) => [row[0], row[1], row[3]])).toEqual([['cancel_order', user, 'Failed']]);

    await apply({ status: 'Done', session: second }, 1);
    expect((await rows()).map((row) => [row[0], row[3]])).toEqual([['lookup_order', 'Done']]);
    await shoot(page, 'history-filtered');
    // A call finished before the page opened: its detail says the page saw no progress, not that there was none.
    await table.getByRole('button', { name: /^Details of lookup_order call / }).click();
    const detail = page.getByRole('dialog', { name: /lookup_order/ });
    await detail.getByText('No progress was seen by this page', { exact: false }).waitFor();
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'hidden' });

    // Filters that match nothing say so.
    await apply({ status: 'Failed', tool: 'lookup_order' }, 0);
    expect(await rows()).toEqual([]);
    await expectStructure(table, ['No calls match these filters.']);
    await page.context().close();
  }, 60_000);

  it('batches live updates per animation frame with 500 calls listed and 50 running, and stays responsive', async () => {
    const token = await harness.token({ user: 'perf' });
    // 450 finished calls, made 25 at a time, and 50 that keep reporting progress every 100 ms.
    for (let made = 0; made < 450; made += 25) {
      const answers = await Promise.all(Array.from({ length: 25 }, () => harness.call('lookup_order', { order_id: 'A-1002' }, { token })));
      expect(answers.filter((answer) => answer.status !== 200 && answer.status !== 202).map((answer) => [answer.status, answer.body])).toEqual([]);
    }
    const running = await Promise.all(Array.from({ length: 50 }, (_, i) => harness.call('steady_progress', { label: `p${i}`, ms: 50_000, every_ms: 100 }, { token })));
    expect(running.filter((answer) => answer.status !== 202).map((answer) => [answer.status, answer.body])).toEqual([]);
    try {
      // Visibility is eventually consistent: wait until the history holds all 500.
      await waitFor(async () => (await harness.get('/v1/tool-calls?page_size=100&status=ok', token)).body.next_page_token !== undefined, 20_000, 'visibility to list the calls');

      const page = await openConsole();
      await signIn(page, { user: 'perf' });
      await livePanel(page).getByRole('status').filter({ hasText: /^50 running/ }).waitFor({ timeout: 20_000 });
      const history = historyPanel(page);
      await history.getByRole('status').filter({ hasText: /^100 calls, more available$/ }).waitFor({ timeout: 15_000 });
      for (let listed = 200; listed <= 500; listed += 100) {
        await history.getByRole('button', { name: 'Load more' }).click();
        await history.getByRole('status').filter({ hasText: new RegExp(`^${listed} calls`) }).waitFor({ timeout: 15_000 });
      }

      const figures = await page.evaluate(async () => {
        const probe = window.holdlineConsole;
        const before = { ...probe.stats, renders: probe.liveRenders };
        const longTasks: number[] = [];
        const observer = new PerformanceObserver((list: any) => longTasks.push(...list.getEntries().map((entry: any) => entry.duration as number)));
        observer.observe({ type: 'longtask' });
        let frames = 0;
        let worstFrameMs = 0;
        let worstLagMs = 0;
        const end = performance.now() + 3_000;
        await new Promise<void>((resolve) => {
          let last = performance.now();
          const frame = (at: number) => {
            frames += 1;
            worstFrameMs = Math.max(worstFrameMs, at - last);
            last = at;
            if (at < end) requestAnimationFrame(frame);
            else resolve();
          };
          requestAnimationFrame(frame);
          // How long a task queued now waits to run: what a click would wait for.
          const lag = () => {
            const queued = performance.now();
            setTimeout(() => {
              worstLagMs = Math.max(worstLagMs, performance.now() - queued);
              if (performance.now() < end) setTimeout(lag, 50);
            }, 0);
          };
          lag();
        });
        observer.disconnect();
        return {
          rows: document.querySelectorAll('tr.call').length,
          events: probe.stats.events - before.events,
          flushes: probe.stats.flushes - before.flushes,
          renders: probe.liveRenders - before.renders,
          frames,
          largestBatch: probe.stats.largestBatch,
          lastApplyMs: Math.round(probe.stats.lastApplyMs * 100) / 100,
          worstFrameMs: Math.round(worstFrameMs),
          worstLagMs: Math.round(worstLagMs),
          longTasks: longTasks.length,
          longestTaskMs: Math.round(Math.max(0, ...longTasks)),
        };
      });
      const clickStarted = Date.now();
      await livePanel(page).getByRole('button', { name: /^Details of steady_progress call / }).first().click();
      await page.getByRole('dialog', { name: /steady_progress/ }).waitFor();
      const detailOpenMs = Date.now() - clickStarted;
      console.log(`500 listed, 50 running, over 3 s: ${JSON.stringify({ ...figures, detailOpenMs })}`);

      expect(figures.rows).toBeGreaterThanOrEqual(550);
      // Progress flowed, and was applied in at most one batch (one render) per frame.
      expect(figures.events).toBeGreaterThan(100);
      expect(figures.flushes).toBeLessThanOrEqual(figures.frames + 1);
      expect(figures.events / Math.max(1, figures.flushes)).toBeGreaterThan(1);
      expect(figures.renders).toBeLessThanOrEqual(figures.flushes + 2);
      // Responsive: a queued task is answered well within a second. (The click-to-dialog time
      // is printed above; it includes Playwright's own round trips, too noisy to assert here.)
      expect(figures.worstLagMs).toBeLessThan(500);
      await shoot(page, 'five-hundred-calls');
      await page.context().close();
    } finally {
      await Promise.all(running.map((answer) => harness.post(`/v1/tool-calls/${encodeURIComponent(answer.body.call_id)}/cancel`, {}, token)));
    }
  }, 120_000);
});
