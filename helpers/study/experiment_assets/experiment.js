/* The rating experiment exported by helpers.experiment (Neural Aesthetics Notebooks, MIT licence).
 *
 * Reads window.NA_CONFIG (config.js, written at export). Order of screens: welcome, the participant
 * questions, then the images in a per-participant random order (seeded by the participant id and the
 * export's seed, recorded in the data) in blocks with breaks, preloading one chunk of images before it is
 * needed; attention checks at seeded positions; at the end the data are offered as CSV and JSON downloads
 * and, when the export named a URL, POSTed there as JSON.
 */
(function () {
  "use strict";
  const C = window.NA_CONFIG;

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

  const params = new URLSearchParams(window.location.search);
  let participant = params.get(C.participant_param) || params.get("PROLIFIC_PID") || "";
  if (!participant) {
    const r = new Uint32Array(2);
    crypto.getRandomValues(r);
    participant = "P" + r[0].toString(36) + r[1].toString(36);
  }
  const orderSeed = fnv1a(`${C.seed}:${participant}`);
  const rand = mulberry32(orderSeed);
  const order = shuffled(C.stimuli.map((s, i) => i), rand);
  // attention checks go after seeded, distinct trial positions (never first)
  const nChecks = Math.min(C.attention_checks.length, Math.max(0, order.length - 1));
  const checkAfter = shuffled(order.map((_, i) => i + 1).slice(0, -1), rand).slice(0, nChecks).sort((a, b) => a - b);

  const jsPsych = initJsPsych({
    display_element: "jspsych-target",
    on_finish: finish,
  });
  jsPsych.data.addProperties({
    participant: participant,
    experiment_format: C.format,
    experiment_id: C.experiment_id,
    experiment_version: C.experiment_version,
    order_seed: orderSeed,
  });

  const scales = C.scales;
  const trials = [];
  trials.push({
    type: jsPsychHtmlButtonResponse,
    stimulus: C.welcome_html,
    choices: [C.start_label],
    data: { task: "welcome" },
  });
  for (const [qi, q] of C.questions.entries()) {
    trials.push({
      type: jsPsychSurveyMultiChoice,
      questions: [{ prompt: q.prompt, options: q.options, required: true, name: q.name, horizontal: q.horizontal }],
      data: { task: "question", question: q.name },
      on_finish: (data) => {
        const chosen = data.response[q.name];
        data.answer = q.values[q.options.indexOf(chosen)];
        data[q.name] = data.answer;
      },
    });
  }
  trials.push({
    type: jsPsychHtmlButtonResponse,
    stimulus: C.instructions_html,
    choices: [C.start_label],
    data: { task: "instructions", order: JSON.stringify(order.map((i) => C.stimuli[i].stimulus)) },
  });

  const nBlocks = Math.ceil(order.length / C.block_size);
  let check = 0;
  for (let pos = 0; pos < order.length; pos++) {
    const block = Math.floor(pos / C.block_size);
    if (pos > 0 && pos % C.block_size === 0) {
      trials.push({
        type: jsPsychHtmlButtonResponse,
        stimulus: C.break_html.replace("{done}", String(block)).replace("{total}", String(nBlocks)),
        choices: [C.continue_label],
        data: { task: "break", block: block },
      });
    }
    if (pos % C.preload_chunk === 0) {
      const chunk = order.slice(pos, pos + C.preload_chunk).map((i) => C.stimuli[i].file);
      trials.push({
        type: jsPsychPreload,
        images: chunk,
        max_load_time: C.max_load_time_ms,
        show_progress_bar: true,
        message: C.loading_html,
        data: { task: "preload", block: block, n_files: chunk.length },
      });
    }
    const s = C.stimuli[order[pos]];
    trials.push({
      type: jsPsychNaDualSlider,
      image: s.file,
      image_size: C.display_size,
      scales: scales,
      require_movement: C.require_movement,
      button_label: C.continue_label,
      data: { task: "rating", stimulus: s.stimulus, file: s.file, block: block, position: pos + 1, attention_check: false },
    });
    if (check < checkAfter.length && checkAfter[check] === pos + 1) {
      const a = C.attention_checks[check];
      trials.push({
        type: jsPsychNaDualSlider,
        image: s.file,
        image_size: C.display_size,
        prompt: a.prompt,
        scales: scales,
        require_movement: C.require_movement,
        button_label: C.continue_label,
        data: { task: "attention_check", stimulus: s.stimulus, file: s.file, block: block, attention_check: true,
                check: check + 1, expected_valence: a.valence, expected_arousal: a.arousal },
      });
      check += 1;
    }
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

  function finish() {
    const data = jsPsych.data.get();
    const csv = data.csv(), json = data.json();
    const stem = `${C.experiment_id}_${participant}`.replace(/[^A-Za-z0-9_.-]/g, "_");
    const target = document.getElementById("jspsych-target");
    target.innerHTML = `<div class="na-end">${C.end_html}<p><button id="na-download-csv" class="jspsych-btn">` +
      `${C.download_csv_label}</button> <button id="na-download-json" class="jspsych-btn">${C.download_json_label}` +
      `</button></p><p id="na-post-status"></p></div>`;
    document.getElementById("na-download-csv").onclick = () => download(csv, `${stem}.csv`, "text/csv");
    document.getElementById("na-download-json").onclick = () => download(json, `${stem}.json`, "application/json");
    if (C.auto_download) download(csv, `${stem}.csv`, "text/csv");
    if (C.post_url) {
      const status = document.getElementById("na-post-status");
      fetch(C.post_url, { method: "POST", headers: { "Content-Type": "application/json" },
                          body: JSON.stringify({ participant: participant, experiment_version: C.experiment_version,
                                                 csv: csv, trials: JSON.parse(json) }) })
        .then((r) => { status.textContent = r.ok ? C.post_ok_text : `${C.post_failed_text} (HTTP ${r.status})`; })
        .catch((e) => { status.textContent = `${C.post_failed_text} (${e})`; });
    }
    window.NA_FINISHED = true;
  }

  jsPsych.run(trials);
})();
