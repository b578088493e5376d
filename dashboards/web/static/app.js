// The dashboard's only script. Crawled text is untrusted: it only ever reaches the page as textContent.
"use strict";

const LABELS = { negative: "负面", neutral: "中性", positive: "正面", unknown: "未分析" };
// The label is the verdict; the score only leans it, and says so where it is shown.
const LEAN_HINT = "0 偏负面，1 偏正面；情感以标签为准";
const STACK = ["negative", "neutral", "positive", "unknown"];
const SVG = "http://www.w3.org/2000/svg";
let range = "24h";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function fill(id, items, render, emptyText) {
  const list = document.getElementById(id);
  list.replaceChildren(...(items.length ? items.map(render) : [el("li", { class: "empty" }, emptyText)]));
}

// Times read the same on every office machine: Asia/Shanghai, whatever the browser's own zone.
const PARTS = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  hourCycle: "h23",
});

function parts(iso) {
  const out = {};
  for (const p of PARTS.formatToParts(new Date(iso))) out[p.type] = p.value;
  return out;
}

function when(iso) {
  const p = parts(iso);
  return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

// models.WEB_LINK's rule: only a plain http(s) address becomes a link; anything else a feed sends stays text.
const WEB_LINK = /^https?:\/\/[^\x00-\x20\x7f]+$/i;

function linkOrText(url, text, attrs = {}) {
  if (typeof url === "string" && WEB_LINK.test(url)) {
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer", ...attrs }, text);
  }
  return el("span", { class: "unlinked", ...attrs }, text);
}

// What the page showed at the last refresh: an item not among them is new, and is marked so.
const seen = new Map();

function markNew(listId, node, id) {
  const known = seen.get(listId);
  if (known && !known.has(id)) node.classList.add("new");
  return node;
}

function remember(listId, items, key) {
  seen.set(listId, new Set(items.map(key)));
}

function postItem(post) {
  const label = post.sentiment || "unknown";
  const link = linkOrText(post.url, post.title);
  const meta = el("div", { class: "meta" },
    el("span", {}, when(post.time)), el("span", {}, post.outlet || post.source),
    post.author ? el("span", {}, post.author) : "",
    post.score === null ? "" : el("span", { title: LEAN_HINT }, `正负倾向 ${post.score.toFixed(2)}`));
  return el("li", { "data-post-id": post.id }, el("span", { class: `tag ${label}` }, LABELS[label]), link, meta);
}

function alertItem(alert) {
  const delivery = { sent: "已发送", pending: "待发送", none: "无收件人" };
  const link = el("a", { href: `/alerts/${encodeURIComponent(alert.id)}` }, alert.title);
  return el("li", { "data-alert-id": alert.id },
    el("span", { class: `tag ${alert.severity}` }, alert.severity_label), link,
    el("div", { class: "meta" }, el("span", {}, when(alert.created_at)), el("span", {}, alert.rule_label || ""),
      el("span", { class: "state" }, alert.state_label),
      alert.delivery ? el("span", {}, `邮件${delivery[alert.delivery] || alert.delivery}`) : ""));
}

const SOURCE_STATES = { ok: "正常", empty: "无结果", blocked: "被封禁", failing: "失败", silent: "长期无数据", pending: "未采集" };

function sourceRow(source) {
  const name = linkOrText(source.url, source.name, { title: source.message });
  const id = source.name === source.source ? "" : el("span", { class: "source-id" }, source.source);
  return el("tr", { "data-source": source.source },
    el("td", {}, name, id),
    el("td", {}, el("span", { class: `tag state-${source.status}` }, SOURCE_STATES[source.status] || source.status)),
    el("td", {}, source.error_class || "—"),
    el("td", {}, source.last_success ? when(source.last_success) : "—"),
    el("td", {}, source.last_attempt ? when(source.last_attempt) : "—"),
    el("td", {}, source.consecutive_failures),
    el("td", { class: "runs" }, source.items.join(" ")));
}

async function refreshSources() {
  const response = await fetch("/api/sources");
  if (!response.ok) return;
  const data = await response.json();
  const body = document.getElementById("source-health");
  body.replaceChildren(...(data.sources.length ? data.sources.map(sourceRow)
    : [el("tr", {}, el("td", { class: "empty", colspan: "7" }, "未配置采集源"))]));
}

function barItem(name, count, max, mark = "") {
  const bar = el("span", { class: "bar" });
  bar.style.width = `${Math.max(2, (100 * count) / max)}%`;
  return el("li", {}, el("span", { class: "name", title: name }, name, mark), el("span", {}, bar),
    el("span", { class: "n" }, count));
}

function bars(id, items, name, count, emptyText, mark = () => "") {
  const max = Math.max(1, ...items.map(count));
  fill(id, items, (item) => barItem(name(item), count(item), max, mark(item)), emptyText);
}

// An axis label says the day wherever it changes (and at the first label), so 14:00 of two days never look alike.
function axisLabel(iso, interval, previous) {
  const p = parts(iso);
  const day = `${Number(p.month)}/${Number(p.day)}`;
  if (interval === "day") return day;
  const clock = `${p.hour}:${p.minute}`;
  return !previous || parts(previous).day !== p.day ? `${day} ${clock}` : clock;
}

function drawChart(buckets, interval) {
  const box = document.getElementById("chart");
  const width = Math.max(box.clientWidth, 300), height = box.clientHeight || 220;
  const pad = { left: 36, right: 40, top: 8, bottom: 22 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "信息量走势" });
  if (!buckets.length) {
    const t = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" });
    t.textContent = "暂无数据";
    root.append(t);
    box.replaceChildren(root);
    return;
  }
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const plotH = height - pad.top - pad.bottom, plotW = width - pad.left - pad.right;
  const step = plotW / buckets.length, barW = Math.max(1, step * 0.7);
  for (const value of new Set([0, Math.round(max / 2), max])) {
    const y = pad.top + plotH * (1 - value / max);
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y }));
    const label = svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end" });
    label.textContent = String(value);
    root.append(label);
  }
  for (const share of [0, 50, 100]) {  // the right-hand axis: the negative share line's
    const label = svg("text", { x: width - pad.right + 4, y: pad.top + plotH * (1 - share / 100) + 4, class: "share" });
    label.textContent = `${share}%`;
    root.append(label);
  }
  const every = Math.ceil(buckets.length / 8);
  let labelled = null;
  const runs = [[]];  // the share line breaks where a bucket holds nothing: no share to draw there
  buckets.forEach((bucket, i) => {
    let y = pad.top + plotH;
    const x = pad.left + i * step + (step - barW) / 2;
    for (const key of STACK) {
      const n = bucket[key] || 0;
      if (!n) continue;
      const h = (plotH * n) / max;
      y -= h;
      const rect = svg("rect", { x, y, width: barW, height: h, class: `bar ${key}` });
      const tip = svg("title");
      tip.textContent = `${axisLabel(bucket.start, interval, null)} ${LABELS[key]} ${n}`;
      rect.append(tip);
      root.append(rect);
    }
    if (bucket.total) runs[runs.length - 1].push([x + barW / 2, pad.top + plotH * (1 - bucket.negative / bucket.total)]);
    else if (runs[runs.length - 1].length) runs.push([]);
    if (i % every === 0) {
      const t = svg("text", { x: x + barW / 2, y: height - 6, "text-anchor": "middle", class: "tick" });
      t.textContent = axisLabel(bucket.start, interval, labelled);
      labelled = bucket.start;
      root.append(t);
    }
  });
  for (const run of runs.filter((r) => r.length)) {
    if (run.length === 1) root.append(svg("circle", { cx: run[0][0], cy: run[0][1], r: 2.5, class: "share" }));
    else root.append(svg("polyline", { points: run.map((p) => p.join(",")).join(" "), class: "share" }));
  }
  box.replaceChildren(root);
}

function spark(counts) {
  const width = 96, height = 24, max = Math.max(1, ...counts);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img",
    "aria-label": `近两小时每10分钟：${counts.join(" ")}` });
  const points = counts.map((n, i) => `${(i * width) / Math.max(1, counts.length - 1)},${height - 2 - ((height - 4) * n) / max}`);
  root.append(svg("polyline", { points: points.join(" ") }));
  return root;
}

function eventItem(event) {
  const alert = event.alert;
  const split = STACK.filter((k) => event.sentiment[k]).map((k) => `${LABELS[k]} ${event.sentiment[k]}`).join(" / ");
  const growth = event.growth > 0 ? `+${event.growth}` : String(event.growth);
  return markNew("events", el("li", { "data-event-id": event.id },
    el("div", { class: "event-head" },
      el("span", { class: "risk", title: "风险" }, event.risk.toFixed(2)),
      el("a", { href: `/events/${encodeURIComponent(event.id)}` }, event.title),
      ...event.schemes.map((scheme) => el("span", { class: "scheme" }, scheme)),
      alert ? el("a", { class: `tag state-${alert.state}`, href: `/alerts/${encodeURIComponent(alert.id)}` },
        `预警${alert.severity_label}·${alert.state_label}`) : el("span", { class: "tag unknown" }, "未预警")),
    el("div", { class: "meta" },
      el("span", {}, `首发 ${event.first_poster}`), el("span", {}, `始于 ${when(event.first_seen)}`),
      el("span", { class: "posts-n" }, `${event.posts} 条`), el("span", {}, `近一小时 ${growth}`),
      spark(event.spark),
      el("span", {}, event.platforms.join("、")), el("span", {}, event.sources.join("、")),
      el("span", {}, split))), event.id);
}

async function refresh() {
  try {
    const response = await fetch(`/api/summary?range=${range}`);
    if (!response.ok) {
      const said = await response.json().catch(() => ({}));
      throw new Error(said.error || `HTTP ${response.status}`);
    }
    const data = await response.json();
    document.getElementById("count-total").textContent = data.counts.total;
    document.getElementById("count-range").textContent = data.counts.in_range;
    document.getElementById("count-negative").textContent = data.counts.negative;
    document.getElementById("count-alerts").textContent = data.counts.alerts;
    document.getElementById("pace-now").textContent = data.pace.posts;
    document.getElementById("pace-baseline").textContent = `前${data.pace.days}天同时段均值 ${data.pace.baseline}`;
    document.getElementById("pace-now").classList.toggle("above", data.pace.posts > 2 * Math.max(1, data.pace.baseline));
    drawChart(data.volume, data.interval);
    fill("events", data.events, eventItem, "暂无活跃事件");
    fill("negative-posts", data.negative_posts, (p) => markNew("negative-posts", postItem(p), p.id), "暂无负面信息");
    fill("latest-posts", data.latest_posts, (p) => markNew("latest-posts", postItem(p), p.id), "暂无信息：等待第一次采集");
    fill("alerts", data.alerts, (a) => markNew("alerts", alertItem(a), a.id), "暂无预警");
    remember("events", data.events, (e) => e.id);
    remember("negative-posts", data.negative_posts, (p) => p.id);
    remember("latest-posts", data.latest_posts, (p) => p.id);
    remember("alerts", data.alerts, (a) => a.id);
    bars("keywords", data.keywords, (k) => k.word, (k) => k.count, "暂无关键词",
      (k) => (k.rising ? el("span", { class: "rising", title: `前七期均值 ${k.baseline}` }, " ↑") : ""));
    for (const [field, empty] of [["source", "暂无来源"], ["platform", "暂无平台"], ["tier", "暂无来源类型"], ["region", "暂无地域信息"]]) {
      bars(`breakdown-${field}`, data.breakdowns[field], (b) => b.label, (b) => b.count, empty);
    }
    bars("authors", data.authors, (a) => `${a.name}（${a.posts}条）`, (a) => a.reach, "暂无作者");
    await refreshSources();
    const p = parts(data.generated_at);
    document.getElementById("updated").textContent = `更新于 ${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  } catch (error) {
    document.getElementById("updated").textContent = `更新失败（${error.message}），稍后重试`;
  }
}

async function search(event) {
  event.preventDefault();
  const params = new URLSearchParams({ q: document.getElementById("q").value, range, limit: "50" });
  const sentiment = document.getElementById("sentiment").value;
  if (sentiment) params.set("sentiment", sentiment);
  const response = await fetch(`/api/search?${params}`);
  const data = await response.json();
  document.getElementById("results").hidden = false;
  if (!response.ok) {  // a query that cannot be read: say what is wrong and where
    const where = Number.isInteger(data.position) ? `（第 ${data.position + 1} 个字符）` : "";
    document.getElementById("results-total").textContent = "";
    document.getElementById("results-all").hidden = true;
    document.getElementById("results-list").replaceChildren(el("li", { class: "query-error" }, `查询有误${where}：${data.error}`));
    return;
  }
  document.getElementById("results-total").textContent = `共 ${data.total} 条`;
  // The search page pages through them all and exports them, for the same range and moment.
  const all = document.getElementById("results-all");
  all.href = data.search_url;
  all.textContent = data.total > data.posts.length ? `列出前 ${data.posts.length} 条 · 在搜索页查看全部 ${data.total} 条（可翻页、导出）`
    : "在搜索页打开（可导出）";
  all.hidden = false;
  fill("results-list", data.posts, postItem, "没有匹配的信息");
}

function startOverview() {
  document.querySelectorAll(".ranges button").forEach((button) => {
    button.addEventListener("click", () => {
      range = button.dataset.range;
      seen.clear();  // another range's lists: nothing in them is new
      document.querySelectorAll(".ranges button").forEach((b) => b.classList.toggle("active", b === button));
      refresh();
    });
  });
  document.getElementById("search").addEventListener("submit", search);
  document.getElementById("results-close").addEventListener("click", () => { document.getElementById("results").hidden = true; });
  window.addEventListener("resize", () => refresh());
  refresh();
  setInterval(refresh, Number(document.body.dataset.refreshMs) || 15000);
}

// The clipboard API needs a secure context (https or localhost); a dashboard opened by its LAN address falls
// back to selecting the text and the older copy command.
async function copyText(textarea) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(textarea.value);
    return;
  }
  textarea.select();
  if (!document.execCommand("copy")) throw new Error("浏览器不允许复制，请手动选择文字后复制");
}

function startAlert() {
  const button = document.getElementById("copy-statement");
  const status = document.getElementById("copy-status");
  button.addEventListener("click", async () => {
    try {
      await copyText(document.getElementById(button.dataset.target));
      status.textContent = "已复制";
    } catch (error) {
      status.textContent = `复制失败：${error.message}`;
    }
  });
  // The officer's name, typed once per browser rather than for every action (signed in, the account acts).
  const who = document.getElementById("who");
  if (!who) return;
  who.value = localStorage.getItem("yuqing.who") || "";
  document.getElementById("act").addEventListener("submit", () => localStorage.setItem("yuqing.who", who.value.trim()));
}

const START = { overview: startOverview, alert: startAlert };
(START[document.body.dataset.page] || (() => {}))();
