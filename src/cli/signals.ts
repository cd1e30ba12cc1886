/**
 * SIGINT / SIGTERM for every command, in one place.
 *
 * A Kubernetes Job's activeDeadlineSeconds, `kubectl delete`, a CI cancel and
 * Ctrl-C all send one of these. A command that changes the database declares
 * itself graceful: the first signal aborts its AbortSignal, the command stops
 * at the next safe point and removes what it created (ghost, changelog, slot,
 * publication, socket; the migration lock and open transaction go with the
 * session), reports, and the process exits 128 + the signal number (130 for
 * SIGINT, 143 for SIGTERM), the code a shell, a CI runner or kubelet expects
 * from a process stopped by that signal. A second signal exits at once.
 * Read-only commands exit at once on the first signal: they leave nothing.
 */
import { constants } from 'node:os';

type Handled = 'SIGINT' | 'SIGTERM';
const HANDLED: readonly Handled[] = ['SIGINT', 'SIGTERM'];

let controller = new AbortController();
let received: Handled | null = null;
let graceful = false;

export function signalExitCode(signal: Handled): number {
  return 128 + constants.signals[signal];
}

/** The signal the current command must obey; aborted on the first SIGINT/SIGTERM. */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** The signal that interrupted this run, if any. */
export function receivedSignal(): Handled | null {
  return received;
}

/** Called by a command that changes something: the first signal aborts instead of exiting. */
export function gracefulInterrupts(): AbortSignal {
  graceful = true;
  return controller.signal;
}

function onSignal(signal: Handled): void {
  if (received !== null || !graceful) {
    if (received !== null) process.stderr.write(`ghostwright: second ${signal}: exiting at once; what the run created may be left behind (rerun the command: it names any leftovers)\n`);
    process.exit(signalExitCode(signal));
  }
  received = signal;
  process.stderr.write(`ghostwright: ${signal} received: stopping at the next safe point and cleaning up (send it again to exit at once)\n`);
  controller.abort(signal);
}

const listeners = new Map<Handled, () => void>();

/** Installs the handlers for one command run; returns the uninstaller. */
export function installSignalHandlers(): () => void {
  controller = new AbortController();
  received = null;
  graceful = false;
  for (const s of HANDLED) {
    const l = () => onSignal(s);
    listeners.set(s, l);
    process.on(s, l);
  }
  return () => {
    for (const [s, l] of listeners) process.off(s, l);
    listeners.clear();
  };
}
