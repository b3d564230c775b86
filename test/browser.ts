import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/**
 * The browser the console tests drive: Debian's `chromium` package
 * (`apt-get install -y chromium`; .ci/run installs it), through
 * playwright-core, which downloads no browser of its own. Tests that need it
 * skip, saying so, when it is missing, unless COFFER_REQUIRE_BROWSER=1 (CI,
 * .ci/run), where they fail instead.
 */
export const CHROMIUM = process.env.COFFER_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.COFFER_REQUIRE_BROWSER === "1") throw new Error(`${why}, and COFFER_REQUIRE_BROWSER=1`);
  console.warn(`Skipping the browser tests: ${why}. Set COFFER_REQUIRE_BROWSER=1 to make this a failure.`);
  return why;
}

/** Headless chromium, nothing in the background that would reach the network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
