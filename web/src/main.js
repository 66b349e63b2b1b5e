// Keelson map page: live vessels on an offline Natural Earth basemap.
//
// Talks to the Keelson API of the server that serves it (same origin), with
// the API key from the URL fragment (#key=...) kept in localStorage:
//   GET /v1/vessels?bbox=W,S,E,N&format=geojson      latest positions
//   GET /v1/vessels/{id}                             vessel card
//   GET /v1/vessels/{id}/track?from=&to=             track (GeoJSON LineString)
// A vessel's id is its MMSI, or for an own ship stored without an MMSI
// (mmsi 0) its vessel id: own ships get their own marker style.
//   GET /v1/positions?bbox=&from=&to=&format=...     replay and export
import L from "leaflet";
import { feature, mesh } from "topojson-client";
import "leaflet/dist/leaflet.css";
import "./style.css";

// Script errors and Content-Security-Policy violations are recorded on the
// page, where the browser test looks for them.
window.addEventListener("error", (e) => (document.body.dataset.jsError = String(e.message)));
window.addEventListener("unhandledrejection", (e) => (document.body.dataset.jsError = String(e.reason)));
document.addEventListener("securitypolicyviolation", (e) => (document.body.dataset.cspViolation = e.violatedDirective + " " + e.blockedURI));

const REFRESH_MS = 5000; // live refresh period
const REPLAY_WINDOW_MIN = 5; // a replayed frame shows each vessel's last position within this
const REPLAY_PAGE = 10000; // positions per request of a replayed frame
const REPLAY_MAX_PAGES = 6; // at most this many requests per frame
const LIMIT = 5000; // vessels or positions per request

// ---- API key ---------------------------------------------------------------

const KEY_STORE = "keelson.apiKey";

function keyFromFragment() {
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!m) return null;
  const key = decodeURIComponent(m[1]);
  localStorage.setItem(KEY_STORE, key);
  // Keep the key out of the address bar, history and screenshots.
  history.replaceState(null, "", location.pathname + location.search);
  return key;
}

let apiKey = keyFromFragment() || localStorage.getItem(KEY_STORE) || "";

// ---- API -------------------------------------------------------------------

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, params) {
  const url = new URL(path, location.href);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const res = await fetch(url, { headers: apiKey ? { Authorization: "Bearer " + apiKey } : {} });
  if (!res.ok) {
    let code = "http_" + res.status, msg = res.statusText;
    try {
      const body = await res.json();
      if (body && body.error) ({ code = code, message: msg = msg } = body.error);
    } catch (_) { /* not JSON */ }
    throw new APIError(res.status, code, msg);
  }
  return res;
}

async function apiJSON(path, params) {
  return (await api(path, params)).json();
}

// ---- helpers ---------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// pick returns the first of the named properties that is set, looking into
// nested objects too ("static.name" style lookups are flattened by flatten).
function pick(o, ...names) {
  for (const n of names) {
    const v = o[n];
    if (v !== undefined && v !== null && v !== "" && !(typeof v === "number" && Number.isNaN(v))) return v;
  }
  return undefined;
}

// flatten turns {"static":{"name":"X"},"position":{"sog":1}} into
// {"name":"X","sog":1,...}: the outermost value wins.
function flatten(o, into = {}) {
  if (!o || typeof o !== "object") return into;
  const nested = [];
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === "object" && !Array.isArray(v)) nested.push(v);
    else if (!(k in into)) into[k] = v;
  }
  for (const n of nested) flatten(n, into);
  return into;
}

function fmtTime(t) {
  if (!t) return "–";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function fmtAgo(t) {
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (!Number.isFinite(s)) return "";
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

const num = (v, digits, unit) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) + (unit || "") : "–");

// ---- ship types ------------------------------------------------------------

// ITU-R M.1371 ship and cargo type, grouped as on most AIS charts.
const TYPES = [
  { name: "Cargo", color: "#2e9e44", test: (t) => t >= 70 && t <= 79 },
  { name: "Tanker", color: "#d7301f", test: (t) => t >= 80 && t <= 89 },
  { name: "Passenger", color: "#2166ac", test: (t) => t >= 60 && t <= 69 },
  { name: "High speed", color: "#e6ab02", test: (t) => t >= 40 && t <= 49 },
  { name: "Fishing", color: "#f46d43", test: (t) => t === 30 },
  { name: "Tug, pilot, service", color: "#1b9e9e", test: (t) => t === 31 || t === 32 || (t >= 50 && t <= 59) || t === 33 || t === 34 || t === 35 },
  { name: "Sailing, pleasure", color: "#c51b7d", test: (t) => t === 36 || t === 37 },
  { name: "Other", color: "#7b6fb0", test: (t) => t > 0 },
  { name: "Unknown", color: "#8c8c8c", test: () => true },
];

function shipType(t) {
  const n = Number(t) || 0;
  return TYPES.find((c) => c.test(n));
}

function shipTypeName(t) {
  const n = Number(t) || 0;
  const names = {
    30: "Fishing", 31: "Towing", 32: "Towing (large)", 33: "Dredging", 34: "Diving", 35: "Military",
    36: "Sailing", 37: "Pleasure craft", 50: "Pilot", 51: "Search and rescue", 52: "Tug", 53: "Port tender",
    54: "Anti-pollution", 55: "Law enforcement", 58: "Medical transport",
  };
  if (names[n]) return names[n] + " (" + n + ")";
  if (!n) return "–";
  return shipType(n).name + " (" + n + ")";
}

const NAV_STATUS = [
  "under way using engine", "at anchor", "not under command", "restricted manoeuvrability",
  "constrained by draught", "moored", "aground", "engaged in fishing", "under way sailing",
  "reserved (HSC)", "reserved (WIG)", "power-driven towing astern", "power-driven pushing",
  "reserved", "AIS-SART / MOB / EPIRB", "not defined",
];

// ---- map -------------------------------------------------------------------

const map = L.map("map", {
  center: [56, 11],
  zoom: 6,
  minZoom: 2,
  maxZoom: 15,
  worldCopyJump: true,
  preferCanvas: true,
  zoomControl: false,
  attributionControl: true,
});
L.control.zoom({ position: "topleft" }).addTo(map);
L.control.scale({ position: "bottomleft", imperial: false, metric: true }).addTo(map);
map.attributionControl.setPrefix(false);
map.attributionControl.addAttribution("Basemap: Natural Earth (public domain) · Leaflet");

const panes = {
  land: map.createPane("land"),
  track: map.createPane("track"),
};
panes.land.style.zIndex = 200;
panes.track.style.zIndex = 450;

// unwrap makes rings that cross the antimeridian continuous (lon beyond
// ±180) so that Leaflet does not draw them across the whole world.
function unwrap(gj) {
  const ring = (r) => {
    let off = 0;
    return r.map(([lon, lat], i) => {
      if (i > 0) {
        const prev = r[i - 1][0];
        if (lon - prev > 180) off -= 360;
        else if (prev - lon > 180) off += 360;
      }
      return [lon + off, lat];
    });
  };
  const geom = (g) => {
    if (g.type === "Polygon") return { ...g, coordinates: g.coordinates.map(ring) };
    if (g.type === "MultiPolygon") return { ...g, coordinates: g.coordinates.map((p) => p.map(ring)) };
    return g;
  };
  if (gj.type === "FeatureCollection") return { ...gj, features: gj.features.map(unwrap) };
  if (gj.type === "Feature") return { ...gj, geometry: geom(gj.geometry) };
  return geom(gj);
}

async function loadBasemap() {
  const topo = await (await fetch("countries-50m.json")).json();
  const land = unwrap(feature(topo, topo.objects.land));
  const borders = mesh(topo, topo.objects.countries, (a, b) => a !== b);
  const renderer = L.canvas({ pane: "land", padding: 0.5 });
  L.geoJSON(land, {
    pane: "land", renderer, interactive: false,
    style: { color: "#b9ab8a", weight: 0.8, fillColor: "#efe9da", fillOpacity: 1 },
  }).addTo(map);
  L.geoJSON(borders, {
    pane: "land", renderer, interactive: false,
    style: { color: "#c9bda2", weight: 0.7, dashArray: "3 3", fill: false },
  }).addTo(map);
  // A graticule every 5 degrees helps at sea where there is no coastline.
  const lines = [];
  for (let lon = -180; lon <= 180; lon += 5) lines.push([[-85, lon], [85, lon]]);
  for (let lat = -80; lat <= 80; lat += 5) lines.push([[lat, -180], [lat, 180]]);
  L.polyline(lines, { pane: "land", renderer, interactive: false, color: "#9fc3d8", weight: 0.5, opacity: 0.7 }).addTo(map);
}

// ---- vessels ---------------------------------------------------------------

const vesselLayer = L.layerGroup().addTo(map);
const markers = new Map(); // id -> {marker, props}
const known = new Map(); // id -> {name, ship_type}: names for replayed frames
let selected = null; // id of the open card
let trackLayer = null;

// Own ships (stored without an MMSI) are drawn white inside a ring, in
// the brand colour, whatever their (absent) ship type.
const OWN_COLOR = "#0b3d91";

function vesselIcon(p, isSelected) {
  const t = p.own ? { color: "#ffffff" } : shipType(p.ship_type);
  const hdg = pick(p, "heading", "true_heading");
  const cog = pick(p, "cog", "course");
  const sog = pick(p, "sog", "speed");
  const dir = typeof hdg === "number" ? hdg : typeof cog === "number" && sog > 0.5 ? cog : null;
  const moving = typeof sog === "number" && sog > 0.5;
  const stroke = isSelected ? "#000" : p.own ? OWN_COLOR : "#1d2b36";
  const sw = isSelected ? 2.2 : p.own ? 1.8 : 1;
  const ring = p.own ? `<circle cx="12" cy="12" r="11" fill="none" stroke="${OWN_COLOR}" stroke-width="2"/>` : "";
  const shape = ring + (dir === null
    ? `<circle cx="12" cy="12" r="5" fill="${t.color}" stroke="${stroke}" stroke-width="${sw}"/>`
    : `<g transform="rotate(${dir.toFixed(0)} 12 12)">` +
      (moving ? `<line x1="12" y1="4" x2="12" y2="-6" stroke="${stroke}" stroke-width="1"/>` : "") +
      `<path d="M12 2 L18 19 L12 15.5 L6 19 Z" fill="${t.color}" stroke="${stroke}" stroke-width="${sw}" stroke-linejoin="round"/></g>`);
  return L.divIcon({
    className: "vessel" + (p.own ? " own" : "") + (isSelected ? " selected" : ""),
    html: `<svg width="24" height="24" viewBox="-4 -8 32 32" overflow="visible">${shape}</svg>`,
    iconSize: [24, 24],
    iconAnchor: [12, 12],
  });
}

function iconKey(p) {
  return [p.own, p.ship_type, p.heading, p.cog, p.sog > 0.5].join("|");
}

function label(p) {
  return (pick(p, "name", "shipname") || "").trim() || (p.own ? "Own ship " + p.id : "MMSI " + p.mmsi);
}

// features normalises a GeoJSON answer (FeatureCollection, Feature or list)
// to vessel records {id, own, mmsi, lat, lon, ...properties}: id is the
// MMSI, or for an own ship stored without an MMSI (mmsi 0) its vessel id.
function vesselsOf(gj) {
  const fs = Array.isArray(gj) ? gj : gj.features || (gj.type === "Feature" ? [gj] : []);
  const out = [];
  for (const f of fs) {
    if (!f || !f.geometry || f.geometry.type !== "Point") continue;
    const p = flatten(f.properties || {});
    const mmsi = Number(pick(p, "mmsi") ?? f.id) || 0;
    const own = !mmsi && typeof p.vessel === "string" && p.vessel !== "";
    if (!mmsi && !own) continue;
    const [lon, lat] = f.geometry.coordinates;
    out.push({
      ...p, id: own ? p.vessel : String(mmsi), own, mmsi: mmsi ? String(mmsi) : "",
      lon, lat, time: pick(p, "time", "ts", "received", "timestamp", "updated"),
    });
  }
  return out;
}

function showVessels(list) {
  const seen = new Set();
  for (const v of list) {
    const k = known.get(v.id);
    if (v.name || v.ship_type) known.set(v.id, { name: v.name || (k && k.name), ship_type: v.ship_type || (k && k.ship_type) });
    else if (k) Object.assign(v, { name: k.name, ship_type: k.ship_type });
    seen.add(v.id);
    let m = markers.get(v.id);
    if (m) {
      // Touch the DOM only for what changed: a refresh repeats most vessels.
      const ll = m.marker.getLatLng();
      if (ll.lat !== v.lat || ll.lng !== v.lon) m.marker.setLatLng([v.lat, v.lon]);
      if (iconKey(v) !== iconKey(m.props)) m.marker.setIcon(vesselIcon(v, v.id === selected));
      m.marker.setTooltipContent(tooltip(v));
      m.props = v;
    } else {
      const marker = L.marker([v.lat, v.lon], { icon: vesselIcon(v, v.id === selected), keyboard: false, riseOnHover: true, zIndexOffset: v.own ? 1000 : 0 });
      marker.bindTooltip(tooltip(v), { direction: "top", offset: [0, -10] });
      marker.on("click", () => select(v.id));
      marker.addTo(vesselLayer);
      m = { marker, props: v };
      markers.set(v.id, m);
    }
    const e = m.marker.getElement();
    if (e) {
      // AIS vessels carry data-mmsi, own ships data-vessel (their id).
      if (v.own) e.dataset.vessel = v.id;
      else e.dataset.mmsi = v.mmsi;
      e.dataset.named = v.name ? "1" : "";
    }
  }
  for (const [id, m] of markers) {
    if (!seen.has(id) && id !== selected) {
      vesselLayer.removeLayer(m.marker);
      markers.delete(id);
    }
  }
  document.body.dataset.ownShips = String(list.filter((v) => v.own).length);
  document.body.dataset.vessels = String(markers.size);
}

function tooltip(v) {
  return `<b>${escapeHTML(label(v))}</b><br>${num(v.sog, 1, " kn")} · ${v.time ? fmtAgo(v.time) : ""}`;
}

function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function viewBBox(pad = 0.1) {
  const b = map.getBounds().pad(pad);
  const w = Math.max(-180, b.getWest()), e = Math.min(180, b.getEast());
  const s = Math.max(-90, b.getSouth()), n = Math.min(90, b.getNorth());
  return [w, s, e, n].map((x) => +x.toFixed(5)).join(",");
}

// ---- time: live or replay --------------------------------------------------

let replayAt = null; // null = live, else Date of the replayed frame
let playing = null;
let loadSeq = 0;

async function refresh() {
  if (!apiKey) return needKey();
  const seq = ++loadSeq;
  try {
    let list;
    if (replayAt === null) {
      list = vesselsOf(await apiJSON("v1/vessels", { bbox: viewBBox(), format: "geojson", limit: LIMIT }));
    } else {
      const to = replayAt, from = new Date(to.getTime() - REPLAY_WINDOW_MIN * 60000);
      // Every position of the window, page by page (bounded), then the last
      // one of each vessel.
      const pos = [];
      let cursor = "";
      for (let page = 0; page < REPLAY_MAX_PAGES; page++) {
        const fc = await apiJSON("v1/positions", {
          bbox: viewBBox(), from: from.toISOString(), to: to.toISOString(), format: "geojson", limit: REPLAY_PAGE, cursor,
        });
        pos.push(...vesselsOf(fc));
        cursor = fc.next_cursor;
        if (!cursor || seq !== loadSeq) break;
      }
      const last = new Map();
      for (const p of pos) {
        const q = last.get(p.id);
        if (!q || new Date(p.time) >= new Date(q.time)) last.set(p.id, p);
      }
      list = [...last.values()];
    }
    if (seq !== loadSeq) return; // a newer request overtook this one
    showVessels(list);
    document.body.dataset.frame = replayAt ? replayAt.toISOString() : "live";
    setStatus(`${list.length} vessel${list.length === 1 ? "" : "s"} ${replayAt ? "at " + fmtTime(replayAt) : "live"} · updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    if (seq === loadSeq) handleError(err);
  }
}

function handleError(err) {
  if (err instanceof APIError && (err.status === 401 || err.status === 403)) {
    if (err.status === 401) needKey();
    setStatus("API key refused: " + err.message, true);
  } else {
    setStatus("API unreachable: " + err.message, true);
  }
}

function setStatus(text, bad) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("bad", !!bad);
}

function needKey() {
  $("keybox").hidden = false;
  setStatus("an API key is needed", true);
}

const slider = $("slider");

function sliderTime() {
  const v = Number(slider.value);
  return v >= 0 ? null : new Date(Date.now() + v * 60000);
}

function onSlider() {
  replayAt = sliderTime();
  $("timelabel").textContent = replayAt ? fmtTime(replayAt) : "live";
  document.body.classList.toggle("replay", !!replayAt);
  refresh();
}

slider.addEventListener("input", debounce(onSlider, 150));
$("live").addEventListener("click", () => { stopPlay(); slider.value = 0; onSlider(); });
$("play").addEventListener("click", () => (playing ? stopPlay() : startPlay()));

function startPlay() {
  if (Number(slider.value) >= 0) slider.value = slider.min;
  $("play").textContent = "❚❚";
  playing = setInterval(() => {
    slider.value = Math.min(0, Number(slider.value) + 1);
    onSlider();
    if (Number(slider.value) >= 0) stopPlay();
  }, 700);
}

function stopPlay() {
  clearInterval(playing);
  playing = null;
  $("play").textContent = "▶";
}

function debounce(f, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
}

// ---- vessel card and track -------------------------------------------------

// select opens the card and track of the vessel id (an MMSI, or an own
// ship's vessel id).
async function select(id) {
  const prev = selected;
  selected = id;
  for (const i of [prev, id]) {
    const m = i && markers.get(i);
    if (m) m.marker.setIcon(vesselIcon(m.props, i === selected));
  }
  const card = $("card");
  card.hidden = false;
  const fromMarker = markers.get(id)?.props || { id, mmsi: /^\d+$/.test(id) ? id : "", own: !/^\d+$/.test(id) };
  card.dataset.id = id;
  if (fromMarker.own) {
    card.dataset.vessel = id;
    delete card.dataset.mmsi;
  } else {
    card.dataset.mmsi = id;
    delete card.dataset.vessel;
  }
  renderCard(fromMarker);
  try {
    const v = flatten(await apiJSON(`v1/vessels/${encodeURIComponent(id)}`));
    if (selected === id) renderCard({ ...fromMarker, ...v, id, own: fromMarker.own, mmsi: fromMarker.mmsi });
  } catch (err) {
    if (!(err instanceof APIError && err.status === 404)) handleError(err);
  }
  loadTrack();
}

function renderCard(v) {
  $("cardtitle").textContent = label(v);
  const len = Number(v.length) || (Number(v.to_bow) || 0) + (Number(v.to_stern) || 0);
  const beam = Number(v.beam) || (Number(v.to_port) || 0) + (Number(v.to_starboard) || 0);
  const rows = [
    v.own ? ["Own ship", v.id] : ["MMSI", v.mmsi],
    ["IMO", pick(v, "imo") || undefined],
    ["Call sign", pick(v, "callsign", "call_sign")],
    ["Type", shipTypeName(v.ship_type)],
    ["Size", len ? `${len} × ${beam} m` : undefined],
    ["Draught", typeof v.draught === "number" && v.draught > 0 ? num(v.draught, 1, " m") : undefined],
    ["Destination", pick(v, "destination")],
    ["ETA", pick(v, "eta")],
    ["Status", typeof v.nav_status === "number" && v.nav_status < 15 ? NAV_STATUS[v.nav_status] : undefined],
    ["Speed", num(pick(v, "sog", "speed"), 1, " kn")],
    ["Course", num(pick(v, "cog", "course"), 0, "°")],
    ["Heading", num(pick(v, "heading"), 0, "°")],
    ["Position", typeof v.lat === "number" ? `${v.lat.toFixed(4)}, ${v.lon.toFixed(4)}` : undefined],
    ["Last seen", v.time ? `${fmtTime(v.time)} (${fmtAgo(v.time)})` : undefined],
  ];
  const dl = $("carddl");
  dl.replaceChildren();
  for (const [k, val] of rows) {
    if (val === undefined || val === "–" || val === "") continue;
    dl.append(el("dt", null, k), el("dd", null, String(val)));
  }
}

async function loadTrack() {
  const id = selected;
  if (!id) return;
  const hours = Number($("trackhours").value);
  const to = replayAt || new Date();
  const from = new Date(to.getTime() - hours * 3600000);
  $("trackinfo").textContent = "loading track…";
  try {
    const gj = await apiJSON(`v1/vessels/${encodeURIComponent(id)}/track`, { from: from.toISOString(), to: to.toISOString() });
    if (selected !== id) return;
    const lines = lineStrings(gj);
    if (trackLayer) map.removeLayer(trackLayer);
    const layers = lines.map((c) => L.polyline(c.map(([lon, lat]) => [lat, lon]), {
      pane: "track", color: "#0b3d91", weight: 3, opacity: 0.85, className: "track",
    }));
    // Dots at the reports, so that a short track is seen too.
    const pts = lines.flat();
    if (pts.length <= 2000) {
      for (const [lon, lat] of pts) {
        layers.push(L.circleMarker([lat, lon], { pane: "track", radius: 3, color: "#0b3d91", weight: 1, fillColor: "#ffd23f", fillOpacity: 1, interactive: false }));
      }
    }
    trackLayer = L.featureGroup(layers).addTo(map);
    // A track of one point has no line: the API says how many points it has.
    const n = Math.max(lines.reduce((a, c) => a + c.length, 0), Number(gj?.properties?.points) || 0);
    $("trackinfo").textContent = n ? `${n} points in the last ${hours} h` : `no positions in the last ${hours} h`;
    document.body.dataset.trackPoints = String(n);
    if (n > 1) {
      const b = trackLayer.getBounds();
      if (!map.getBounds().contains(b)) map.fitBounds(b.pad(0.3), { maxZoom: 12 });
    }
  } catch (err) {
    $("trackinfo").textContent = "track unavailable: " + err.message;
  }
}

function lineStrings(gj) {
  const out = [];
  const walk = (g) => {
    if (!g) return;
    if (g.type === "FeatureCollection") g.features.forEach(walk);
    else if (g.type === "Feature") walk(g.geometry);
    else if (g.type === "LineString") out.push(g.coordinates);
    else if (g.type === "MultiLineString") out.push(...g.coordinates);
    else if (g.type === "GeometryCollection") g.geometries.forEach(walk);
  };
  walk(gj);
  return out.filter((c) => c.length > 0);
}

function closeCard() {
  const prev = selected;
  selected = null;
  $("card").hidden = true;
  if (trackLayer) map.removeLayer(trackLayer);
  trackLayer = null;
  const m = prev && markers.get(prev);
  if (m) m.marker.setIcon(vesselIcon(m.props, false));
}

$("cardclose").addEventListener("click", closeCard);
$("trackhours").addEventListener("change", loadTrack);

// ---- area search -----------------------------------------------------------

const bboxForm = $("bboxform");
let bboxRect = null;

function fillBBoxFromView() {
  const [w, s, e, n] = viewBBox(0).split(",");
  Object.entries({ w, s, e, n }).forEach(([k, v]) => (bboxForm.elements[k].value = v));
}

$("bboxview").addEventListener("click", fillBBoxFromView);
// The fields follow the map until the user types in them.
let bboxEdited = false;
bboxForm.addEventListener("input", () => (bboxEdited = true));
map.on("moveend", () => { if (!bboxEdited) fillBBoxFromView(); });

bboxForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const vals = ["w", "s", "e", "n"].map((k) => Number(bboxForm.elements[k].value));
  const results = $("results"), count = $("resultcount");
  results.replaceChildren();
  count.classList.remove("bad");
  if (vals.some((v) => !Number.isFinite(v)) || vals[0] >= vals[2] || vals[1] >= vals[3]) {
    count.textContent = "W < E and S < N, in degrees";
    count.classList.add("bad");
    return;
  }
  count.textContent = "searching…";
  const [w, s, e, n] = vals;
  if (bboxRect) map.removeLayer(bboxRect);
  bboxRect = L.rectangle([[s, w], [n, e]], { color: "#e6550d", weight: 1.5, fill: false, dashArray: "6 4", interactive: false }).addTo(map);
  map.fitBounds(bboxRect.getBounds(), { maxZoom: 12 });
  try {
    const list = vesselsOf(await apiJSON("v1/vessels", { bbox: vals.join(","), format: "geojson", limit: LIMIT }));
    list.sort((a, b) => (b.name ? 1 : 0) - (a.name ? 1 : 0) || label(a).localeCompare(label(b)));
    count.textContent = `${list.length} vessel${list.length === 1 ? "" : "s"}` + (list.length > 200 ? ", the first 200 by name:" : ":");
    for (const v of list.slice(0, 200)) {
      results.append(el("li", null, el("a", {
        href: "#", onclick: (e2) => { e2.preventDefault(); map.setView([v.lat, v.lon], Math.max(map.getZoom(), 10)); select(v.id); },
      }, label(v)), " ", el("span", { class: "hint" }, num(v.sog, 1, " kn"))));
    }
  } catch (err) {
    count.textContent = err.message;
    count.classList.add("bad");
  }
});

// ---- export ----------------------------------------------------------------

$("exportform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const format = $("exportformat").value;
  // The slider's whole window, up to the replayed time (or now when live).
  const to = replayAt || new Date();
  const from = new Date(Date.now() + Number(slider.min) * 60000);
  const btn = $("exportbtn");
  btn.disabled = true;
  btn.textContent = "exporting…";
  try {
    const res = await api("v1/positions", { bbox: viewBBox(0), from: from.toISOString(), to: to.toISOString(), format });
    const blob = await res.blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: `keelson-positions-${to.toISOString().slice(0, 19).replace(/:/g, "")}.${format}` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    document.body.dataset.exportBytes = String(blob.size);
  } catch (err) {
    handleError(err);
  } finally {
    btn.disabled = false;
    btn.textContent = "Export view";
  }
});

// ---- key form, legend, start ---------------------------------------------

$("keyform").addEventListener("submit", (ev) => {
  ev.preventDefault();
  apiKey = $("keyinput").value.trim();
  localStorage.setItem(KEY_STORE, apiKey);
  $("keybox").hidden = true;
  goLive();
});

for (const t of TYPES) {
  $("legend").append(el("li", null, el("span", { class: "swatch", style: `background:${t.color}` }), t.name));
}
$("legend").append(el("li", null, el("span", { class: "swatch own" }), "Own ship (no MMSI)"));

// busiestBounds bounds the busiest area: the 8° x 5° window holding the
// most vessels (an AIS feed is dense near its receivers and thin far away),
// trimmed to the middle 96% of the vessels in it.
function busiestBounds(list) {
  const W = 8, H = 5;
  const cells = new Map();
  for (const v of list) {
    const k = Math.floor(v.lon) + "," + Math.floor(v.lat);
    cells.set(k, (cells.get(k) || 0) + 1);
  }
  let best = null, bestN = -1;
  for (const k of cells.keys()) {
    const [cx, cy] = k.split(",").map(Number);
    let n = 0;
    for (let dx = -W / 2; dx < W / 2; dx++) for (let dy = -Math.floor(H / 2); dy <= Math.floor(H / 2); dy++) n += cells.get((cx + dx) + "," + (cy + dy)) || 0;
    if (n > bestN) { bestN = n; best = [cx - W / 2, cy - Math.floor(H / 2), cx + W / 2, cy + Math.floor(H / 2) + 1]; }
  }
  const inside = list.filter((v) => v.lon >= best[0] && v.lon < best[2] && v.lat >= best[1] && v.lat < best[3]);
  const q = (xs, f) => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))];
  const lats = inside.map((v) => v.lat).sort((a, b) => a - b);
  const lons = inside.map((v) => v.lon).sort((a, b) => a - b);
  return L.latLngBounds([q(lats, 0.02), q(lons, 0.02)], [q(lats, 0.98), q(lons, 0.98)]);
}

// Open on the vessels: fit the first live answer once, unless the page was
// opened with a view in the query (?lat=&lon=&z=); then refresh on every
// move and every REFRESH_MS. Without a (valid) key the page waits for one.
const query = new URLSearchParams(location.search);
const hasView = query.has("lat") && query.has("lon");
let live = false;

// panelPadding keeps fitted views clear of the panels: the side panel on a
// wide screen, the bottom sheet (see style.css) on a narrow one.
function panelPadding() {
  if (window.innerWidth <= 700) return { paddingTopLeft: [10, 60], paddingBottomRight: [10, Math.round(window.innerHeight * 0.45)] };
  return { paddingTopLeft: [20, 60], paddingBottomRight: [310, 70] };
}

async function goLive() {
  if (live) return refresh();
  if (!apiKey) return needKey();
  try {
    const all = vesselsOf(await apiJSON("v1/vessels", { bbox: "-180,-90,180,90", format: "geojson", limit: LIMIT }));
    if (all.length && !hasView) map.fitBounds(busiestBounds(all), { maxZoom: 11, animate: false, ...panelPadding() });
  } catch (err) {
    handleError(err);
    if (err instanceof APIError && err.status === 401) return; // wait for a key
  }
  live = true;
  document.body.dataset.ready = "1";
  map.on("moveend", debounce(refresh, 200));
  await refresh();
  setInterval(() => { if (replayAt === null) refresh(); }, REFRESH_MS);
}

async function start() {
  if (hasView) map.setView([Number(query.get("lat")), Number(query.get("lon"))], Number(query.get("z")) || 8, { animate: false });
  await loadBasemap().catch((err) => setStatus("basemap: " + err.message, true));
  await goLive();
}

fillBBoxFromView();
start();
