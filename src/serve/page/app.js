// lathe serve: the page. Plain JS, no libraries. Talks to the documented API only.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const fmt = (v, digits = 1, unit = "") =>
  v === null || v === undefined || !isFinite(v) ? "-inf" + unit : v.toFixed(digits) + unit;
let audioCtx = null;
let playing = null; // the card's player that is playing

function ctx() {
  if (!audioCtx) audioCtx = new AudioContext();
  return audioCtx;
}

async function loadOptions() {
  const r = await fetch("/api/options");
  if (!r.ok) return;
  const o = await r.json();
  const g = $("#genre");
  for (const name of o.genres) g.add(new Option(name, name));
  const p = $("#preset");
  for (const pr of o.presets) p.add(new Option(`${pr.label} (${pr.integrated_lufs} LUFS)`, pr.name));
}

function setupForm() {
  const drop = $("#drop");
  const mix = $("#mix");
  const show = () => { $("#drop-text").textContent = mix.files[0] ? mix.files[0].name : "Drop a mix here, or click to choose one"; };
  mix.addEventListener("change", show);
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) { mix.files = e.dataTransfer.files; show(); }
  });
  $("#amount").addEventListener("input", () => { $("#amount-out").textContent = $("#amount").value + " %"; });
  $("#genre").addEventListener("change", () => { document.querySelector("input[value=genre]").checked = true; });
  $("#reference").addEventListener("change", () => { document.querySelector("input[value=reference]").checked = true; });
  $("#profile").addEventListener("change", () => { document.querySelector("input[value=profile]").checked = true; });
  $("#job").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
}

function submit() {
  const err = $("#form-error");
  err.hidden = true;
  const mix = $("#mix").files[0];
  if (!mix) { err.textContent = "Choose a mix first."; err.hidden = false; return; }
  const fd = new FormData();
  fd.append("mix", mix, mix.name);
  const target = document.querySelector("input[name=target]:checked").value;
  if (target === "reference") {
    const ref = $("#reference").files[0];
    if (!ref) { err.textContent = "Choose a reference track, or another target."; err.hidden = false; return; }
    fd.append("reference", ref, ref.name);
  } else if (target === "profile") {
    const prof = $("#profile").files[0];
    if (!prof) { err.textContent = "Choose a style profile (lathe profile ... -o style.json), or another target."; err.hidden = false; return; }
    fd.append("profile", prof, prof.name);
  } else if (target === "genre") {
    fd.append("genre", $("#genre").value);
  } else {
    fd.append("genre", "auto");
  }
  for (const id of ["preset", "ceiling", "lufs", "bits"]) {
    const v = $("#" + id).value;
    if (v !== "") fd.append(id, v);
  }
  fd.append("amount", $("#amount").value);
  const go = $("#go");
  go.disabled = true;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/jobs");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) go.textContent = `Uploading ${Math.round(100 * e.loaded / e.total)} %`; };
  xhr.onloadend = () => {
    go.disabled = false;
    go.textContent = "Master";
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    if (xhr.status === 202) {
      addCard(body.id, mix.name, true);
    } else {
      err.textContent = body.error || `upload failed (HTTP ${xhr.status || "no answer"})`;
      err.hidden = false;
    }
  };
  xhr.send(fd);
}

function addCard(id, name, first) {
  const card = $("#card").content.firstElementChild.cloneNode(true);
  card.dataset.id = id;
  card.dataset.state = "queued";
  $(".name", card).textContent = name;
  $(".delete", card).addEventListener("click", async () => {
    if (card.player) card.player.stop();
    await fetch(`/api/jobs/${id}`, { method: "DELETE" });
    card.remove();
  });
  const results = $("#results");
  if (first) results.prepend(card); else results.append(card);
  poll(card);
  return card;
}

async function poll(card) {
  const id = card.dataset.id;
  for (;;) {
    let s;
    try {
      const r = await fetch(`/api/jobs/${id}`);
      if (r.status === 404) { card.remove(); return; }
      s = await r.json();
    } catch (_) {
      await new Promise((res) => setTimeout(res, 1000));
      continue;
    }
    $(".bar", card).style.width = `${Math.round(100 * s.progress)}%`;
    $(".stage", card).textContent = `${s.stage} ${Math.round(100 * s.progress)} %`;
    card.dataset.state = s.state;
    if (s.state === "failed") {
      const e = $(".error", card);
      e.textContent = s.error;
      e.hidden = false;
      return;
    }
    if (s.state === "done") { showResult(card, s.result); return; }
    await new Promise((res) => setTimeout(res, 400));
  }
}

function showResult(card, r) {
  $(".progress", card).hidden = true;
  $(".result", card).hidden = false;
  const rows = [
    ["integrated", "integrated_lufs", " LUFS"],
    ["true peak", "true_peak_dbtp", " dBTP", 2],
    ["loudness range", "lra_lu", " LU"],
    ["PLR", "plr_db", " dB"],
    ["max short-term", "max_short_term_lufs", " LUFS"],
    ["width (S/M)", "width_db", " dB"],
  ];
  const tbody = $("tbody", card);
  for (const [label, key, unit, digits] of rows) {
    const tr = tbody.insertRow();
    tr.insertCell().textContent = label;
    tr.insertCell().textContent = fmt(r.before[key], digits || 1, unit);
    tr.insertCell().textContent = r.after ? fmt(r.after[key], digits || 1, unit) : "";
  }
  const how0 = { reference: () => `matched to ${r.source.name}`, model: () => `genre ${r.source.genre}`,
    profile: () => `profile ${r.source.name}` };
  let how = (how0[r.source.kind] || (() => r.source.kind))();
  if (r.detected_genre) how += ` (detected, ${Math.round(100 * r.detected_genre.probability)} % sure)`;
  const tr = tbody.insertRow();
  tr.insertCell().textContent = "target";
  const td = tr.insertCell();
  td.colSpan = 2;
  td.textContent = `${how}; ${fmt(r.targets.integrated_lufs)} LUFS, ceiling ${fmt(r.targets.ceiling_dbtp)} dBTP`;
  for (const w of r.warnings) {
    const p = document.createElement("p");
    p.className = "warning";
    p.textContent = "warning: " + w;
    $(".downloads", card).before(p);
  }
  const dl = $(".downloads", card);
  for (const [label, url] of [["master", r.files.master], ["report (HTML)", r.files.report_html],
    ["report (JSON)", r.files.report_json], ["preview: mix", r.files.preview_mix], ["preview: master", r.files.preview_master]]) {
    const a = document.createElement("a");
    a.href = url;
    a.textContent = label;
    a.setAttribute("download", "");
    dl.append(a);
  }
  $(".report iframe", card).src = r.files.report_html;
  card.player = new Player(card, r);
}

// A/B player: both files decoded, both playing in sync, the switch is a gain change (instant,
// same position); the louder one is turned down so both play at the same integrated loudness.
class Player {
  constructor(card, r) {
    this.card = card;
    this.side = "a";
    this.pos = 0;
    this.sources = null;
    const before = r.before.integrated_lufs, after = r.after ? r.after.integrated_lufs : null;
    const ok = (v) => v !== null && isFinite(v);
    const quieter = ok(before) && ok(after) ? Math.min(before, after) : null;
    this.gain = {
      a: quieter === null ? 1 : Math.pow(10, (quieter - before) / 20),
      b: quieter === null ? 1 : Math.pow(10, (quieter - after) / 20),
    };
    $(".match", card).textContent = quieter === null ? "" :
      `both at ${quieter.toFixed(1)} LUFS (mix ${fmt(20 * Math.log10(this.gain.a), 1)} dB, master ${fmt(20 * Math.log10(this.gain.b), 1)} dB)`;
    $(".play", card).disabled = true;
    $(".play", card).textContent = "Loading…";
    this.load(r.files.mix, r.files.master);
    $(".play", card).addEventListener("click", () => (this.sources ? this.stop() : this.play()));
    $(".a", card).addEventListener("click", () => this.choose("a"));
    $(".b", card).addEventListener("click", () => this.choose("b"));
    $(".wave", card).addEventListener("click", (e) => {
      if (!this.buffers) return;
      const rect = e.target.getBoundingClientRect();
      const t = ((e.clientX - rect.left) / rect.width) * this.duration();
      const was = !!this.sources;
      this.stop();
      this.pos = t;
      if (was) this.play(); else this.draw();
    });
  }

  async load(mixUrl, masterUrl) {
    try {
      const [a, b] = await Promise.all([mixUrl, masterUrl].map(async (u) => {
        const r = await fetch(u);
        if (!r.ok) throw new Error(`${u}: HTTP ${r.status}`);
        return ctx().decodeAudioData(await r.arrayBuffer());
      }));
      this.buffers = { a, b };
      this.peaks = { a: peaks(a, 900), b: peaks(b, 900) };
      $(".play", this.card).disabled = false;
      $(".play", this.card).textContent = "Play";
      this.card.dataset.player = "ready";
      this.draw();
    } catch (e) {
      $(".play", this.card).textContent = "cannot play here";
      this.card.dataset.player = "error: " + e.message;
    }
  }

  duration() { return Math.min(this.buffers.a.duration, this.buffers.b.duration); }

  now() {
    if (!this.sources) return this.pos;
    return Math.min(this.duration(), this.pos + ctx().currentTime - this.started);
  }

  play() {
    if (playing && playing !== this) playing.stop();
    const c = ctx();
    c.resume();
    if (this.pos >= this.duration() - 0.05) this.pos = 0;
    const at = c.currentTime + 0.05;
    this.sources = {};
    this.gains = {};
    for (const k of ["a", "b"]) {
      const src = c.createBufferSource();
      src.buffer = this.buffers[k];
      const g = c.createGain();
      g.gain.value = k === this.side ? this.gain[k] : 0;
      src.connect(g).connect(c.destination);
      src.start(at, this.pos);
      this.sources[k] = src;
      this.gains[k] = g;
    }
    this.sources.a.onended = () => { if (this.sources && this.now() >= this.duration() - 0.1) this.stop(); };
    this.started = at;
    playing = this;
    $(".play", this.card).textContent = "Pause";
    const tick = () => { if (this.sources) { this.draw(); requestAnimationFrame(tick); } };
    requestAnimationFrame(tick);
  }

  stop() {
    if (!this.sources) return;
    this.pos = this.now();
    for (const k of ["a", "b"]) { try { this.sources[k].stop(); } catch (_) { /* already stopped */ } }
    this.sources = null;
    if (playing === this) playing = null;
    $(".play", this.card).textContent = "Play";
    this.draw();
  }

  choose(side) {
    this.side = side;
    this.card.dataset.side = side;
    $(".a", this.card).classList.toggle("active", side === "a");
    $(".b", this.card).classList.toggle("active", side === "b");
    if (this.sources) {
      const t = ctx().currentTime;
      for (const k of ["a", "b"]) this.gains[k].gain.setValueAtTime(k === side ? this.gain[k] : 0, t);
    }
    this.draw();
  }

  draw() {
    const cv = $(".wave", this.card);
    const g = cv.getContext("2d");
    const w = cv.width, h = cv.height, half = h / 2;
    g.clearRect(0, 0, w, h);
    const lanes = [["a", 0, "#8a8a8a"], ["b", half, "#b4541c"]];
    for (const [k, y0, colour] of lanes) {
      const p = this.peaks[k];
      g.fillStyle = this.side === k ? colour : colour + "66";
      for (let x = 0; x < w; x++) {
        const hi = p.max[x] * (half / 2 - 2), lo = p.min[x] * (half / 2 - 2);
        g.fillRect(x, y0 + half / 2 - hi, 1, Math.max(1, hi - lo));
      }
      g.fillStyle = "#555";
      g.font = "11px system-ui";
      g.fillText(k === "a" ? "mix" : "master", 4, y0 + 12);
    }
    const x = (this.now() / this.duration()) * w;
    g.fillStyle = "#000";
    g.fillRect(x, 0, 1, h);
    const t = this.now();
    $(".time", this.card).textContent = `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, "0")}`;
  }
}

// Min and max of the channel average in `columns` columns.
function peaks(buffer, columns) {
  const n = buffer.length, chans = [];
  for (let c = 0; c < buffer.numberOfChannels; c++) chans.push(buffer.getChannelData(c));
  const min = new Float32Array(columns), max = new Float32Array(columns);
  for (let x = 0; x < columns; x++) {
    let lo = 0, hi = 0;
    const end = Math.min(n, Math.floor(((x + 1) * n) / columns));
    for (let i = Math.floor((x * n) / columns); i < end; i++) {
      let v = 0;
      for (const ch of chans) v += ch[i];
      v /= chans.length;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    min[x] = lo;
    max[x] = hi;
  }
  return { min, max };
}

async function restore() {
  const r = await fetch("/api/jobs");
  if (!r.ok) return;
  for (const s of await r.json()) addCard(s.id, s.mix_name, false);
}

setupForm();
loadOptions();
restore();
