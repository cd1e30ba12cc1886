/**
 * Client side of the control socket: sends one command, returns the answer.
 * A missing socket (no migration running there) is a refusal: exit 2.
 */
import { createConnection } from 'node:net';
import { GhostwrightError, RefusedError } from '../errors.js';

export async function sendControlCommand(path: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const sock = createConnection(path);
    let answer = '';
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(answer.replace(/\n$/, ''));
    };
    const timer = setTimeout(
      () => finish(new GhostwrightError('E_CONTROL_TIMEOUT', `no answer from ${path} within ${timeoutMs}ms`)),
      timeoutMs,
    );
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${command.replace(/\n/g, ' ').trim()}\n`));
    sock.on('data', (chunk: string) => {
      answer += chunk;
    });
    sock.on('end', () => finish(null));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') {
        finish(
          new RefusedError('E_NO_SOCKET', `no running migration answers on ${path} (${err.code})`, {
            hint: 'check the --socket path the migration printed at start (default: ghostwright.<table>.sock in the temp directory)',
          }),
        );
      } else {
        finish(new GhostwrightError('E_CONTROL', `control socket ${path}: ${err.message}`, { cause: err }));
      }
    });
  });
}
