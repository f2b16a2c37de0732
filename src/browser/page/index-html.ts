/**
 * The ui page's HTML and CSS (the script is the bundle of app.ts). Element ids are the ones
 * app.ts reads.
 */
export const UI_PAGE_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>adapterkit — train an adapter in this tab</title>
<style>
  :root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #2f6fdf; --bad: #b3261e; --bg: #f6f7f9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
  header h1 { margin: 0; font-size: 20px; }
  header .runtime { color: var(--muted); font-size: 13px; }
  main { max-width: 1120px; margin: 0 auto; padding: 16px 24px 40px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin-bottom: 16px; }
  section h2 { margin: 0 0 12px; font-size: 17px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px 14px; margin: 10px 0; }
  label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
  input, select, textarea { font: inherit; color: var(--fg); padding: 5px 7px; border: 1px solid var(--line); border-radius: 5px; background: #fff; }
  select { max-width: 100%; }
  .wide { grid-column: 1 / -1; }
  .drop { border: 2px dashed var(--line); border-radius: 8px; padding: 12px; color: var(--muted); text-align: center; }
  .buttons { display: flex; gap: 8px; margin: 12px 0; align-items: center; }
  button { font: inherit; padding: 6px 16px; border-radius: 5px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
  button:disabled { background: #c9d3e6; border-color: #c9d3e6; cursor: default; }
  button.secondary { background: #fff; color: var(--accent); }
  button.secondary:disabled { color: #9aa6bd; background: #fff; }
  progress { width: 320px; height: 14px; }
  #message { margin: 8px 0; padding: 8px 10px; border-radius: 5px; background: #eef3fc; min-height: 1.4em; }
  #message.error { background: #fbeceb; color: var(--bad); }
  .charts { display: flex; gap: 16px; flex-wrap: wrap; }
  .chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; }
  .chart text { font-size: 11px; fill: var(--muted); }
  .chart .chart-title { font-size: 13px; fill: var(--fg); font-weight: 600; }
  .chart .axis { stroke: #9aa3b2; stroke-width: 1; }
  .chart .line { fill: none; stroke: var(--accent); stroke-width: 1.8; }
  .chart circle { fill: var(--accent); }
  .now { color: var(--muted); font-size: 13px; margin: 4px 0; }
  table { border-collapse: collapse; margin-top: 10px; font-size: 14px; }
  th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
  td.label { font-weight: 600; }
  textarea { width: 100%; min-height: 80px; }
</style>
</head>
<body>
<header><h1>adapterkit</h1><span>train an adapter in this tab</span><span class="runtime" id="runtime">starting the runtime…</span></header>
<main>
<section id="train-section">
  <h2>Train</h2>
  <div class="grid">
    <label class="wide">base<select id="base"><option value="use-lite">use-lite — the embedded Universal Sentence Encoder-lite (7M parameters, offline)</option></select></label>
    <label class="wide">dataset<select id="dataset"><option>loading…</option></select></label>
    <label>training examples<input id="train-examples" value="256"></label>
    <label>dev examples<input id="dev-examples" value="128"></label>
    <label>adapter size m<input id="adapter-size" value="64"></label>
    <label>learning rate<input id="lr" value="0.001"></label>
    <label>epochs<input id="epochs" value="1"></label>
    <label>batch size<input id="batch-size" value="16"></label>
    <label>max length (tokens)<input id="max-length" value="64"></label>
    <label>max steps (optional)<input id="max-steps" value=""></label>
    <label>evaluate every N steps<input id="eval-every" value="4"></label>
    <label>seed<input id="seed" value="42"></label>
    <label>frozen base<select id="frozen-precision"><option value="fp32">fp32</option><option value="int8">int8 (faster, guarded)</option></select></label>
  </div>
  <div class="drop" id="csv-drop">Drop a CSV file here, or <input type="file" id="csv-file" accept=".csv,text/csv">
    <div class="grid"><label>text column<input id="csv-text" value="text"></label><label>label column<input id="csv-label" value="label"></label></div>
    <div id="csv-info"></div>
  </div>
  <div class="buttons">
    <button id="train">Train</button><button id="stop" class="secondary">Stop</button><button id="resume" class="secondary">Resume</button>
    <progress id="progress" value="0" max="1"></progress><span id="progress-text"></span>
  </div>
  <div id="message"></div>
  <div class="now" id="loss-now"></div><div class="now" id="dev-now"></div><div class="now" id="frozen-plan"></div>
  <div class="charts"><div id="loss-chart"></div><div id="dev-chart"></div></div>
</section>
<section id="predict-section">
  <h2>Predict</h2>
  <p class="now">Classify texts (one per line) with the model trained in this tab (at the precision it trains with), or with a saved task on the embedded base or a served one (a task directory's zip, such as Download's; or one named with <code>adapterkit ui --task name=dir</code>), its frozen base and adapter in fp32 or in int8 (the outlier guard measures on the first texts it classifies).</p>
  <div class="grid"><label class="wide">model<select id="predict-model"><option value="tab">the model trained in this tab</option></select></label>
    <label>frozen base (saved tasks)<select id="predict-precision"><option value="fp32">fp32</option><option value="int8">int8 (faster, guarded)</option></select></label>
    <label class="wide">open a saved task (.zip)<input type="file" id="task-zip" accept=".zip,application/zip"></label></div>
  <textarea id="predict-text">Congratulations, you won a free prize! Click here now
Can we move tomorrow's meeting to 3 pm?</textarea>
  <div class="buttons"><button id="classify">Classify</button></div>
  <div class="now" id="predict-plan"></div>
  <div id="predictions"></div>
</section>
<section id="download-section">
  <h2>Download</h2>
  <p class="now">The task directory (adapterkit.json, the AdapterHub and PEFT files, the head) of the model in this tab, as a zip: unzip it and <code>adapterkit eval</code> or <code>adapterkit predict</code> it in Node.</p>
  <div class="buttons"><button id="download">Download the task (.zip)</button></div>
</section>
</main>
<script type="module" src="/app/app.js"></script>
</body>
</html>
`;
