import { expect, it } from "vitest";
import { createTurnWord, giveMainTurn, giveThreadTurn, takeMainTurn, takeThreadTurn, threadGone } from "./sqlite-write-turn.mjs";

it("the main thread waits for the writer thread's turn without blocking, and goes next even if the thread asks again", async () => {
  const word = createTurnWord();
  takeThreadTurn(word, 100);
  let mainHolds = false;
  const main = takeMainTurn(word, 5000).then(() => (mainHolds = true));
  await new Promise((r) => setTimeout(r, 10)); // the loop runs while the main side waits
  expect(mainHolds).toBe(false);
  giveThreadTurn(word);
  // A busy thread asking straight away does not get ahead of the waiting main thread.
  expect(() => takeThreadTurn(word, 20)).toThrow("database is locked");
  await main;
  expect(mainHolds).toBe(true);
  expect(() => takeThreadTurn(word, 20)).toThrow("database is locked");
  giveMainTurn(word);
  takeThreadTurn(word, 100);
  giveThreadTurn(word);
});

it("gives up after the timeout (and stops asking for its turn), and a dead thread's turn is freed", async () => {
  const word = createTurnWord();
  takeThreadTurn(word, 100);
  await expect(takeMainTurn(word, 50)).rejects.toThrow("database is locked");
  // The main side gave up waiting, so the thread does not keep deferring to it.
  giveThreadTurn(word);
  takeThreadTurn(word, 100);
  threadGone(word);
  await takeMainTurn(word, 100);
  giveMainTurn(word);
});
