// The supplier's view: groups, each group's load curve, its statistics and alarms, from
// the service's supplier routes with the supplier's bearer token (kept in this tab only).
"use strict";

const $ = (id) => document.getElementById(id);

function authorization() {
    return { Authorization: `Bearer ${$("token").value.trim()}` };
}

function range() {
    const query = new URLSearchParams();
    if ($("from").value !== "") query.set("from", $("from").value);
    if ($("to").value !== "") query.set("to", $("to").value);
    return query;
}

async function loadGroups() {
    sessionStorage.setItem("supplier-token", $("token").value.trim());
    const list = await api("/v1/groups", { headers: authorization() });
    const select = $("group");
    const chosen = select.value;
    select.replaceChildren();
    for (const g of list.groups) {
        const option = element("option", { value: g.group }, `${g.group} · ${g.scheme} · ${g.meters} meters`);
        select.appendChild(option);
    }
    if (chosen) select.value = chosen;
    return list.groups;
}

function card(what, value, id) {
    const node = element("div", { class: "card", id });
    node.appendChild(element("div", { class: "value" }, value));
    node.appendChild(element("div", { class: "what" }, what));
    return node;
}

async function show() {
    const status = $("status");
    showStatus(status, "Loading…");
    try {
        const groups = await loadGroups();
        const group = Number($("group").value);
        const info = groups.find((g) => g.group === group);
        if (!info) throw new Error("no group on this service");
        const query = range();
        const headers = authorization();
        const cards = $("cards");
        cards.replaceChildren(
            card("meters in the group", info.meters, "card-meters"),
            card("meters reporting", info.meters_reporting, "card-reporting"),
            card("labels complete", info.labels_complete, "card-labels"),
            card("alarms", info.alarms, "card-alarms"));
        if (info.scheme === "paillier") {
            showStatus(status, `Group ${group} is a Paillier group: the service holds no key, and its sums are decrypted by the supplier (metering paillier). Alarms are shown below.`);
            lineChart($("curve"), [], { title: `group ${group}` });
            fillTable($("sums"), ["label"], []);
        } else {
            const sums = await api(`/v1/groups/${group}/sums?${query}`, { headers });
            const points = sums.sums.map((s) => ({ x: s.label, y: s.sum }));
            lineChart($("curve"), points, { title: `group ${group}: Wh per 15 minutes`, unit: "Wh" });
            fillTable(
                $("sums"), ["label", "time (UTC)", "sum (Wh)", "meters"],
                sums.sums.map((s) => [s.label, labelTime(s.label), s.sum, s.meters]));
            $("sums").dataset.sums = JSON.stringify(sums.sums.map((s) => [s.label, s.sum, s.meters]));
            if (sums.sums.length > 0) {
                const peak = sums.sums.reduce((a, b) => (b.sum > a.sum ? b : a));
                cards.appendChild(card(`peak: label ${peak.label}, ${labelTime(peak.label)} UTC`, `${peak.sum} Wh`, "card-peak"));
            }
            await showStatistics(group, query, headers);
        }
        await showAlarms(group, headers);
        showStatus(status, `Group ${group}: shown at ${new Date().toISOString().slice(0, 19)}Z.`);
        document.body.dataset.ready = "supplier";
    } catch (error) {
        showStatus(status, error.message, "error");
        document.body.dataset.ready = "error";
    }
}

async function showStatistics(group, query, headers) {
    const table = $("statistics");
    let stats;
    try {
        stats = await api(`/v1/groups/${group}/analytics?${query}`, { headers });
    } catch (error) {
        // 409 wrongPhase: no signed plan yet; 422: the group is below the plan's minimum size.
        const why = error.status === 409
            ? `No statistics for this group: it has no signed statistics plan (${error.message}).`
            : error.message;
        fillTable(table, ["statistics"], [[why]]);
        $("histogram").replaceChildren();
        $("histogram").setAttribute("width", 0);
        $("histogram").setAttribute("height", 0);
        table.dataset.statistics = "[]";
        return;
    }
    // The service names the inner edges e_1 … e_{B−1}: bin 0 is [0, e_1), the last [e_{B−1}, ∞).
    const bins = stats.bins && stats.bins.length > 0 ? [0, ...stats.bins] : [];
    const header = ["label", "time (UTC)", "meters", "sum (Wh)", "mean (Wh)", "variance (Wh²)"]
        .concat(bins.map((edge, i) => `${binName(bins, i)} Wh`));
    const round = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(2));
    fillTable(table, header, stats.labels.map((l) =>
        [l.label, labelTime(l.label), l.count, l.sum, round(l.mean), round(l.variance)].concat(l.histogram || [])));
    table.dataset.statistics = JSON.stringify(stats.labels);
    $("statistics-note").textContent =
        `Per label over ${stats.meters} households (the service refuses groups below ${stats.minimum_group_size}); ` +
        `histogram bins in Wh per 15 minutes, as the provisioning authority signed them.`;
    if (stats.labels.length > 0 && bins.length > 0) {
        const peak = stats.peak ? stats.labels.find((l) => l.label === stats.peak.label) : undefined;
        const shown = peak || stats.labels[stats.labels.length - 1];
        barChart($("histogram"), bins, shown.histogram,
            { title: `households per bin, label ${shown.label} (${labelTime(shown.label)} UTC)`, unit: "Wh per 15 minutes" });
    }
}

async function showAlarms(group, headers) {
    const table = $("alarms");
    try {
        const alarms = await api(`/v1/groups/${group}/alarms`, { headers });
        if (alarms.alarms.length === 0) {
            fillTable(table, ["alarms"], [["none"]]);
        } else {
            fillTable(table, ["kind", "meter", "label", "time (UTC)"],
                alarms.alarms.map((a) => [a.kind, a.meter, a.label, labelTime(a.label)]));
        }
        table.dataset.alarms = String(alarms.alarms.length);
    } catch (error) {
        fillTable(table, ["alarms"], [[error.message]]);
    }
}

/// "label,wh" lines (a header line and blank lines are skipped) → feeder entries.
function parseFeeder(text) {
    const entries = [];
    text.split(/\r?\n/).forEach((line, i) => {
        const cells = line.split(/[,;\t ]+/).filter((c) => c !== "");
        if (cells.length === 0 || (i === 0 && !/^[0-9]/.test(cells[0]))) return;
        if (cells.length !== 2 || !/^[0-9]+$/.test(cells[0]) || !/^[0-9]+$/.test(cells[1])) {
            throw new Error(`line ${i + 1}: expected label,Wh (whole numbers), got "${line}"`);
        }
        entries.push({ label: Number(cells[0]), wh: Number(cells[1]) });
    });
    if (entries.length === 0) throw new Error("no feeder readings");
    return entries;
}

async function checkFeeder(event) {
    event.preventDefault();
    const status = $("feeder-status");
    try {
        const group = Number($("group").value);
        const file = $("feeder-file").files[0];
        const text = file ? await file.text() : $("feeder").value;
        const body = {
            feeder: parseFeeder(text),
            tolerance_wh: Number($("tolerance-wh").value || 50),
            tolerance_percent: Number($("tolerance-percent").value || 5),
        };
        const report = await api(`/v1/groups/${group}/feeder-report`, {
            method: "POST", headers: { ...authorization(), "Content-Type": "application/json" }, body: JSON.stringify(body),
        });
        fillTable($("feeder-report"), ["label", "time (UTC)", "metered (Wh)", "feeder (Wh)", "gap (Wh)", ""],
            [...report.rows].sort((a, b) => (b.flagged - a.flagged) || (a.label - b.label)).map((r) => {
                const flag = element("span", { class: r.flagged ? "flag" : "good" }, r.flagged ? "FLAGGED" : "ok");
                return [r.label, labelTime(r.label), r.metered_wh ?? "—", r.feeder_wh ?? "—", r.gap_wh ?? "—", flag];
            }));
        $("feeder-report").dataset.flagged = JSON.stringify(report.flagged_labels);
        showStatus(status, report.flagged_labels.length === 0
            ? `No label flagged over ${report.rows.length} labels.`
            : `Flagged: label${report.flagged_labels.length > 1 ? "s" : ""} ${report.flagged_labels.join(", ")}.`,
            report.flagged_labels.length === 0 ? "info" : "error");
    } catch (error) {
        showStatus(status, error.message, "error");
    }
}

async function downloadCSV(event) {
    event.preventDefault();
    try {
        const group = Number($("group").value);
        const query = range();
        query.set("format", "csv");
        const text = await api(`/v1/groups/${group}/sums?${query}`, { headers: authorization() });
        const link = element("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: `group-${group}-sums.csv` });
        link.click();
    } catch (error) {
        showStatus($("status"), error.message, "error");
    }
}

document.addEventListener("DOMContentLoaded", () => {
    $("token").value = sessionStorage.getItem("supplier-token") || "";
    $("query").addEventListener("submit", (event) => { event.preventDefault(); show(); });
    $("groups").addEventListener("click", () => loadGroups().catch((e) => showStatus($("status"), e.message, "error")));
    $("csv").addEventListener("click", downloadCSV);
    $("feeder-form").addEventListener("submit", checkFeeder);
    lineChart($("curve"), [], { title: "enter the supplier token and press Show" });
});
