import type { Run } from '../../runs/runs.service.js';

export interface ChartBar {
  runId: number;
  x: number;
  segments: { y: number; height: number; kind: 'added' | 'changed' | 'removed' }[];
  label: string;
}

const WIDTH = 600;
const HEIGHT = 120;

/**
 * A small stacked bar chart of recent runs' change counts (added, changed, removed), drawn as
 * server-side SVG so it needs no script. Each bar carries a text label for screen readers.
 */
export function changeChart(runs: (Run & { feed: string })[]) {
  const totals = runs.map((run) => {
    const u = run.counts.users;
    return {
      run,
      added: u.created + u.reactivated + run.counts.memberships.added + run.counts.groups.created,
      changed: u.updated + run.counts.groups.updated,
      removed: u.suspended + u.deleted + run.counts.memberships.removed,
    };
  });
  const max = Math.max(1, ...totals.map((t) => t.added + t.changed + t.removed));
  const step = runs.length ? WIDTH / Math.max(runs.length, 10) : WIDTH;
  const bars: ChartBar[] = totals.map((t, i) => {
    let top = HEIGHT;
    const segments: ChartBar['segments'] = [];
    for (const kind of ['added', 'changed', 'removed'] as const) {
      const height = (t[kind] / max) * (HEIGHT - 4);
      if (height <= 0) continue;
      top -= height;
      segments.push({ y: round(top), height: round(Math.max(height, 1)), kind });
    }
    return {
      runId: t.run.id,
      x: round(i * step + 2),
      segments,
      label: `Run ${t.run.id} (${t.run.feed}, ${t.run.state}): ${t.added} added, ${t.changed} changed, ${t.removed} removed`,
    };
  });
  return { width: WIDTH, height: HEIGHT, barWidth: round(Math.max(step - 4, 2)), bars, empty: runs.length === 0 };
}

const round = (n: number) => Math.round(n * 10) / 10;
