// Turn-taking between the two connections that write the database: the main
// thread's (secrets, keys, settings) and the audit writer thread's. SQLite
// lets only one write at a time, and a connection that finds the lock taken
// sleeps in its busy handler: on the main thread that would stop the event
// loop for milliseconds each time an audit commit is in progress. So before
// BEGIN IMMEDIATE each side takes its turn on a shared word: the thread
// blocks in Atomics.wait (it has nothing else to do), the main thread waits
// with Atomics.waitAsync (its loop keeps serving). A waiting main thread goes
// next, so a busy audit writer cannot starve it. Types in sqlite-write-turn.d.mts.

const THREAD = 1;
const MAIN = 2;
const MAIN_WAITING = 4;

export function createTurnWord() {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** The writer thread's turn: returns once it holds it; throws after `timeoutMs`. */
export function takeThreadTurn(word, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cur = Atomics.load(word, 0);
    if (cur === 0) {
      if (Atomics.compareExchange(word, 0, 0, THREAD) === 0) return;
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error("database is locked (the main connection kept its write turn)");
    Atomics.wait(word, 0, cur, Math.min(left, 100));
  }
}

export function giveThreadTurn(word) {
  Atomics.and(word, 0, ~THREAD);
  Atomics.notify(word, 0);
}

/** The main thread's turn, without blocking its event loop; rejects after `timeoutMs`. */
export async function takeMainTurn(word, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cur = Atomics.load(word, 0);
    if ((cur & (THREAD | MAIN)) === 0) {
      if (Atomics.compareExchange(word, 0, cur, MAIN) === cur) return;
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      // No longer waiting: the thread must not keep deferring to nobody.
      Atomics.and(word, 0, ~MAIN_WAITING);
      Atomics.notify(word, 0);
      throw new Error("database is locked (the audit writer kept its write turn)");
    }
    const waiting = cur | MAIN_WAITING;
    if (cur !== waiting && Atomics.compareExchange(word, 0, cur, waiting) !== cur) continue;
    await Atomics.waitAsync(word, 0, waiting, Math.min(left, 100)).value;
  }
}

export function giveMainTurn(word) {
  Atomics.and(word, 0, ~MAIN);
  Atomics.notify(word, 0);
}

/** The thread died: whatever turn it held is free (its connection's lock went with it). */
export function threadGone(word) {
  giveThreadTurn(word);
}
