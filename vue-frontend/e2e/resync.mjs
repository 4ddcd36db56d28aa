#!/usr/bin/env node
// Browser test of the console's resync after a reconnect: a sales user on the workbench gets a live handoff
// toast, then the page's Socket.IO connection is cut (websocket and polling blocked by Playwright), a
// simulated customer asks for a person meanwhile, the connection comes back, and the console replays
// what it missed through GET /api/events?since=N: the missed handoff toast shows, the conversation and
// the missed message appear, without reloading the page.
// Uses playwright-core with a system Chromium; never downloads a browser.
//
// Environment:
//   BASE_URL            console URL (default http://127.0.0.1:8000)
//   E2E_USERNAME        a sales user who owns the simulated account (handoffs are addressed to them)
//   E2E_PASSWORD        its password
//   LIVE_URL, LIVE_BODY       POSTed while connected: a customer writes "转人工" (GeWe simulator /_sim/inject)
//   MISSED_URL, MISSED_BODY   POSTed while the socket is cut: another customer writes MISSED_TEXT
//   MISSED_TEXT         the text of that missed message (it must ask for a person)
//   MISSED_WXID         the wxid of the customer who writes it
//   SCREENSHOT          optional: a PNG of the page is written there when a step fails
//   CHROMIUM_PATH       optional: default `command -v chromium`, else /usr/bin/chromium
//   E2E_TIMEOUT_MS      optional: per-step timeout (default 15000)
import { BASE_URL, STEP_TIMEOUT, e2eEnv, fail, loginInto, ok, runSteps, sel, waitConnected, withPage } from './browser.mjs'

const { username: USERNAME, password: PASSWORD, screenshot: SCREENSHOT } = e2eEnv()
const LIVE_URL = process.env.LIVE_URL || ''
const LIVE_BODY = process.env.LIVE_BODY || ''
const MISSED_URL = process.env.MISSED_URL || ''
const MISSED_BODY = process.env.MISSED_BODY || ''
const MISSED_TEXT = process.env.MISSED_TEXT || ''
const MISSED_WXID = process.env.MISSED_WXID || ''
// socket.io-client backs off up to 5 s (x1.5 jitter) between reconnection attempts.
const RECONNECT_TIMEOUT = Math.max(STEP_TIMEOUT, 30000)
const HANDOFF_TIMEOUT = Math.max(STEP_TIMEOUT, 60000)

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).catch((err) => fail(`POST ${url} failed: ${err.message}`))
  if (!res.ok) fail(`POST ${url} answered HTTP ${res.status}: ${await res.text()}`)
}

/** An API token of the same user, to watch the server while the page is cut off. */
async function apiToken() {
  const res = await fetch(`${BASE_URL}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: USERNAME, password: PASSWORD }),
  })
  if (!res.ok) fail(`API login answered HTTP ${res.status}`)
  return (await res.json()).access_token
}

/** Poll the API until the chat with `wxid` waits for a person and holds a message with `text`. */
async function waitServerHas(token, wxid, text, timeoutMs) {
  const headers = { Authorization: `Bearer ${token}` }
  const deadline = Date.now() + timeoutMs
  let last = null
  while (Date.now() < deadline) {
    const res = await fetch(`${BASE_URL}/api/conversations`, { headers })
    if (res.ok) {
      const items = (await res.json()).items ?? []
      last = items.map((c) => `${c.chat_wxid}:${c.mode}`)
      const found = items.find((c) => c.chat_wxid === wxid && c.mode === 'pending_human')
      if (found) {
        const page = await fetch(`${BASE_URL}/api/conversations/${found.id}/messages`, { headers }).then((r) => r.json())
        if ((page.items ?? []).some((m) => (m.text ?? '').includes(text))) return found
      }
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  fail(`the server has no conversation with ${wxid} waiting for a person with "${text}" after ${timeoutMs / 1000} s (saw ${JSON.stringify(last)})`)
}

/**
 * Playwright stands between the page and /socket.io: while `cut` is set, open connections are closed and
 * new ones (websocket or polling) are refused, as when the network drops.
 */
async function installSocketSwitch(page) {
  const state = { cut: false, live: [], opened: 0, refused: 0 }
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (state.cut) {
      state.refused += 1
      ws.close({ code: 4000, reason: 'e2e: network cut' })
      return
    }
    state.opened += 1
    const server = ws.connectToServer()
    state.live.push({ ws, server })
  })
  await page.route(/\/socket\.io\//, (route) => (state.cut ? route.abort('internetdisconnected') : route.continue()))
  return {
    state,
    async cut() {
      state.cut = true
      const live = state.live.splice(0)
      for (const { ws, server } of live) {
        await server.close({ code: 4000, reason: 'e2e: network cut' }).catch(() => undefined)
        await ws.close({ code: 4000, reason: 'e2e: network cut' }).catch(() => undefined)
      }
      return live.length
    },
    restore() {
      state.cut = false
    },
  }
}

async function statusOf(page) {
  return page.locator(sel('connection-indicator')).getAttribute('data-status').catch(() => null)
}

async function main() {
  if (!USERNAME || !PASSWORD) fail('E2E_USERNAME and E2E_PASSWORD must be set')
  if (!LIVE_URL || !MISSED_URL || !MISSED_TEXT || !MISSED_WXID) fail('LIVE_URL, MISSED_URL, MISSED_TEXT and MISSED_WXID must be set')

  await withPage({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } }, SCREENSHOT, async (page) => {
    let documentLoads = 0
    page.on('load', () => (documentLoads += 1))
    const replays = []
    const replayed = []
    page.on('request', (req) => {
      const url = new URL(req.url())
      if (url.pathname === '/api/events') replays.push(url.searchParams.get('since'))
    })
    page.on('response', async (res) => {
      if (new URL(res.url()).pathname !== '/api/events') return
      replayed.push(await res.json().catch(() => ({ items: [] })))
    })
    const socket = await installSocketSwitch(page)

    // 1. Log in as the sales user, straight into the workbench; the live connection comes up.
    await loginInto(page, { path: '/conversations', pageId: 'conversations-page', username: USERNAME, password: PASSWORD, what: 'the workbench' })
    await waitConnected(page)
    if (replays.length) fail(`the first connect replayed events (GET /api/events?since=${replays.join(', ')})`)
    ok(`logged in as ${USERNAME}; live connection up through ${socket.state.opened} websocket(s), no replay on the first connect`)

    // 2. A live event: a customer asks for a person and the toast shows.
    await post(LIVE_URL, LIVE_BODY)
    const toasts = page.locator('.handoff-toast')
    await toasts.first().waitFor({ state: 'visible', timeout: HANDOFF_TIMEOUT }).catch(() => fail('no live handoff toast'))
    const liveId = await toasts.first().locator(sel('handoff-toast')).getAttribute('data-id')
    ok(`live handoff toast for conversation ${liveId}`)

    // 3. Cut the connection; the page notices and keeps trying.
    await page.evaluate(() => {
      window.__resyncMarker = 'same page'
    })
    const loadsBefore = documentLoads
    const closed = await socket.cut()
    await page
      .waitForFunction((s) => document.querySelector(s)?.getAttribute('data-status') !== 'connected', sel('connection-indicator'), { timeout: STEP_TIMEOUT })
      .catch(() => fail('the connection indicator still says connected after the socket was cut'))
    ok(`socket cut (${closed} connection(s) closed): indicator ${await statusOf(page)}`)

    // 4. While cut off: another customer asks for a person; the server has it, the page does not.
    const token = await apiToken()
    await post(MISSED_URL, MISSED_BODY)
    const missed = await waitServerHas(token, MISSED_WXID, MISSED_TEXT, HANDOFF_TIMEOUT)
    await page.waitForTimeout(1000) // anything that could still leak through would show by now
    if ((await statusOf(page)) === 'connected') fail('the page reconnected while the socket was cut')
    const missedTitle = missed.title || missed.chat_wxid
    if (await page.locator(sel('conversation-row'), { hasText: missedTitle }).count()) fail('the missed conversation reached the page while the socket was cut')
    if ((await toasts.count()) !== 1) fail(`expected only the live toast while cut, found ${await toasts.count()}`)
    ok(`while cut off, the server stored conversation ${missed.id} (${missed.mode}); the page shows neither it nor a toast (refused ${socket.state.refused} reconnection attempt(s))`)

    // 5. The network comes back: the page reconnects and replays what it missed.
    const replaysBefore = replays.length
    const replayedBefore = replayed.length
    socket.restore()
    await page
      .waitForSelector(`${sel('connection-indicator')}[data-status="connected"]`, { timeout: RECONNECT_TIMEOUT })
      .catch(async () => fail(`no reconnection within ${RECONNECT_TIMEOUT / 1000} s (indicator ${await statusOf(page)})`))
    const deadline = Date.now() + STEP_TIMEOUT
    while (replayed.length <= replayedBefore && Date.now() < deadline) await page.waitForTimeout(100)
    const since = replays.slice(replaysBefore)
    if (!since.length) fail('no GET /api/events after the reconnect')
    if (Number(since[0]) < 1) fail(`the replay started at since=${since[0]}, not after the live events already seen`)
    const events = replayed.slice(replayedBefore).flatMap((body) => body.items ?? [])
    const missedMessage = events.find((e) => e.type === 'message.new' && (e.data?.text ?? '').includes(MISSED_TEXT))
    if (!missedMessage) fail(`the replay did not bring the missed message (got ${events.map((e) => `${e.seq} ${e.type}`).join(', ')})`)
    ok(`reconnected; GET /api/events?since=${since.join(', since=')} replayed ${events.length} event(s): ${events.map((e) => `${e.seq} ${e.type}`).join(', ')}`)

    // 6. The missed handoff toast shows (only the replay can bring it), once; the live one is not repeated.
    const missedToast = page.locator(`${sel('handoff-toast')}[data-id="${missed.id}"]`)
    await missedToast.first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT }).catch(() => fail(`no handoff toast for the missed conversation ${missed.id} after the reconnect`))
    await page.waitForTimeout(500)
    const counts = { missed: await missedToast.count(), live: await page.locator(`${sel('handoff-toast')}[data-id="${liveId}"]`).count() }
    if (counts.missed !== 1 || counts.live !== 1) fail(`expected one toast per conversation, found ${JSON.stringify(counts)}`)
    ok(`missed handoff toast shown: "${(await missedToast.first().innerText()).replace(/\s+/g, ' ').trim()}"`)

    // 7. The missed conversation is in the list, waiting for a person; 查看 opens it with the missed message.
    const row = page.locator(sel('conversation-row'), { hasText: missedTitle })
    await row.first().waitFor({ state: 'visible' }).catch(() => fail(`no conversation row "${missedTitle}" in the list`))
    const rowMode = (await row.first().locator(sel('mode-tag')).innerText()).trim()
    if (rowMode !== '待人工') fail(`the missed conversation's row reads "${rowMode}", not 待人工`)
    await missedToast.first().locator(sel('handoff-view')).click()
    await page.waitForURL(new RegExp(`/conversations\\?(.*&)?id=${missed.id}`), { timeout: STEP_TIMEOUT }).catch(() => fail(`查看 did not open conversation ${missed.id} (at ${page.url()})`))
    const bubble = page.locator(`${sel('message')}[data-sent-by="customer"]`, { hasText: MISSED_TEXT })
    await bubble.first().waitFor({ state: 'visible' }).catch(() => fail(`the missed message "${MISSED_TEXT}" is not in the chat`))
    ok(`missed conversation "${missedTitle}" in the list (${rowMode}); 查看 opens it with the missed message "${MISSED_TEXT}"`)

    // 8. All of it without reloading the page.
    const marker = await page.evaluate(() => window.__resyncMarker)
    if (marker !== 'same page' || documentLoads !== loadsBefore) fail(`the page was reloaded (marker ${marker}, loads ${loadsBefore} -> ${documentLoads})`)
    ok('no page reload')
  })
}

runSteps('resync', main)
