/* The rating experiment exported by helpers.study.experiment (Neural Aesthetics Notebooks, MIT licence).
 *
 * Reads window.NA_CONFIG (config.js, written at export). Order of screens: welcome, the participant
 * questions, then the images in a per-participant random order (seeded by the participant id and the
 * export's seed, recorded in the data) in blocks with breaks, preloading one chunk of images before it is
 * needed; attention checks at seeded positions; at the end a completion code (and a redirect), and the data
 * as CSV and JSON downloads (the last resort) and, when the export named a URL, POSTed there as JSON.
 *
 * Nothing is lost on the way: every trial gets a stable key (welcome, question:<name>, instructions,
 * rating:<image index>, check:<n>, break:<block>, preload:<position>, end), is kept in localStorage as soon as
 * it ends, and is sent to the export's target (C.target): the collection server (POST api/trial with the
 * session's token), JATOS (jatos.appendResultData, one JSON line per trial) or DataPipe (jsPsychPipe.saveData,
 * one file per block). Unsent trials stay queued and are retried; a reload resumes at the next unrated image of
 * the same order and never records a key twice.
 */
(function () {
  "use strict";
  const C = window.NA_CONFIG;
  const TARGET = C.target || "static";

  // 32-bit FNV-1a hash of a string, and the mulberry32 generator: helpers.experiment.participant_order
  // implements the same two functions, so the order of any participant can be recomputed in Python.
  function fnv1a(text) {
    let h = 0x811c9dc5;
    for (const byte of new TextEncoder().encode(text)) {
      h ^= byte;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }
  function mulberry32(a) {
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function shuffled(items, rand) {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ------------------------------------------------------------------------------------------------
  // localStorage (absent or full: the session still runs, kept in memory only)
  // ------------------------------------------------------------------------------------------------
  const LS = (() => {
    try {
      window.localStorage.setItem("na:probe", "1");
      window.localStorage.removeItem("na:probe");
      return window.localStorage;
    } catch (e) {
      return null;
    }
  })();
  function lsGet(key) {
    try {
      return LS ? JSON.parse(LS.getItem(key)) : null;
    } catch (e) {
      return null;
    }
  }
  function lsSet(key, value) {
    try {
      if (LS) LS.setItem(key, JSON.stringify(value));
    } catch (e) {
      console.warn("na: could not keep the session in localStorage", e);
    }
  }
  const PREFIX = `na:${C.experiment_id}:${C.experiment_version}`;

  // ------------------------------------------------------------------------------------------------
  // where the trials go
  // ------------------------------------------------------------------------------------------------
  // Each collector: init() (before the participant is known), begin(st), send(st) (one pass over the unsent
  // trials; resolves true when nothing is left, false to retry later), end(st, code) at the very end.
  function statusError(status, text) {
    const e = new Error(`HTTP ${status}: ${text}`);
    e.status = status;
    return e;
  }
  const collectors = {
    static: {
      init: async () => ({}),
      begin: async () => {},
      send: async () => true,
      end: async () => {},
      sends: false,
    },
    server: {
      sends: true,
      init: async () => ({}),
      async api(path, body, token) {
        const headers = { "Content-Type": "application/json" };
        if (token) headers.Authorization = `Bearer ${token}`;
        const r = await fetch(C.api_url + path, { method: "POST", headers: headers, body: JSON.stringify(body),
                                                   cache: "no-store" });
        let out = {};
        try {
          out = await r.json();
        } catch (e) { /* not JSON: the status says enough */ }
        if (!r.ok) throw statusError(r.status, out.error || r.statusText);
        return out;
      },
      async begin(st) {
        const body = { participant: st.participant, experiment_version: C.experiment_version };
        if (st.study_id) body.study_id = st.study_id;
        if (st.session_id) body.session_id = st.session_id;
        if (st.token) body.token = st.token;
        try {
          const out = await this.api("session", body);
          st.token = out.token;
          for (const k of out.done) st.acked[k] = true;
          st.refused = null;
        } catch (e) {
          if (e.status === 409 || e.status === 422) st.refused = String(e.message);  // never accepted: keep locally
          else throw e;
        } finally {
          save(st);
        }
      },
      async send(st) {
        if (st.refused) return true;
        if (!st.token) {
          try {
            await this.begin(st);
          } catch (e) {
            return false;
          }
          if (st.refused || !st.token) return true;
        }
        for (const row of unsent(st)) {
          try {
            await this.api("trial", { participant: st.participant, trial_key: row.trial_key, data: row }, st.token);
            st.acked[row.trial_key] = true;
          } catch (e) {
            if (e.status === 401 || e.status === 403) {  // the token is not (or no longer) valid: start again
              st.token = null;
              save(st);
              return false;
            }
            if (e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
              st.rejected[row.trial_key] = String(e.message);  // the server will never take it: download only
              console.error(`na: the server refused trial ${row.trial_key}: ${e.message}`);
            } else {
              save(st);
              return false;  // network error or 5xx: retry later
            }
          }
          save(st);
        }
        return true;
      },
      async end(st) {
        if (!st.token || st.refused) return;
        try {
          await this.api("finish", { participant: st.participant }, st.token);
        } catch (e) {
          console.warn("na: finish not confirmed", e);
        }
      },
    },
    jatos: {
      sends: true,
      init: () => new Promise((resolve) => jatos.onLoad(() => resolve(jatos.urlQueryParameters || {}))),
      begin: async () => {},
      async send(st) {
        for (const row of unsent(st)) {
          try {
            // one JSON document per line: the component result's data grows by one line per trial
            await jatos.appendResultData(JSON.stringify(row) + "\n");
          } catch (e) {
            save(st);
            return false;
          }
          st.acked[row.trial_key] = true;
          save(st);
        }
        return true;
      },
      async end(st, code, redirect) {
        const message = code ? `completion code ${code}` : "";
        if (redirect) jatos.endStudyAndRedirect(redirect, true, message);
        else await jatos.endStudy(true, message, false);
      },
    },
    datapipe: {
      sends: true,
      init: async () => ({}),
      begin: async () => {},
      // One file per batch, a batch frozen once formed (a retry sends the same content under the same name;
      // DataPipe refuses a name it already stored, answering OSF_FILE_EXISTS: then the batch is there).
      cut(st, force) {
        const pending = new Set(st.batches.flatMap((b) => b.keys));
        const fresh = unsent(st).filter((r) => !pending.has(r.trial_key)).map((r) => r.trial_key);
        if (fresh.length && (force || fresh.length >= C.block_size)) {
          st.batches.push({ seq: st.next_batch, keys: fresh });
          st.next_batch += 1;
          save(st);
        }
      },
      async send(st, force) {
        if (st.refused) return true;
        this.cut(st, force);
        while (st.batches.length) {
          const b = st.batches[0];
          const rows = b.keys.map((k) => st.rows.find((r) => r.trial_key === k));
          const name = `${C.experiment_id}_${st.participant}_part-${String(b.seq).padStart(3, "0")}.json`
            .replace(/[^A-Za-z0-9_.-]/g, "_");
          let out;
          try {
            out = await jsPsychPipe.saveData(C.datapipe_id, name, JSON.stringify(rows));
          } catch (e) {
            out = e;
          }
          if (out instanceof Error || out === undefined) return false;  // network: retry
          if (out.error && out.error !== "OSF_FILE_EXISTS") {
            st.refused = `DataPipe: ${out.error} (${out.message || ""})`;
            console.error(`na: ${st.refused}`);
            save(st);
            return true;
          }
          for (const k of b.keys) st.acked[k] = true;
          st.batches.shift();
          save(st);
        }
        return unsent(st).length === 0 || !force;
      },
      end: async () => {},
    },
  };
  const collector = collectors[TARGET];
  if (!collector) throw new Error(`experiment.js: unknown target ${TARGET}`);

  function unsent(st) {
    return st.rows.filter((r) => !st.acked[r.trial_key] && !st.rejected[r.trial_key]);
  }
  function save(st) {
    lsSet(st.key, { rows: st.rows, acked: st.acked, rejected: st.rejected, token: st.token, refused: st.refused,
                    batches: st.batches, next_batch: st.next_batch });
  }

  let flushing = null, retryTimer = null, backoff = 500;
  function flush(st, force) {
    if (!collector.sends) return Promise.resolve(true);
    if (flushing) return flushing;
    flushing = (async () => {
      let ok = false;
      try {
        ok = await collector.send(st, force);
      } catch (e) {
        console.warn("na: sending failed; will retry", e);
      }
      flushing = null;
      clearTimeout(retryTimer);
      if (!ok) {  // retry with a growing pause (0.5 s .. 4 s) until the collector answers again
        retryTimer = setTimeout(() => flush(st), backoff);
        backoff = Math.min(backoff * 2, 4000);
      } else {
        backoff = 500;
        // trials that ended while this pass ran (DataPipe waits for a whole block)
        if (TARGET !== "datapipe" && unsent(st).length) retryTimer = setTimeout(() => flush(st), 0);
      }
      return ok && unsent(st).length === 0;
    })();
    return flushing;
  }

  // ------------------------------------------------------------------------------------------------
  // CSV of every recorded row (this page load's and earlier ones')
  // ------------------------------------------------------------------------------------------------
  function toCSV(rows) {
    const cols = [], seen = new Set();
    for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) { seen.add(k); cols.push(k); }
    const cell = (v) => {
      if (v === undefined || v === null) return "";
      if (typeof v === "object") v = JSON.stringify(v);
      return `"${String(v).replace(/"/g, '""')}"`;
    };
    return [cols.map(cell).join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\r\n") + "\r\n";
  }
  function download(text, name, mime) {
    const blob = new Blob([text], { type: mime });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  // ------------------------------------------------------------------------------------------------
  // the session
  // ------------------------------------------------------------------------------------------------
  async function main() {
    const extra = await collector.init();  // JATOS: its study link's URL parameters
    const params = new URLSearchParams(window.location.search);
    const get = (name) => params.get(name) || (extra && extra[name]) || "";
    let participant = get(C.participant_param) || get("PROLIFIC_PID");
    if (!participant && TARGET === "jatos" && window.jatos) participant = `jatos-${jatos.studyResultId}`;
    const randomId = !participant;
    if (!participant) {  // a random id, kept so that a reload is the same participant (until the session ends)
      participant = lsGet(`${PREFIX}:participant`) || "";
      if (!participant) {
        const r = new Uint32Array(2);
        crypto.getRandomValues(r);
        participant = "P" + r[0].toString(36) + r[1].toString(36);
        lsSet(`${PREFIX}:participant`, participant);
      }
    }
    const key = `${PREFIX}:${participant}`;
    const stored = lsGet(key) || {};
    const st = {
      key: key, participant: participant, study_id: get("STUDY_ID"), session_id: get("SESSION_ID"),
      rows: stored.rows || [], acked: stored.acked || {}, rejected: stored.rejected || {}, token: stored.token || null,
      refused: stored.refused || null, batches: stored.batches || [], next_batch: stored.next_batch || 0,
    };
    if (collector.sends) {
      try {
        await collector.begin(st);
      } catch (e) {
        console.warn("na: could not reach the collector; trials are kept and sent later", e);
      }
    }
    const done = new Set(st.rows.map((r) => r.trial_key));
    for (const k of Object.keys(st.acked)) done.add(k);

    const orderSeed = fnv1a(`${C.seed}:${participant}`);
    const rand = mulberry32(orderSeed);
    const order = shuffled(C.stimuli.map((s, i) => i), rand);
    // attention checks go after seeded, distinct trial positions (never first)
    const nChecks = Math.min(C.attention_checks.length, Math.max(0, order.length - 1));
    const checkAfter = shuffled(order.map((_, i) => i + 1).slice(0, -1), rand).slice(0, nChecks).sort((a, b) => a - b);

    const props = { participant: participant, experiment_format: C.format, experiment_id: C.experiment_id,
                    experiment_version: C.experiment_version, order_seed: orderSeed, target: TARGET };
    if (st.study_id) props.study_id = st.study_id;
    if (st.session_id) props.session_id = st.session_id;

    function record(data) {
      if (!data || !data.trial_key || done.has(data.trial_key)) return;
      const row = JSON.parse(JSON.stringify(Object.assign({}, props, data)));
      done.add(row.trial_key);
      st.rows.push(row);
      save(st);
      flush(st, TARGET === "datapipe" && row.task === "break");  // DataPipe: one file per block, sent at the break
    }

    const jsPsych = initJsPsych({ display_element: "jspsych-target", on_data_update: record });
    jsPsych.data.addProperties(props);

    const ratingKey = (pos) => `rating:${order[pos]}`;
    const nDone = order.filter((_, pos) => done.has(ratingKey(pos))).length;
    const scales = C.scales;
    const trials = [];
    if (!done.has("welcome")) {
      trials.push({ type: jsPsychHtmlButtonResponse, stimulus: C.welcome_html, choices: [C.start_label],
                    data: { task: "welcome", trial_key: "welcome" } });
    } else {  // a reload: say where the session continues (not recorded)
      trials.push({ type: jsPsychHtmlButtonResponse, choices: [C.continue_label],
                    stimulus: C.resume_html.replace("{next}", String(Math.min(nDone + 1, order.length)))
                      .replace("{total}", String(order.length)),
                    data: { task: "resume" } });
    }
    for (const q of C.questions) {
      if (done.has(`question:${q.name}`)) continue;
      trials.push({
        type: jsPsychSurveyMultiChoice,
        questions: [{ prompt: q.prompt, options: q.options, required: true, name: q.name, horizontal: q.horizontal }],
        data: { task: "question", question: q.name, trial_key: `question:${q.name}` },
        on_finish: (data) => {
          const chosen = data.response[q.name];
          data.answer = q.values[q.options.indexOf(chosen)];
          data[q.name] = data.answer;
        },
      });
    }
    if (!done.has("instructions")) {
      trials.push({ type: jsPsychHtmlButtonResponse, stimulus: C.instructions_html, choices: [C.start_label],
                    data: { task: "instructions", trial_key: "instructions",
                            order: JSON.stringify(order.map((i) => C.stimuli[i].stimulus)) } });
    }

    const nBlocks = Math.ceil(order.length / C.block_size);
    for (let pos = 0, check = 0; pos < order.length; pos++) {
      const block = Math.floor(pos / C.block_size);
      if (pos > 0 && pos % C.block_size === 0) {
        const inBlock = order.slice(pos, pos + C.block_size).map((_, j) => ratingKey(pos + j));
        if (!inBlock.some((k) => done.has(k))) {  // a break only before a block not yet begun
          trials.push({ type: jsPsychHtmlButtonResponse, choices: [C.continue_label],
                        stimulus: C.break_html.replace("{done}", String(block)).replace("{total}", String(nBlocks)),
                        data: { task: "break", block: block, trial_key: `break:${block}` } });
        }
      }
      if (pos % C.preload_chunk === 0) {
        const chunk = [];
        for (let j = pos; j < Math.min(pos + C.preload_chunk, order.length); j++) {
          if (!done.has(ratingKey(j))) chunk.push(C.stimuli[order[j]].file);
        }
        if (chunk.length) {
          trials.push({ type: jsPsychPreload, images: chunk, max_load_time: C.max_load_time_ms, show_progress_bar: true,
                        message: C.loading_html,
                        data: { task: "preload", block: block, n_files: chunk.length, trial_key: `preload:${pos}` } });
        }
      }
      const s = C.stimuli[order[pos]];
      if (!done.has(ratingKey(pos))) {
        trials.push({
          type: jsPsychNaDualSlider, image: s.file, image_size: C.display_size, scales: scales,
          require_movement: C.require_movement, button_label: C.continue_label,
          data: { task: "rating", stimulus: s.stimulus, file: s.file, block: block, position: pos + 1,
                  attention_check: false, trial_key: ratingKey(pos) },
        });
      }
      if (check < checkAfter.length && checkAfter[check] === pos + 1) {
        const a = C.attention_checks[check];
        if (!done.has(`check:${check + 1}`)) {
          trials.push({
            type: jsPsychNaDualSlider, image: s.file, image_size: C.display_size, prompt: a.prompt, scales: scales,
            require_movement: C.require_movement, button_label: C.continue_label,
            data: { task: "attention_check", stimulus: s.stimulus, file: s.file, block: block, attention_check: true,
                    check: check + 1, expected_valence: a.valence, expected_arousal: a.arousal,
                    trial_key: `check:${check + 1}` },
          });
        }
        check += 1;
      }
    }

    async function finish() {
      const code = C.completion_code || "";
      const redirect = C.redirect_url ? C.redirect_url.replace("{code}", encodeURIComponent(code)) : "";
      record({ trial_type: "end", task: "end", trial_key: "end", completion_code: code || null,
               redirect_url: redirect || null, n_ratings: st.rows.filter((r) => r.task === "rating").length,
               time_elapsed: jsPsych.getTotalTime() });
      const target = document.getElementById("jspsych-target");
      target.innerHTML = `<div class="na-end"><p id="na-saving">${C.saving_html}</p></div>`;
      let left = unsent(st).length;
      const t_end = performance.now() + C.save_timeout_ms;
      while (collector.sends && left && !st.refused && performance.now() < t_end) {
        await flush(st, true);
        left = unsent(st).length;
        if (left) await sleep(250);
      }
      const rows = st.rows;
      const csv = toCSV(rows), json = JSON.stringify(rows);
      const stem = `${C.experiment_id}_${participant}`.replace(/[^A-Za-z0-9_.-]/g, "_");
      const saved = collector.sends && !left && !st.refused && !Object.keys(st.rejected).length;
      const status = !collector.sends ? "" : saved ? C.saved_text
        : `${C.not_saved_text} (${left + Object.keys(st.rejected).length} ${st.refused ? "- " + st.refused : ""})`;
      target.innerHTML = `<div class="na-end">${C.end_html}` +
        (code ? `<p class="na-code">${C.completion_code_text} <b id="na-completion-code">${code}</b></p>` : "") +
        `<p id="na-save-status">${status}</p>` +
        `<p><button id="na-download-csv" class="jspsych-btn">${C.download_csv_label}</button> ` +
        `<button id="na-download-json" class="jspsych-btn">${C.download_json_label}</button></p>` +
        `<p id="na-post-status"></p></div>`;
      document.getElementById("na-download-csv").onclick = () => download(csv, `${stem}.csv`, "text/csv");
      document.getElementById("na-download-json").onclick = () => download(json, `${stem}.json`, "application/json");
      if (C.auto_download && (!collector.sends || !saved)) download(csv, `${stem}.csv`, "text/csv");
      if (C.post_url) {
        const postStatus = document.getElementById("na-post-status");
        fetch(C.post_url, { method: "POST", headers: { "Content-Type": "application/json" },
                            body: JSON.stringify({ participant: participant, experiment_version: C.experiment_version,
                                                   csv: csv, trials: rows }) })
          .then((r) => { postStatus.textContent = r.ok ? C.post_ok_text : `${C.post_failed_text} (HTTP ${r.status})`; })
          .catch((e) => { postStatus.textContent = `${C.post_failed_text} (${e})`; });
      }
      // the next person at this computer is a new participant (a reload of this end page shows it again)
      if (randomId && (saved || !collector.sends)) {
        try { if (LS) LS.removeItem(`${PREFIX}:participant`); } catch (e) { /* nothing kept */ }
      }
      window.NA_SAVED = saved;
      window.NA_FINISHED = true;
      await collector.end(st, code, saved ? redirect : "");
      if (redirect && saved && TARGET !== "jatos") setTimeout(() => { window.location.href = redirect; }, 3000);
    }

    window.addEventListener("online", () => flush(st));
    window.NA_STATE = st;  // for the tests and the curious: rows, acked, rejected
    jsPsych.run(trials).then(finish);
  }

  main();
})();
