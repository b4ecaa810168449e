// Ending a headless Chromium and every process it started, before its profile is removed.
//
// Chromium's main process exits before all of its helpers have. Measured on Debian's
// Chromium 156, idle machine: at the main process's 'exit' event, 1 to 3 processes of its
// group (zygotes and their children) were still running in 7 of 8 runs, for up to 26 ms
// more; on a loaded machine that lasts longer. Helpers write into the profile (the network
// and storage services: Cookies, Local Storage, ...), so removing the profile then races
// with them: rmSync empties a folder, a helper creates a file in it, and the folder's rmdir
// fails with ENOTEMPTY.
//
// So a browser runs as the leader of its own process group (spawn's `detached: true`;
// Playwright launches it so too), its helpers inherit the group, and teardown waits until
// no live process of that group is left. The crash handler (chrome_crashpad_handler)
// double-forks into a session of its own, out of the group's reach; it holds nothing in
// the profile and writes only to ~/.config/chromium/Crash Reports (measured), so it does not
// matter here. It cannot be turned off: Chromium 156 ignores --disable-breakpad and
// --disable-crash-reporter for it, and under --disable-crashpad-for-testing its network
// service crashes in a loop (extension pages then never load).
//
// Used by tests/extension (a Chromium spawned by hand) and tests/e2e (through Playwright).

import fs from 'node:fs';
import path from 'node:path';

/** How long a browser's processes get to exit by themselves, then after SIGKILL. */
const GRACE_MS = 10_000;
const KILL_MS = 5_000;
const POLL_MS = 25;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The live processes of process group `pgid` (empty once it is gone). A process that has
 * exited but was not reaped yet (a zombie: its parent, the browser, is gone and init reaps
 * it) still answers kill(0), but writes nothing; on Linux /proc tells it apart. Elsewhere
 * the group counts as live while kill(0) reaches it, and the list is just [pgid].
 */
export function liveGroupMembers(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if (error.code === 'ESRCH') return [];
    if (error.code !== 'EPERM') throw error;
  }
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [pgid];
  }
  const live = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') live.push(Number(entry));
  }
  return live;
}

/** Resolves true once group `pgid` has no live process, false when `timeoutMs` passed first. */
export async function waitForGroupExit(pgid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (liveGroupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
}

/**
 * Waits until no live process of the browser's group `pgid` is left. Those still running
 * after `graceMs` get SIGKILL; one that outlives even that is an error (rather than a
 * profile removed while something writes into it).
 */
export async function reapGroup(pgid, { graceMs = GRACE_MS, killMs = KILL_MS } = {}) {
  if (await waitForGroupExit(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  if (await waitForGroupExit(pgid, killMs)) return;
  throw new Error(`processes of browser group ${pgid} still running after SIGKILL: ${liveGroupMembers(pgid).join(' ')}`);
}

/**
 * Stops a browser spawned with `detached: true` (so its pid is its group's id): SIGTERM to
 * the whole group, the main process's 'exit', then no live process of the group left.
 * Only then may its profile be removed.
 */
export async function stopBrowserGroup(child, { graceMs = GRACE_MS, killMs = KILL_MS } = {}) {
  const pgid = child.pid;
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + graceMs;
  signalGroup(pgid, 'SIGTERM');
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, graceMs); });
  await Promise.race([exited, late]);
  clearTimeout(timer);
  // The main process may be gone while helpers are not: wait for those too, within the
  // same grace, then SIGKILL.
  await reapGroup(pgid, { graceMs: Math.max(0, deadline - Date.now()), killMs });
  await exited;
}

/**
 * The pid of the Chromium running on `profileDir`, from the profile's SingletonLock (a
 * symlink to "<hostname>-<pid>" while the browser runs). For a browser launched by
 * Playwright, whose pid the persistent-context API does not give; Playwright spawns it
 * detached, so the pid is also its process group's id (checked here).
 */
export function chromiumPid(profileDir) {
  const lock = fs.readlinkSync(path.join(profileDir, 'SingletonLock'));
  const pid = Number(lock.slice(lock.lastIndexOf('-') + 1));
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`unexpected SingletonLock target: ${lock}`);
  if (liveGroupMembers(pid).length === 0) throw new Error(`Chromium ${pid} leads no process group`);
  return pid;
}
