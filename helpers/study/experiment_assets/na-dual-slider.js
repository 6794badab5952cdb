/* A jsPsych 8 plugin: one image with two 0-100 sliders (valence and arousal) on the same screen.
 *
 * Part of the Neural Aesthetics Notebooks (MIT licence); written for this project, not taken from jsPsych.
 * Each slider starts at `start` (50) and shows a row of SAM-style pictograms above it (SVG strings given
 * by the experiment). With `require_movement` the Continue button stays disabled until both sliders have
 * been moved. Data: valence, arousal (0-100), valence_moved, arousal_moved, rt (ms), valence_rt,
 * arousal_rt (ms to the first movement), plus whatever the timeline adds (stimulus id, block, ...).
 */
var jsPsychNaDualSlider = (function (jspsych) {
  "use strict";

  const info = {
    name: "na-dual-slider",
    version: "1.0.0",
    parameters: {
      /** URL of the image (relative to the page). */
      image: { type: jspsych.ParameterType.IMAGE, default: undefined },
      /** Width and height of the image box in px (the exported images already have this size). */
      image_size: { type: jspsych.ParameterType.INT, default: 512 },
      /** Text above the image (e.g. an attention-check instruction). */
      prompt: { type: jspsych.ParameterType.HTML_STRING, default: "" },
      /** The two scales, in screen order: [{name, question, left, right, pictograms: [svg, ...]}]. */
      scales: { type: jspsych.ParameterType.COMPLEX, default: undefined, array: true },
      start: { type: jspsych.ParameterType.INT, default: 50 },
      min: { type: jspsych.ParameterType.INT, default: 0 },
      max: { type: jspsych.ParameterType.INT, default: 100 },
      require_movement: { type: jspsych.ParameterType.BOOL, default: true },
      button_label: { type: jspsych.ParameterType.STRING, default: "Continue" },
    },
    data: {
      valence: { type: jspsych.ParameterType.INT },
      arousal: { type: jspsych.ParameterType.INT },
      valence_moved: { type: jspsych.ParameterType.BOOL },
      arousal_moved: { type: jspsych.ParameterType.BOOL },
      rt: { type: jspsych.ParameterType.INT },
    },
  };

  class NaDualSliderPlugin {
    constructor(jsPsych) {
      this.jsPsych = jsPsych;
    }
    static {
      this.info = info;
    }
    trial(display_element, trial) {
      const t0 = performance.now();
      const moved = {}, first = {};
      let html = `<div class="na-trial">`;
      if (trial.prompt) html += `<div class="na-prompt">${trial.prompt}</div>`;
      html += `<img class="na-image" src="${trial.image}" alt="" ` +
        `style="max-width:${trial.image_size}px;max-height:${trial.image_size}px">`;
      for (const s of trial.scales) {
        moved[s.name] = false;
        first[s.name] = null;
        html += `<div class="na-scale" id="na-scale-${s.name}"><div class="na-question">${s.question}</div>` +
          `<div class="na-sam">${s.pictograms.map((svg) => `<span class="na-sam-cell">${svg}</span>`).join("")}</div>` +
          `<input type="range" class="na-slider jspsych-slider" id="na-slider-${s.name}" name="${s.name}" ` +
          `min="${trial.min}" max="${trial.max}" step="1" value="${trial.start}" aria-label="${s.name}">` +
          `<div class="na-ends"><span>${s.left}</span><span>${s.right}</span></div></div>`;
      }
      html += `<button id="na-continue" class="jspsych-btn" ${trial.require_movement ? "disabled" : ""}>` +
        `${trial.button_label}</button></div>`;
      display_element.innerHTML = html;
      const button = display_element.querySelector("#na-continue");
      const update = () => {
        if (trial.require_movement) button.disabled = !trial.scales.every((s) => moved[s.name]);
      };
      for (const s of trial.scales) {
        const el = display_element.querySelector(`#na-slider-${s.name}`);
        const mark = () => {
          if (!moved[s.name]) first[s.name] = Math.round(performance.now() - t0);
          moved[s.name] = true;
          update();
        };
        el.addEventListener("input", mark);
        el.addEventListener("change", mark);
      }
      button.addEventListener("click", () => {
        const data = { rt: Math.round(performance.now() - t0) };
        for (const s of trial.scales) {
          data[s.name] = Number(display_element.querySelector(`#na-slider-${s.name}`).value);
          data[`${s.name}_moved`] = moved[s.name];
          data[`${s.name}_rt`] = first[s.name];
        }
        display_element.innerHTML = "";
        this.jsPsych.finishTrial(data);
      });
    }
  }

  return NaDualSliderPlugin;
})(jsPsychModule);
