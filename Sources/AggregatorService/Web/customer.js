// The household's view: the customer's own detail frames, fetched from the service with a
// login value derived from the key and decrypted here with WebCrypto's AES-GCM
// (docs/spec/customer-detail.md). The key never leaves this page.
"use strict";

const $ = (id) => document.getElementById(id);
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const FRAME_TYPE_DETAIL = 0x06;
const HEADER_BYTES = 24;
const VERIFIER_BYTES = 16;
const LOGIN_BLOCK = new TextEncoder().encode("PM-CUSTOMER-ID-1");

/// The 16-byte key of a typed code (CustomerCode.parse): case, hyphens and spaces ignored,
/// O read as 0, I and L as 1; the Luhn mod 32 check symbol must match.
function parseCode(typed) {
    const values = [];
    for (const ch of typed.toUpperCase()) {
        if (ch === "-" || ch === " ") continue;
        const c = ch === "O" ? "0" : ch === "I" || ch === "L" ? "1" : ch;
        const v = ALPHABET.indexOf(c);
        if (v < 0) throw new Error(`"${ch}" is not a symbol of the code`);
        values.push(v);
    }
    if (values.length !== 27) throw new Error(`a code has 27 symbols, this one ${values.length}`);
    let sum = 0, double = true;
    for (let i = 25; i >= 0; i--) {
        let addend = values[i] << (double ? 1 : 0);
        sum += (addend >> 5) + (addend & 31);
        double = !double;
    }
    if ((32 - (sum % 32)) % 32 !== values[26]) throw new Error("the code's check symbol does not match: a symbol is mistyped");
    if ((values[25] & 3) !== 0) throw new Error("this is not a meter's code");
    const key = new Uint8Array(16);
    for (let bit = 0; bit < 128; bit++) {
        const v = (values[Math.floor(bit / 5)] >> (4 - (bit % 5))) & 1;
        key[bit >> 3] |= v << (7 - (bit % 8));
    }
    return key;
}

/// w = AES-128_K("PM-CUSTOMER-ID-1"): one AES-CTR block over zeros with that block as the
/// counter is exactly the block's encryption.
async function loginValue(keyBytes) {
    const key = await crypto.subtle.importKey("raw", keyBytes, "AES-CTR", false, ["encrypt"]);
    const block = await crypto.subtle.encrypt({ name: "AES-CTR", counter: LOGIN_BLOCK, length: 64 }, key, new Uint8Array(16));
    return new Uint8Array(block);
}

function u64(bytes, at) {
    let v = 0n;
    for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(bytes[at + i]);
    return v;
}

/// Opens one detail frame: nonce = type ‖ 0 ‖ 0 0 ‖ label u64be, AAD = header and verifier,
/// the ciphertext and GCM tag after them. Returns {label, wattHours, minutes} or throws.
async function openFrame(key, frame) {
    if (frame[1] !== FRAME_TYPE_DETAIL) throw new Error("not a detail frame");
    const aad = frame.slice(0, HEADER_BYTES + VERIFIER_BYTES);
    const sealed = frame.slice(HEADER_BYTES + VERIFIER_BYTES, frame.length - 16);
    const label = u64(frame, 12);
    const nonce = new Uint8Array(12);
    nonce[0] = FRAME_TYPE_DETAIL;
    for (let i = 0; i < 8; i++) nonce[4 + i] = frame[12 + i];
    const plain = new Uint8Array(await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, key, sealed));
    const mask = (plain[2] << 8) | plain[3];
    const wattHours = u64(plain, 4);
    const minutes = [];
    for (let m = 0; m < 15; m++) {
        minutes.push(mask & (1 << m) ? (plain[12 + 2 * m] << 8) | plain[13 + 2 * m] : null);
    }
    return { label, wattHours, minutes };
}

function range() {
    const query = new URLSearchParams();
    if ($("from").value !== "") query.set("from", $("from").value);
    if ($("to").value !== "") query.set("to", $("to").value);
    return query;
}

function card(what, value, id) {
    const node = element("div", { class: "card", id });
    node.appendChild(element("div", { class: "value" }, value));
    node.appendChild(element("div", { class: "what" }, what));
    return node;
}

let session = null;  // { headers, key } while the page is open; never stored

async function show() {
    const status = $("status");
    showStatus(status, "Opening…");
    try {
        const keyBytes = parseCode($("code").value);
        $("code").value = "";  // the key now lives only in the non-extractable WebCrypto key below
        const w = await loginValue(keyBytes);
        const key = await crypto.subtle.importKey("raw", keyBytes, "AES-GCM", false, ["decrypt"]);
        keyBytes.fill(0);
        session = { headers: { Authorization: `Customer ${hex(w)}` }, key };
        const detail = await api(`/v1/customer/detail?${range()}`, { headers: session.headers });
        const readings = [];
        let refused = 0;
        for (const f of detail.frames) {
            try {
                readings.push(await openFrame(key, fromHex(f.hex)));
            } catch {
                refused += 1;
            }
        }
        readings.sort((a, b) => (a.label < b.label ? -1 : 1));
        const total = readings.reduce((s, r) => s + r.wattHours, 0n);
        $("cards").replaceChildren(
            card(`meter ${detail.meter}, group ${detail.group}`, `${readings.length} readings`, "card-readings"),
            card("energy in these readings", `${(Number(total) / 1000).toFixed(3)} kWh`, "card-total"),
            card("frames that did not open", refused, "card-refused"));
        lineChart($("curve"), readings.map((r) => ({ x: r.label, y: Number(r.wattHours) })),
            { title: `your energy per 15 minutes`, unit: "Wh" });
        fillTable($("readings"), ["label", "time (UTC)", "energy (Wh)", "minutes measured", "peak minute (W)"],
            readings.map((r) => {
                const measured = r.minutes.filter((m) => m !== null);
                return [String(r.label), labelTime(r.label), String(r.wattHours), measured.length,
                    measured.length ? Math.max(...measured) : "—"];
            }));
        $("readings").dataset.readings = JSON.stringify(readings.map((r) => [String(r.label), String(r.wattHours)]));
        await Promise.all([showGrants(), showAudit()]);
        showStatus(status, `Opened ${readings.length} of your readings in this browser.`);
        document.body.dataset.ready = "customer";
    } catch (error) {
        showStatus(status, error.status === 401 || error.status === 404
            ? `The service has no readings for this code (${error.message}).` : error.message, "error");
        document.body.dataset.ready = "error";
    }
}

async function showGrants() {
    const table = $("grants");
    try {
        const list = await api("/v1/customer/grants", { headers: session.headers });
        const grants = list.grants || [];
        if (grants.length === 0) {
            fillTable(table, ["grants"], [["none: nobody but you reads your detail"]]);
        } else {
            fillTable(table, ["grantee", "purpose", "labels", "expires", "status", ""], grants.map((g) => {
                const active = g.status === "active";
                const button = element("button", { type: "button", class: "secondary", "data-grant": g.id }, "Revoke");
                button.disabled = !active;
                button.addEventListener("click", () => revoke(g.id));
                return [g.grantee, g.purpose, `${g.from}–${g.to}`, g.expires || "—", g.status, button];
            }));
        }
        table.dataset.grants = JSON.stringify(grants.map((g) => [g.id, g.status]));
    } catch (error) {
        fillTable(table, ["grants"], [[error.message]]);
    }
}

async function revoke(id) {
    try {
        await api(`/v1/customer/grants/${encodeURIComponent(id)}`, { method: "DELETE", headers: session.headers });
        showStatus($("status"), `Grant ${id} revoked.`);
        await Promise.all([showGrants(), showAudit()]);
        document.body.dataset.revoked = id;
    } catch (error) {
        showStatus($("status"), error.message, "error");
    }
}

async function showAudit() {
    const table = $("audit");
    try {
        const log = await api("/v1/customer/audit", { headers: session.headers });
        const entries = log.entries || [];
        fillTable(table, ["#", "time (UTC)", "event", "party", "grant", "labels", "detail"], entries.map((e) =>
            [e.seq, e.time, e.kind, e.party || "—", e.grant || "—", e.grant ? `${e.from}–${e.to}` : "—", e.detail || ""]));
        table.dataset.events = JSON.stringify(entries.map((e) => e.kind));
    } catch (error) {
        fillTable(table, ["audit log"], [[error.message]]);
    }
}

document.addEventListener("DOMContentLoaded", () => {
    $("open").addEventListener("submit", (event) => { event.preventDefault(); show(); });
    lineChart($("curve"), [], { title: "type your code and press Open" });
});
