// The teardown helper of the browser tests (tests/lib/chromium-process.mjs), on a stand-in
// for Chromium: a process group whose main process exits at once on SIGTERM while a helper
// it started outlives it, as Chromium's helpers do.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";

import { liveGroupMembers, reapGroup, stopBrowserGroup } from "../lib/chromium-process.mjs";

/** A detached group: a helper that ignores SIGTERM and runs `helperSeconds`, and a main process. */
function spawnGroup(helperSeconds) {
  const child = spawn("sh", ["-c", `(trap '' TERM; sleep ${helperSeconds}) & exec sleep 60`], {
    stdio: "ignore",
    detached: true,
  });
  return child;
}

async function untilMembers(pgid, count) {
  for (let i = 0; i < 200 && liveGroupMembers(pgid).length < count; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(liveGroupMembers(pgid).length >= count, "the group has started");
}

test("stopBrowserGroup returns only once the helpers that outlive the main process are gone", async () => {
  const child = spawnGroup(0.6);
  await untilMembers(child.pid, 2); // the helper and the main process
  let mainExited = 0;
  child.once("exit", () => { mainExited = Date.now(); });
  const start = Date.now();
  await stopBrowserGroup(child);
  assert.ok(mainExited > 0 && mainExited - start < 400, "the main process went at once on SIGTERM");
  assert.ok(Date.now() - start >= 400, "teardown waited for the helper");
  assert.deepEqual(liveGroupMembers(child.pid), []);
});

test("a helper that stays past the grace period is killed", async () => {
  const child = spawnGroup(60);
  await untilMembers(child.pid, 2);
  const start = Date.now();
  await stopBrowserGroup(child, { graceMs: 300 });
  assert.ok(Date.now() - start < 5000, "SIGKILL after the grace period, not the helper's 60 s");
  assert.deepEqual(liveGroupMembers(child.pid), []);
});

test("reapGroup on a group that is already gone returns at once", async () => {
  const child = spawn("true", [], { stdio: "ignore", detached: true });
  await new Promise((resolve) => child.once("exit", resolve));
  assert.deepEqual(liveGroupMembers(child.pid), []);
  await reapGroup(child.pid, { graceMs: 0, killMs: 0 });
});
