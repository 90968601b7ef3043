import { z } from 'zod';
import { executionPlanOf, type ToolSpec } from '../contracts/tool-spec';
import type { ExecutionPlan } from '../contracts/tool-call';

const toolName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a tool name (snake_case)');
const positiveMs = z.number().int().positive();

/** How a tenant's calls of one tool may be tightened: shorter budgets, fewer attempts, approval required. */
export const toolTighteningConfig = z.strictObject({
  timeoutMs: positiveMs.optional(),
  attemptTimeoutMs: positiveMs.optional(),
  maxAttempts: z.number().int().min(1).optional(),
  needsApproval: z.literal(true).optional(),
  approvalTimeoutMs: positiveMs.optional(),
});

/** One tenant's policy in the tools file. */
export const tenantPolicyConfig = z.strictObject({
  /** The tools the tenant's users may see and call. Absent: every tool. */
  tools: z.array(toolName).optional(),
  /** Per tool: limits stricter than the tool's declaration. A looser value has no effect. */
  tighten: z.record(toolName, toolTighteningConfig).optional(),
});

/** Tenants by id; `"*"` is the policy of every tenant not named. */
export const tenantsConfig = z.record(z.string().min(1).max(128), tenantPolicyConfig);
export type TenantPolicyConfig = z.infer<typeof tenantPolicyConfig>;
export type TenantsConfig = z.infer<typeof tenantsConfig>;

/** The tenant entry that applies to tenants the configuration does not name. */
export const ANY_TENANT = '*';

/**
 * Which tools each tenant may use, and how tightly. Without a configuration
 * every tenant may use every tool as declared. With one, a tenant gets its own
 * entry, else the `"*"` entry, else nothing: a tenant nobody thought of can
 * call no tool. A tool a tenant may not use is, to that tenant, a tool that
 * does not exist.
 */
export class TenantPolicy {
  constructor(private readonly tenants?: TenantsConfig) {}

  /** Whether tenants are restricted at all (for the start-up log). */
  get configured(): boolean {
    return this.tenants !== undefined;
  }

  allows(tenantId: string, tool: string): boolean {
    if (!this.tenants) return true;
    const policy = this.policyOf(tenantId);
    if (!policy) return false;
    return policy.tools === undefined || policy.tools.includes(tool);
  }

  /** The execution plan of a call by this tenant: the declaration's, tightened by the tenant's policy. */
  planFor(tenantId: string, spec: ToolSpec): ExecutionPlan {
    const plan = executionPlanOf(spec);
    const tightening = this.policyOf(tenantId)?.tighten?.[spec.name];
    if (!tightening) return plan;
    const timeoutMs = Math.min(plan.timeoutMs, tightening.timeoutMs ?? Infinity);
    return {
      ...plan,
      timeoutMs,
      attemptTimeoutMs: Math.min(plan.attemptTimeoutMs, tightening.attemptTimeoutMs ?? Infinity, timeoutMs),
      retry: { ...plan.retry, maxAttempts: Math.min(plan.retry.maxAttempts, tightening.maxAttempts ?? Infinity) },
      needsApproval: plan.needsApproval || tightening.needsApproval === true,
      approvalTimeoutMs: Math.min(plan.approvalTimeoutMs, tightening.approvalTimeoutMs ?? Infinity),
    };
  }

  private policyOf(tenantId: string): TenantPolicyConfig | undefined {
    if (!this.tenants) return undefined;
    return Object.hasOwn(this.tenants, tenantId) ? this.tenants[tenantId] : this.tenants[ANY_TENANT];
  }
}
