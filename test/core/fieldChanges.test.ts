import { describe, expect, it } from 'vitest';
import { fieldChanges } from '../../src/core/fieldChanges.js';

describe('the fields a change shows', () => {
  it('shows the fields whose value differs, and only those', () => {
    expect(fieldChanges('{"title":"Dr","country":"NL"}', '{"title":null,"country":"NL"}')).toEqual([{ field: 'title', before: 'Dr', after: null }]);
    expect(fieldChanges('{"tags":["a","b"]}', '{"tags":["a","b"]}')).toEqual([]);
  });

  it("shows a created or deleted user's custom fields one by one, as an update names them", () => {
    expect(fieldChanges(null, '{"email":"a@example.org","custom":{"department":"Physics","skills":["x","y"]}}')).toEqual([
      { field: 'email', before: null, after: 'a@example.org' },
      { field: 'custom.department', before: null, after: 'Physics' },
      { field: 'custom.skills', before: null, after: ['x', 'y'] },
    ]);
    expect(fieldChanges('{"state":"active","custom":{"department":"IT"}}', null)).toEqual([
      { field: 'state', before: 'active', after: null },
      { field: 'custom.department', before: 'IT', after: null },
    ]);
    // No custom fields: nothing to show for them.
    expect(fieldChanges(null, '{"email":"a@example.org","custom":{}}')).toEqual([{ field: 'email', before: null, after: 'a@example.org' }]);
    expect(fieldChanges('{"custom.lastSeen":"1"}', '{"custom.lastSeen":"2"}')).toEqual([{ field: 'custom.lastSeen', before: '1', after: '2' }]);
  });
});
