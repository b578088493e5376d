// The dashboard's only script. Crawled text is untrusted: it only ever reaches the page as textContent.
"use strict";

const LABELS = { negative: "负面", neutral: "中性", positive: "正面", unknown: "未分析" };
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
  timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
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

function postItem(post) {
  const label = post.sentiment || "unknown";
  const link = linkOrText(post.url, post.title);
  const meta = el("div", { class: "meta" },
    el("span", {}, when(post.time)), el("span", {}, post.source),
    post.author ? el("span", {}, post.author) : "",
    post.score === null ? "" : el("span", {}, `正面概率 ${post.score.toFixed(2)}`));
  return el("li", { "data-post-id": post.id }, el("span", { class: `tag ${label}` }, LABELS[label]), link, meta);
}

function alertItem(alert) {
  const delivery = { sent: "已发送", pending: "待发送", none: "无收件人" };
  const link = el("a", { href: `/alerts/${encodeURIComponent(alert.id)}` }, alert.title);
  return el("li", { "data-alert-id": alert.id },
    el("span", { class: `tag ${alert.severity}` }, alert.severity_label), link,
    el("div", { class: "meta" }, el("span", {}, when(alert.created_at)), el("span", {}, alert.rule || ""),
      el("span", { class: "state" }, alert.state_label),
      alert.delivery ? el("span", {}, `邮件${delivery[alert.delivery] || alert.delivery}`) : ""));
}

const SOURCE_STATES = { ok: "正常", empty: "无结果", blocked: "被封禁", failing: "失败", silent: "长期无数据", pending: "未采集" };

function sourceRow(source) {
  const name = linkOrText(source.url, source.source, { title: source.message });
  return el("tr", { "data-source": source.source },
    el("td", {}, name),
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

function barItem([name, count], max) {
  const bar = el("span", { class: "bar" });
  bar.style.width = `${Math.max(2, (100 * count) / max)}%`;
  return el("li", {}, el("span", { class: "name", title: name }, name), el("span", {}, bar), el("span", { class: "n" }, count));
}

function drawChart(buckets, interval) {
  const box = document.getElementById("chart");
  const width = Math.max(box.clientWidth, 300), height = box.clientHeight || 220;
  const pad = { left: 36, right: 8, top: 8, bottom: 22 };
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
  const every = Math.ceil(buckets.length / 8);
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
      tip.textContent = `${when(bucket.start)} ${LABELS[key]} ${n}`;
      rect.append(tip);
      root.append(rect);
    }
    if (i % every === 0) {
      const t = svg("text", { x: x + barW / 2, y: height - 6, "text-anchor": "middle" });
      const p = parts(bucket.start);
      t.textContent = interval === "hour" ? `${Number(p.hour)}时` : `${Number(p.month)}/${Number(p.day)}`;
      root.append(t);
    }
  });
  box.replaceChildren(root);
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
    document.getElementById("count-alerts").textContent = data.alerts.length;
    drawChart(data.volume, data.interval);
    fill("negative-posts", data.negative_posts, postItem, "暂无负面信息");
    fill("latest-posts", data.latest_posts, postItem, "暂无信息：等待第一次采集");
    fill("alerts", data.alerts, alertItem, "暂无预警");
    const kmax = Math.max(1, ...data.keywords.map((k) => k[1]));
    fill("keywords", data.keywords, (k) => barItem(k, kmax), "暂无关键词");
    const smax = Math.max(1, ...data.sources.map((s) => s[1]));
    fill("sources", data.sources, (s) => barItem(s, smax), "暂无来源");
    await refreshSources();
    document.getElementById("updated").textContent = `更新于 ${when(data.generated_at)}`;
  } catch (error) {
    document.getElementById("updated").textContent = `更新失败（${error.message}），稍后重试`;
  }
}

async function search(event) {
  event.preventDefault();
  const params = new URLSearchParams({ q: document.getElementById("q").value, limit: "50" });
  const sentiment = document.getElementById("sentiment").value;
  if (sentiment) params.set("sentiment", sentiment);
  const response = await fetch(`/api/search?${params}`);
  const data = await response.json();
  document.getElementById("results").hidden = false;
  if (!response.ok) {  // a query that cannot be read: say what is wrong and where
    const where = Number.isInteger(data.position) ? `（第 ${data.position + 1} 个字符）` : "";
    document.getElementById("results-total").textContent = "";
    document.getElementById("results-list").replaceChildren(el("li", { class: "query-error" }, `查询有误${where}：${data.error}`));
    return;
  }
  document.getElementById("results-total").textContent = `共 ${data.total} 条`;
  fill("results-list", data.posts, postItem, "没有匹配的信息");
}

function startOverview() {
  document.querySelectorAll(".ranges button").forEach((button) => {
    button.addEventListener("click", () => {
      range = button.dataset.range;
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
