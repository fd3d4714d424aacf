import { mappingDiff, type MappingChange } from '../core/mappingDiff.js';
import type { Db } from '../storage/dialect.js';
import type { Run } from './runs.service.js';

/**
 * How the run's control file maps records differently from the run applied last before it (the
 * comparison the holdOnMappingChange rule made); null when the mapping is the same or there is
 * nothing to compare with.
 */
export async function runMappingChange(db: Db, run: Run): Promise<{ previousRunId: number; changes: MappingChange[] } | null> {
  if (!run.mappingHash || !run.controlFile) return null;
  const previous = await db('runs')
    .where({ feed_id: run.feedId, state: 'applied' })
    .where('id', '<', run.id)
    .orderBy('finished_at', 'desc')
    .orderBy('id', 'desc')
    .first('id', 'mapping_hash', 'control_file');
  if (!previous || previous.mapping_hash === run.mappingHash) return null;
  return { previousRunId: Number(previous.id), changes: mappingDiff(previous.control_file, run.controlFile) };
}
