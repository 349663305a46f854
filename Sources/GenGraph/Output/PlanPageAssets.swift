/// The style sheet and scripts `PlanPage` inlines (a page that fetches nothing works offline and as a CI artifact).
enum PlanPageAssets {
    static let css = #"""
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 8px 16px; border-bottom: 1px solid #ddd; background: #f7f7f7; }
h1 { font-size: 20px; margin: 0 0 2px; } h2 { font-size: 16px; margin: 12px 0 4px; } h3 { font-size: 14px; margin: 14px 0 4px; }
header p { margin: 2px 0; }
.layout { display: flex; align-items: flex-start; }
main { flex: 1 1 auto; min-width: 0; padding: 0 16px 32px; }
aside.source { flex: 0 0 380px; position: sticky; top: 0; height: 100vh; overflow: auto; border-left: 1px solid #ddd; background: #fcfcfc; }
aside.source h2 { margin: 8px 12px; }
aside.source pre { margin: 0; font: 12px/1.45 ui-monospace, monospace; }
.ln { display: block; padding: 0 8px 0 4.3em; text-indent: -4.3em; white-space: pre-wrap; }
.ln .no { display: inline-block; width: 3.5em; margin-right: 0.8em; text-indent: 0; text-align: right; color: #999; user-select: none; }
.ln.hl { background: #ffe98a; }
.tabs { margin-top: 6px; }
.tab { font: inherit; padding: 3px 12px; margin-right: 4px; border: 1px solid #bbb; border-radius: 4px; background: #fff; cursor: pointer; }
.tab.on { background: #333; color: #fff; border-color: #333; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin: 0 3px 0 8px; border-radius: 2px; }
.swatch.forward, tr.forward td:first-child { background: #3b7dd8; }
.swatch.backward, tr.backward td:first-child { background: #e08a1e; }
.swatch.update, tr.update td:first-child { background: #3a9a3a; }
tr.forward td:first-child, tr.backward td:first-child, tr.update td:first-child { color: #fff; font-weight: 600; }
.note { color: #a33; } .hint { color: #777; margin: 2px 0; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; } figcaption { font-weight: 600; margin: 6px 0 2px; }
figure.graph { flex: 1 1 380px; min-width: 0; }
figure.graph svg { display: block; }
figure.graph > svg { max-width: 100%; height: auto; }
figure.graph.natural > svg { max-width: none; }
figcaption button { font: inherit; font-weight: normal; font-size: 11px; margin-left: 8px; cursor: pointer; }
figure.graph { max-height: 640px; overflow: auto; }
figure.chart { flex: 0 1 560px; } figure.chart svg { width: 100%; height: auto; }
g.node { cursor: pointer; }
g.node.sel path, g.node.sel polygon { stroke: #d00; stroke-width: 3; }
.rdot { cursor: pointer; } .rdot.sel { stroke: #d00; stroke-width: 3; r: 8; }
.details { min-height: 3em; margin: 8px 0; padding: 6px 10px; border: 1px solid #ddd; background: #fafafa; font-family: ui-monospace, monospace; font-size: 12px; }
table.kernels { border-collapse: collapse; font-size: 12px; width: 100%; }
table.kernels th { position: sticky; top: 0; background: #eee; cursor: pointer; text-align: left; padding: 3px 6px; white-space: nowrap; }
table.kernels th.asc::after { content: " \25B2"; } table.kernels th.desc::after { content: " \25BC"; }
table.kernels td { padding: 2px 6px; border-top: 1px solid #eee; vertical-align: top; }
table.kernels td.ops { font-family: ui-monospace, monospace; min-width: 160px; }
table.kernels td.num { white-space: nowrap; text-align: right; }
.tablebox { overflow-x: auto; }
table.kernels tbody tr { cursor: pointer; } table.kernels tbody tr:hover { background: #f3f7ff; }
table.kernels tr.sel { background: #fff3b0 !important; }
table.kernels tr.only-a td.kernel::after { content: " only in A"; color: #b91c1c; font-size: 85%; }
.diff { border: 1px solid #ddd; padding: 4px 12px; margin: 8px 0; background: #fafafa; }
.diff ul { font-family: ui-monospace, monospace; font-size: 85%; }
.diff ul.only-a li::marker { content: "- "; color: #b91c1c; }
.diff ul.only-b li::marker { content: "+ "; color: #15803d; }
table.difftotals td { padding: 2px 10px; text-align: right; }
table.difftotals td:first-child { text-align: left; }
ul.boundaries { padding-left: 18px; font-size: 12px; } ul.boundaries li { cursor: pointer; }
.kref { font-weight: 600; }
"""#

    /// Runs first: script errors end up in `#gg-errors`, visible and readable from a dumped DOM.
    static let errorHook = #"""
window.ggErrors = [];
window.onerror = function (message, source, line) {
  window.ggErrors.push(String(message) + ' (line ' + line + ')');
  var box = document.getElementById('gg-errors');
  if (box) { box.textContent = window.ggErrors.join('\n'); box.hidden = false; }
};
"""#

    static let script = #"""
(function () {
  'use strict';
  function all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  var sections = all('section.objective');

  function clear() {
    all('.sel').forEach(function (e) { e.classList.remove('sel'); });
    all('.ln.hl').forEach(function (e) { e.classList.remove('hl'); });
    all('.detail').forEach(function (e) { e.hidden = true; });
    all('.details .hint').forEach(function (e) { e.hidden = false; });
  }

  function showTab(o) {
    all('.tab').forEach(function (b) { b.classList.toggle('on', b.dataset.o === String(o)); });
    sections.forEach(function (s) { s.hidden = s.dataset.o !== String(o); });
    clear();
  }

  // Selects kernel k of objective o: its row, graph box, chart dot and details, and its source lines.
  function select(o, k) {
    clear();
    var section = document.getElementById('o' + o);
    var row = section.querySelector('tbody tr[data-k="' + k + '"]');
    if (!row) { return; }
    row.classList.add('sel');
    var node = document.getElementById('o' + o + '_k' + k);
    if (node) { node.classList.add('sel'); }
    all('.rdot[data-k="' + k + '"]', section).forEach(function (d) { d.classList.add('sel'); });
    var detail = section.querySelector('.detail[data-k="' + k + '"]');
    if (detail) { detail.hidden = false; section.querySelector('.details .hint').hidden = true; }
    var first = null;
    row.dataset.lines.split(' ').filter(Boolean).forEach(function (n) {
      var line = document.getElementById('L' + n);
      if (line) { line.classList.add('hl'); first = first || line; }
    });
    if (first) {
      var pane = document.querySelector('aside.source');
      pane.scrollTop = first.offsetTop - pane.clientHeight / 3;
    }
  }

  function sortBy(th) {
    var table = th.closest('table'), body = table.tBodies[0];
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = !th.classList.contains('asc');
    all('th', table).forEach(function (h) { h.classList.remove('asc', 'desc'); });
    th.classList.add(ascending ? 'asc' : 'desc');
    var numeric = th.dataset.type === 'num';
    var rows = all('tr', body);
    rows.sort(function (a, b) {
      var x = a.children[column].dataset.v, y = b.children[column].dataset.v;
      var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return (ascending ? order : -order) || (+a.dataset.k - +b.dataset.k);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  sections.forEach(function (section) {
    var o = section.dataset.o;
    section.addEventListener('click', function (event) {
      var th = event.target.closest('th');
      if (th) { sortBy(th); return; }
      var node = event.target.closest('g.node');
      var match = node && /_k(\d+)$/.exec(node.id);
      if (match) { select(o, match[1]); return; }
      var item = event.target.closest('[data-k]');
      if (item && !item.classList.contains('detail')) { select(o, item.dataset.k); }
    });
  });
  all('.tab').forEach(function (b) { b.addEventListener('click', function () { showTab(b.dataset.o); }); });
  all('figure.graph button').forEach(function (b) {
    b.addEventListener('click', function () {
      var natural = b.closest('figure').classList.toggle('natural');
      b.textContent = natural ? 'fit to width' : 'actual size';
    });
  });
  showTab(0);
  // #kO.K (say #k0.12) opens objective O with kernel K selected: a link to one kernel.
  var link = /^#k(\d+)\.(\d+)$/.exec(location.hash);
  if (link && document.getElementById('o' + link[1])) { showTab(link[1]); select(link[1], link[2]); }

  // #selftest: per objective, counts rows, selects kernels by row and by graph box, sorts; the
  // browser test reads the JSON this writes into #gg-selftest.
  if (location.hash === '#selftest') {
    var report = { sections: [] };
    sections.forEach(function (section) {
      var o = section.dataset.o;
      showTab(o);
      var rows = all('tbody tr', section);
      var result = { name: section.dataset.name, kernels: +section.dataset.kernels, rows: rows.length,
                     graphNodes: all('g.node', section).length, chartDots: all('.rdot', section).length };
      var withLines = rows.filter(function (r) { return r.dataset.lines; });
      result.rowsWithLines = withLines.length;
      if (withLines.length) {
        var row = withLines[withLines.length - 1];
        row.click();
        result.expectedLines = row.dataset.lines.split(' ').length;
        result.highlighted = all('.ln.hl').length;
        result.selectedRows = all('tr.sel', section).length;
        result.detailShown = !!section.querySelector('.detail:not([hidden])');
      }
      var node = section.querySelector('g.node');
      if (node) {
        node.dispatchEvent(new MouseEvent('click', { bubbles: true }));
        var selected = section.querySelector('tbody tr.sel');
        result.graphSelects = !!selected && node.id === 'o' + o + '_k' + selected.dataset.k;
      }
      var th = section.querySelector('th[data-key="flops"]');
      th.click();
      th.click();
      var flops = all('tbody tr', section).map(function (r) { return parseFloat(r.children[th.cellIndex].dataset.v); });
      result.sortedDescending = flops.every(function (v, i) { return i === 0 || flops[i - 1] >= v; });
      report.sections.push(result);
    });
    showTab(0);
    report.errors = window.ggErrors;
    var out = document.getElementById('gg-selftest');
    out.textContent = JSON.stringify(report);
    out.hidden = false;
  }
})();
"""#
}
