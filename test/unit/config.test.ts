import { ConfigError, loadConfig } from '../../src/runtime/config';
import { devServerArgs } from '../../src/temporal/dev-server';
import { resolveTemporalCli, TemporalCliUnavailableError } from '../../src/temporal/cli-binary';

describe('configuration', () => {
  it('has defaults for every variable and runs the embedded dev server without TEMPORAL_ADDRESS', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOLDLINE_DATA_DIR: '.holdline',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_DEV_PORT: 7233,
      TEMPORAL_UI_PORT: 8233,
      LOG_LEVEL: 'info',
      embeddedTemporal: true,
    });
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' }).embeddedTemporal).toBe(false);
  });

  it('stops with a message that names each bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', TEMPORAL_ADDRESS: 'no-port', LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', TEMPORAL_ADDRESS: 'no-port', LOG_LEVEL: 'loud' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT="eighty"');
      expect(message).toContain('TEMPORAL_ADDRESS="no-port": must be host:port');
      expect(message).toContain('LOG_LEVEL="loud"');
    }
  });

  it('bounds realtime connections by default: pings, buffered bytes, sessions per user', () => {
    expect(loadConfig({})).toMatchObject({ HOLDLINE_WS_PING_MS: 15_000, HOLDLINE_WS_MAX_BUFFERED_BYTES: 4_194_304, HOLDLINE_MAX_SESSIONS_PER_USER: 10 });
    expect(() => loadConfig({ HOLDLINE_MAX_SESSIONS_PER_USER: '0' })).toThrow(/HOLDLINE_MAX_SESSIONS_PER_USER="0"/);
    expect(() => loadConfig({ HOLDLINE_WS_PING_MS: 'often' })).toThrow(/HOLDLINE_WS_PING_MS="often"/);
  });

  it('requires a JWT secret of at least 32 characters, and one at all in production', () => {
    expect(() => loadConfig({ HOLDLINE_JWT_SECRET: 'short' })).toThrow(/HOLDLINE_JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/HOLDLINE_JWT_SECRET is required/);
  });
});

describe('the dev server', () => {
  it('is started tuned, persistent and with the search attributes', () => {
    const args = devServerArgs({ cliPath: 'temporal', port: 7233, uiPort: 8233, dbFile: '/d/t.sqlite', namespace: 'default', searchAttributes: ['HoldlineTool'] });
    expect(args.join(' ')).toContain('--db-filename /d/t.sqlite --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal');
    expect(args.join(' ')).toContain('--dynamic-config-value history.transferProcessorMaxPollRPS=10000');
    expect(args.join(' ')).toContain('--search-attribute HoldlineTool=Keyword');
    expect(args).toContain('--ui-port');
    expect(devServerArgs({ cliPath: 'temporal', port: 1, uiPort: null, namespace: 'default', searchAttributes: [] })).toContain('--headless');
  });

  it('refuses a TEMPORAL_CLI that is not an executable', async () => {
    await expect(resolveTemporalCli({ explicitPath: '/nonexistent/temporal' })).rejects.toThrow(TemporalCliUnavailableError);
    await expect(resolveTemporalCli({ explicitPath: '/nonexistent/temporal' })).rejects.toThrow('TEMPORAL_CLI=/nonexistent/temporal');
  });
});
