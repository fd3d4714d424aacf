import type { Run } from '../../runs/runs.service.js';

export interface ChartBar {
  runId: number;
  x: number;
  labelX: number;
  held: boolean;
  segments: { y: number; height: number; kind: 'added' | 'changed' | 'removed' }[];
  label: string;
}

const WIDTH = 600;
const HEIGHT = 120;
/** The smallest bar of a run that changes anything, so that no run, however small, disappears. */
const MIN_BAR = 6;

/**
 * A stacked bar chart of recent runs' user changes, as on the run page: added (created and
 * reactivated), changed (updated), removed (suspended and deleted). Heights follow a logarithmic
 * scale, so a 50-user held run stays visible beside a 400 000-user one; held runs are marked.
 * Server-side SVG, no script; each bar carries a text label for screen readers.
 */
export function changeChart(runs: (Run & { feed: string })[]) {
  const totals = runs.map((run) => {
    const u = run.counts.users;
    return { run, added: u.created + u.reactivated, changed: u.updated, removed: u.suspended + u.deleted };
  });
  const sum = (t: (typeof totals)[number]) => t.added + t.changed + t.removed;
  const maxLog = Math.log10(1 + Math.max(1, ...totals.map(sum)));
  const step = runs.length ? WIDTH / Math.max(runs.length, 10) : WIDTH;
  const bars: ChartBar[] = totals.map((t, i) => {
    const total = sum(t);
    const barHeight = total ? Math.max(MIN_BAR, (Math.log10(1 + total) / maxLog) * (HEIGHT - 14)) : 0;
    let top = HEIGHT;
    const segments: ChartBar['segments'] = [];
    for (const kind of ['added', 'changed', 'removed'] as const) {
      if (!t[kind]) continue;
      // Within a bar the kinds share its height in proportion, each at least a pixel.
      const height = Math.max(1, (t[kind] / total) * barHeight);
      top -= height;
      segments.push({ y: round(top), height: round(height), kind });
    }
    const n = (v: number) => v.toLocaleString('en');
    return {
      runId: t.run.id,
      x: round(i * step + 2),
      labelX: round(i * step + step / 2),
      held: t.run.state === 'held',
      segments,
      label: `Run ${t.run.id} (${t.run.feed}, ${t.run.state}): users ${n(t.added)} added (${n(t.run.counts.users.created)} created, ${n(t.run.counts.users.reactivated)} reactivated), ${n(t.changed)} updated, ${n(t.removed)} removed (${n(t.run.counts.users.suspended)} suspended, ${n(t.run.counts.users.deleted)} deleted)`,
    };
  });
  return { width: WIDTH, height: HEIGHT, fullHeight: HEIGHT + 16, labelY: HEIGHT + 12, barWidth: round(Math.max(step - 4, 2)), bars, empty: runs.length === 0 };
}

const round = (n: number) => Math.round(n * 10) / 10;
