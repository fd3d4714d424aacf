import type { Context } from '../context.js';
import { enqueueHeldDigest } from './heldDigest.js';
import { enqueueRunReports } from './runReports.js';
import { openMailTransport, sendDueMail, type MailTransport } from './sender.js';

/** One tick of the send-mail job: what became due goes into the outbox, then the outbox is sent. */
export async function runMailTick(ctx: Context, now = new Date(), transport: MailTransport = openMailTransport(ctx)) {
  try {
    await enqueueRunReports(ctx, now);
    await enqueueHeldDigest(ctx, now);
    return await sendDueMail(ctx, transport, now);
  } finally {
    transport.close();
  }
}
