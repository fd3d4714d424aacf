export interface ChangeCounts {
  users: { created: number; updated: number; suspended: number; reactivated: number; deleted: number; unchanged: number };
  groups: { created: number; updated: number };
  memberships: { added: number; removed: number };
}

export const emptyCounts = (): ChangeCounts => ({
  users: { created: 0, updated: 0, suspended: 0, reactivated: 0, deleted: 0, unchanged: 0 },
  groups: { created: 0, updated: 0 },
  memberships: { added: 0, removed: 0 },
});

export const totalChanges = (c: ChangeCounts) =>
  c.users.created + c.users.updated + c.users.suspended + c.users.reactivated + c.users.deleted +
  c.groups.created + c.groups.updated + c.memberships.added + c.memberships.removed;
