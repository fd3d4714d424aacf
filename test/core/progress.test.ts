import { describe, expect, it } from 'vitest';
import { describeProgress, RunProgress } from '../../src/pipeline/progress.js';
import { expectedFiles, receivingSnapshot } from '../../src/pipeline/receivingProgress.js';

describe('the progress of a set being received', () => {
  const control = JSON.stringify({ version: 1, files: { 'a.csv': { type: 'users', rows: 10 }, 'b.csv': { type: 'memberships' } } });

  it('counts the files and bytes known so far, and gives a byte total only when every file still expected declared its size', () => {
    const expected = expectedFiles(control);
    expect(expected).toEqual([{ name: 'a.csv', rows: 10 }, { name: 'b.csv' }]);
    const recorded = [
      { name: 'control.json', size: 100 },
      { name: 'a.csv', size: 1000 },
    ];
    const streaming = receivingSnapshot({ recorded, expected, incoming: [{ name: 'b.csv', bytes: 400, size: 2000 }], bytesPerSecond: 200, now: 0 });
    expect(streaming).toMatchObject({
      phase: 'receiving',
      total: null, // b.csv says no rows
      etaSeconds: 8, // 1 600 bytes to go at 200 bytes/s
      received: { files: 2, filesTotal: 3, bytes: 1500, bytesTotal: 3100, incoming: [{ name: 'b.csv', bytes: 400, size: 2000 }] },
    });
    expect(describeProgress(streaming)).toBe('receiving: 2 of 3 files, 1.5 kB of 3.1 kB, b.csv 0.4 kB of 2.0 kB so far, 0.2 kB/s, about 8 s left');
    // Over SFTP no size is declared; before the control file nothing says how many files.
    expect(receivingSnapshot({ recorded, expected, incoming: [{ name: 'b.csv', bytes: 400, size: null }], bytesPerSecond: 200 }).received).toMatchObject({ bytesTotal: null });
    expect(receivingSnapshot({ recorded: [{ name: 'a.csv', size: 1000 }], expected: null, incoming: [], bytesPerSecond: null }).received).toMatchObject({ files: 1, filesTotal: null, bytesTotal: null });
  });
});

describe('the progress of a run being applied', () => {
  it('advances by the changes of each statement, and stops estimating while the change log is written', () => {
    const progress = new RunProgress();
    const told: number[] = [];
    progress.changed = () => told.push(progress.snapshot().rows);
    const start = Date.now();
    progress.enter('applying', 100);
    progress.advance(30);
    progress.advance(50);
    const during = progress.snapshot(start + 2000);
    expect(during).toMatchObject({ phase: 'applying', rows: 80, total: 100, rowsPerSecond: 40, etaSeconds: 1 });
    expect(describeProgress(during)).toBe('applying: 80 of 100 changes, 40 changes/s, about 1 s left');
    progress.advance(20);
    progress.step('writing the change log');
    expect(told).toEqual([30, 80, 100, 100]);
    expect(describeProgress(progress.snapshot(start + 3000))).toBe('applying: 100 of 100 changes, writing the change log');
  });
});
