// Shared by the supplier's and the customer's pages: requests to the service, labels as
// times, and charts drawn as SVG. No library, no network beyond the service itself.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

/// A label is the index of a 15-minute interval since 1970-01-01T00:00Z.
function labelTime(label) {
    const date = new Date(Number(label) * 900 * 1000);
    return date.toISOString().slice(0, 16).replace("T", " ");
}

/// Fetches JSON from the service; a problem document (RFC 9457) becomes an Error whose
/// message names the typed error.
async function api(path, options = {}) {
    const response = await fetch(path, options);
    const type = response.headers.get("content-type") || "";
    if (!response.ok) {
        let detail = `${response.status} ${response.statusText}`;
        if (type.includes("json")) {
            const problem = await response.json();
            detail = `${problem.title || response.status}: ${problem.detail || ""}`;
        }
        const error = new Error(detail);
        error.status = response.status;
        throw error;
    }
    if (response.status === 204) return null;
    return type.includes("json") ? response.json() : response.text();
}

function element(name, attributes = {}, text) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
}

function svgElement(name, attributes = {}, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
}

/// Replaces the rows of `table` (a <table>) with `rows`: arrays of cell texts; the first
/// cell of each row is left-aligned when `textFirst`.
function fillTable(table, header, rows, textFirst = true) {
    table.replaceChildren();
    const head = element("tr");
    header.forEach((h, i) => head.appendChild(element("th", i === 0 && textFirst ? { class: "text" } : {}, h)));
    table.appendChild(head);
    for (const row of rows) {
        const tr = element("tr");
        row.forEach((cell, i) => {
            if (cell instanceof Node) {
                const td = element("td");
                td.appendChild(cell);
                tr.appendChild(td);
            } else {
                // Numbers right-aligned, words left (the first column always left when textFirst).
                const numeric = /^[-+]?[0-9][0-9 .,]*$/.test(String(cell)) || String(cell) === "—";
                const left = (i === 0 && textFirst) || !numeric;
                tr.appendChild(element("td", left ? { class: "text" } : {}, String(cell)));
            }
        });
        table.appendChild(tr);
    }
}

function showStatus(target, text, kind = "info") {
    target.replaceChildren();
    if (!text) return;
    target.appendChild(element("div", { class: `status ${kind}`, role: kind === "error" ? "alert" : "status" }, text));
}

/// A round step for about `count` ticks over [0, max].
function niceStep(max, count) {
    if (max <= 0) return 1;
    const raw = max / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * power) return m * power;
    return 10 * power;
}

/// A line chart of `points` ([{x: label, y: value}]) into the <svg> `target`, labels on the
/// x axis as times, `unit` on the y axis.
function lineChart(target, points, { title = "", unit = "", width = 860, height = 300 } = {}) {
    target.replaceChildren();
    target.setAttribute("viewBox", `0 0 ${width} ${height}`);
    target.setAttribute("width", width);
    target.setAttribute("height", height);
    target.setAttribute("class", "chart");
    const left = 64, right = 16, top = 28, bottom = 44;
    const w = width - left - right, h = height - top - bottom;
    target.appendChild(svgElement("text", { x: left, y: 18, class: "title" }, title));
    if (points.length === 0) {
        target.appendChild(svgElement("text", { x: left + 10, y: top + h / 2, class: "tick" }, "no data"));
        return;
    }
    const xs = points.map((p) => Number(p.x)), ys = points.map((p) => Number(p.y));
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    const step = niceStep(Math.max(...ys, 1), 5);
    const yMax = Math.ceil(Math.max(...ys, 1) / step) * step;
    const px = (x) => left + ((x - x0) / (x1 - x0)) * w;
    const py = (y) => top + h - (y / yMax) * h;
    for (let v = 0; v <= yMax + 1e-9; v += step) {
        target.appendChild(svgElement("line", { x1: left, x2: left + w, y1: py(v), y2: py(v), class: "grid" }));
        target.appendChild(
            svgElement("text", { x: left - 6, y: py(v) + 4, "text-anchor": "end", class: "tick" }, formatNumber(v)));
    }
    const ticks = Math.min(6, xs.length);
    for (let i = 0; i < ticks; i++) {
        const x = Math.round(x0 + ((x1 - x0) * i) / Math.max(ticks - 1, 1));
        target.appendChild(svgElement("line", { x1: px(x), x2: px(x), y1: top + h, y2: top + h + 4, class: "axis" }));
        const anchor = i === 0 && ticks > 1 ? "start" : i === ticks - 1 && ticks > 1 ? "end" : "middle";
        target.appendChild(
            svgElement("text", { x: px(x), y: top + h + 17, "text-anchor": anchor, class: "tick" }, labelTime(x).slice(5)));
        target.appendChild(
            svgElement("text", { x: px(x), y: top + h + 31, "text-anchor": anchor, class: "tick" }, `label ${x}`));
    }
    target.appendChild(svgElement("line", { x1: left, x2: left, y1: top, y2: top + h, class: "axis" }));
    target.appendChild(svgElement("line", { x1: left, x2: left + w, y1: top + h, y2: top + h, class: "axis" }));
    target.appendChild(
        svgElement("text", { x: 12, y: top + h / 2, class: "tick", transform: `rotate(-90 12 ${top + h / 2})`, "text-anchor": "middle" }, unit));
    const line = points.map((p) => `${px(Number(p.x)).toFixed(1)},${py(Number(p.y)).toFixed(1)}`).join(" ");
    const first = px(xs[0]).toFixed(1), last = px(xs[xs.length - 1]).toFixed(1), base = py(0).toFixed(1);
    target.appendChild(svgElement("polygon", { points: `${first},${base} ${line} ${last},${base}`, class: "area" }));
    target.appendChild(svgElement("polyline", { points: line, class: "curve" }));
    for (const p of points) {
        const dot = svgElement("circle", { cx: px(Number(p.x)), cy: py(Number(p.y)), r: 2.2, class: "bar" });
        dot.appendChild(svgElement("title", {}, `label ${p.x} (${labelTime(p.x)} UTC): ${p.y} ${unit}`));
        target.appendChild(dot);
    }
}

/// Bars of `counts` over the bins between `edges` (edges[i] ≤ x < edges[i+1]; the last
/// bin is open above).
function barChart(target, edges, counts, { title = "", unit = "", width = 420, height = 220 } = {}) {
    target.replaceChildren();
    target.setAttribute("viewBox", `0 0 ${width} ${height}`);
    target.setAttribute("width", width);
    target.setAttribute("height", height);
    target.setAttribute("class", "chart");
    const left = 44, right = 10, top = 26, bottom = 40;
    const w = width - left - right, h = height - top - bottom;
    target.appendChild(svgElement("text", { x: left, y: 17, class: "title" }, title));
    const max = Math.max(...counts, 1) * 1.12;  // room above the tallest bar for its count
    const bw = w / Math.max(counts.length, 1);
    counts.forEach((c, i) => {
        const bh = (c / max) * h;
        const bar = svgElement("rect", { x: left + i * bw + 2, y: top + h - bh, width: Math.max(bw - 4, 1), height: bh, class: "bar" });
        bar.appendChild(svgElement("title", {}, `${binName(edges, i)} ${unit}: ${c} households`));
        target.appendChild(bar);
        target.appendChild(svgElement("text", { x: left + i * bw + bw / 2, y: top + h - bh - 3, "text-anchor": "middle", class: "tick" }, c));
        target.appendChild(
            svgElement("text", { x: left + i * bw + bw / 2, y: top + h + 15, "text-anchor": "middle", class: "tick" }, binName(edges, i)));
    });
    target.appendChild(svgElement("line", { x1: left, x2: left + w, y1: top + h, y2: top + h, class: "axis" }));
    target.appendChild(svgElement("text", { x: left + w / 2, y: height - 6, "text-anchor": "middle", class: "tick" }, unit));
}

function binName(edges, i) {
    return i + 1 < edges.length ? `${edges[i]}–${edges[i + 1]}` : `≥ ${edges[i]}`;
}

function formatNumber(v) {
    if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)} M`;
    if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(0)} k`;
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text) {
    if (text.length % 2 !== 0 || /[^0-9a-fA-F]/.test(text)) throw new Error("not hex");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
}
