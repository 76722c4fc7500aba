// arq-batch console: the one script. Pages work without it; with it, the running-jobs
// table follows the server's progress events (no reload). Values are set with
// textContent only, so nothing from the bucket is ever parsed as HTML.
(function () {
  "use strict";

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function jobRow(job) {
    var row = document.createElement("tr");
    row.dataset.job = job.job_id;
    if (job.stalled) { row.className = "stalled"; }
    var link = document.createElement("a");
    link.href = "/jobs/" + encodeURIComponent(job.job_id);
    link.textContent = job.job_id;
    cell(row, "").appendChild(link);
    var input = document.createElement("code");
    input.textContent = job.input;
    cell(row, "").appendChild(input);
    cell(row, job.worker_id);
    cell(row, Number(job.rows).toLocaleString("en")).dataset.field = "rows";
    var share = cell(row, "");
    var bar = document.createElement("progress");
    bar.max = 100;
    if (job.percent !== null) { bar.value = job.percent; }
    share.appendChild(bar);
    var percent = document.createElement("span");
    percent.dataset.field = "percent";
    percent.textContent = " " + (job.percent === null ? "?" : job.percent) + "%";
    share.appendChild(percent);
    cell(row, job.stalled ? "stalled" : job.eta_seconds === null ? "–"
      : job.eta_seconds + " s").dataset.field = "eta";
    return row;
  }

  function render(table, jobs) {
    var body = table.tBodies[0];
    var rows = jobs.map(jobRow);
    if (!rows.length) {
      var none = document.createElement("tr");
      none.className = "none";
      cell(none, "no job running", "muted").colSpan = 6;
      rows = [none];
    }
    body.replaceChildren.apply(body, rows);
    table.dataset.updates = String(Number(table.dataset.updates || 0) + 1);
  }

  // The page's own filters hold for the live rows too: one job, or text in the input.
  function wanted(table, job) {
    var only = table.dataset.job, text = (table.dataset.input || "").toLowerCase();
    return (!only || job.job_id === only) &&
      (!text || String(job.input).toLowerCase().indexOf(text) >= 0);
  }

  function follow(table) {
    var events = new EventSource(table.dataset.events);
    events.addEventListener("progress", function (event) {
      render(table, JSON.parse(event.data).filter(function (job) {
        return wanted(table, job);
      }));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("running");
    if (table && window.EventSource) { follow(table); }
  });
}());
