// Shared pieces of the browser scripts: a system Chromium via playwright-core (never downloaded),
// data-test selectors, and TAP-style step reporting (`ok N - ...`, `not ok N - ...`, exit 0/1).
import { execSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { chromium } from 'playwright-core'

export const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '')
export const STEP_TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 15000)
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

export const sel = (id) => `[data-test="${id}"]`

/** CHROMIUM_PATH, else `command -v chromium`, else /usr/bin/chromium. */
export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH
  try {
    const found = execSync('command -v chromium', { shell: '/bin/sh', encoding: 'utf8' }).trim()
    if (found) return found
  } catch {
    // not on PATH
  }
  return '/usr/bin/chromium'
}

class StepFailure extends Error {}
let stepNo = 0

/** Report a passed step. */
export function ok(message) {
  stepNo += 1
  console.log(`ok ${stepNo} - ${message}`)
}

/** Fail the current step with a message (no stack trace in the report). */
export function fail(message) {
  throw new StepFailure(message)
}

/** Launch headless Chromium from the system (fails the step when it is missing). */
export async function launchChromium() {
  const executablePath = chromiumPath()
  if (!existsSync(executablePath)) fail(`Chromium not found at ${executablePath} (set CHROMIUM_PATH or apt-get install chromium)`)
  const browser = await chromium.launch({ executablePath, headless: true, args: LAUNCH_ARGS })
  ok(`launched ${executablePath}`)
  return browser
}

/** Run the steps of a script named `name`, print the TAP summary and exit. */
export function runSteps(name, steps) {
  steps().then(
    () => {
      console.log(`${name}: all ${stepNo} steps passed`)
      process.exit(0)
    },
    (err) => {
      const message = err instanceof StepFailure ? err.message : err?.stack || String(err)
      console.error(`not ok ${stepNo + 1} - ${message}`)
      console.error(`${name}: FAILED`)
      process.exit(1)
    },
  )
}

/** Write a full-page PNG of `page` to `path` after a failed step (nothing when either is missing). */
export async function screenshotOnFailure(page, path) {
  if (!path || !page || page.isClosed()) return
  try {
    mkdirSync(dirname(path), { recursive: true })
    await page.screenshot({ path, fullPage: true })
    console.error(`# screenshot: ${path}`)
  } catch (err) {
    console.error(`# screenshot failed: ${err?.message || err}`)
  }
}

/** Log in through the login page and wait until the page with test id `pageId` at `path` is shown. */
export async function loginInto(page, { path, pageId, username, password, what }) {
  await page
    .goto(`${BASE_URL}/login?redirect=${path}`, { waitUntil: 'domcontentloaded' })
    .catch((err) => fail(`cannot open ${BASE_URL}/login: ${err.message}`))
  await page.locator(sel('login-username')).fill(username)
  await page.locator(sel('login-password')).fill(password)
  await page.locator(sel('login-submit')).click()
  await page.locator(sel(pageId)).waitFor({ state: 'visible' }).catch(async () => {
    const error = page.locator(sel('login-error'))
    const err = (await error.isVisible().catch(() => false)) ? (await error.innerText()).trim() : ''
    fail(`${what} is not visible after logging in (at ${page.url()})${err ? ` (login error: "${err}")` : ''}`)
  })
}

/** Wait until the console's live connection is up (fails the step with the indicator's status otherwise). */
export async function waitConnected(page) {
  await page
    .waitForSelector(`${sel('connection-indicator')}[data-status="connected"]`, { timeout: STEP_TIMEOUT })
    .catch(async () => {
      const status = await page.locator(sel('connection-indicator')).getAttribute('data-status').catch(() => null)
      fail(`the live connection did not come up (connection-indicator data-status: ${status})`)
    })
}

/** What every page script reads from the environment: E2E_USERNAME, E2E_PASSWORD and SCREENSHOT ('' when unset). */
export function e2eEnv() {
  return {
    username: process.env.E2E_USERNAME || '',
    password: process.env.E2E_PASSWORD || '',
    screenshot: process.env.SCREENSHOT || '',
  }
}

/**
 * Launch Chromium, open a page in a new browser context (`contextOptions`) with the per-step timeout and run
 * `steps(page)`; then report the page errors seen and close the context. When a step fails, a screenshot of
 * the page goes to `screenshot` (if set). The browser is closed either way.
 */
export async function withPage(contextOptions, screenshot, steps) {
  const browser = await launchChromium()
  let page = null
  try {
    const context = await browser.newContext(contextOptions)
    page = await context.newPage()
    page.setDefaultTimeout(STEP_TIMEOUT)
    const pageErrors = []
    page.on('pageerror', (err) => pageErrors.push(String(err)))
    await steps(page)
    if (pageErrors.length) console.log(`# page errors seen: ${pageErrors.join(' | ')}`)
    await context.close()
  } catch (err) {
    await screenshotOnFailure(page, screenshot)
    throw err
  } finally {
    await browser.close()
  }
}
