import type { AddressInfo } from 'node:net';
import PostalMime, { type Email } from 'postal-mime';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail extends Email {
  raw: string;
}

/**
 * A real SMTP server (smtp-server) on a local port that parses what it accepts. STARTTLS is
 * disabled: smtp-server's built-in certificate has expired. It can be stopped and started again
 * on the same port, or told to refuse for a while.
 */
export async function startSmtpServer() {
  const received: ReceivedMail[] = [];
  let refuseWith: { code: number; message: string } | null = null;
  const make = () =>
    new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      logger: false,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (refuseWith) return callback(Object.assign(new Error(refuseWith.message), { responseCode: refuseWith.code }));
          const raw = Buffer.concat(chunks).toString('utf8');
          PostalMime.parse(raw).then(
            (email) => {
              received.push({ ...email, raw });
              callback();
            },
            (error: Error) => callback(error),
          );
        });
      },
    });
  let server = make();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuse(code: number | null, message = 'try again later') {
      refuseWith = code === null ? null : { code, message };
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      server = make();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

export type SmtpTestServer = Awaited<ReturnType<typeof startSmtpServer>>;
