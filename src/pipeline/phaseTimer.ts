/** Wall time per phase of a run, for the timeline and the benchmark. */
export class PhaseTimer {
  private last = performance.now();
  private readonly started = this.last;
  readonly phases: Record<string, number> = {};

  lap(phase: string): void {
    const now = performance.now();
    this.phases[phase] = (this.phases[phase] ?? 0) + Math.round(now - this.last);
    this.last = now;
  }

  summary(): string {
    const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const parts = Object.entries(this.phases).map(([phase, ms]) => `${phase} ${seconds(ms)}`);
    return `${seconds(performance.now() - this.started)} (${parts.join(', ')})`;
  }
}
