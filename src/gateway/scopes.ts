/** Scopes that widen what a caller may do with other users' calls, always within their own tenant. */

/** Widens reading, listing, streaming and cancelling to every call of the caller's tenant. */
export const OPERATOR_SCOPE = 'holdline:operator';
/** Widens approving (and denying) to every call of the caller's tenant. */
export const APPROVER_SCOPE = 'holdline:approve';
