import { ConfigError, loadConfig } from '../../src/runtime/config';

describe('worker deployment configuration', () => {
  it('runs unversioned when neither HOLDLINE_DEPLOYMENT_NAME nor HOLDLINE_BUILD_ID is set', () => {
    const config = loadConfig({});
    expect(config.HOLDLINE_DEPLOYMENT_NAME).toBeUndefined();
    expect(config.HOLDLINE_BUILD_ID).toBeUndefined();
  });

  it('takes both together', () => {
    expect(loadConfig({ HOLDLINE_DEPLOYMENT_NAME: 'holdline', HOLDLINE_BUILD_ID: 'abc123' })).toMatchObject({
      HOLDLINE_DEPLOYMENT_NAME: 'holdline',
      HOLDLINE_BUILD_ID: 'abc123',
    });
  });

  it.each([{ HOLDLINE_DEPLOYMENT_NAME: 'holdline' }, { HOLDLINE_BUILD_ID: 'abc123' }])('refuses one without the other: %j', (env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/HOLDLINE_DEPLOYMENT_NAME and HOLDLINE_BUILD_ID go together/);
  });
});
