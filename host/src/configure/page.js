
(function () {
  'use strict';
  var app = document.getElementById('app');
  var form = document.getElementById('form');
  var storesBox = document.getElementById('stores');
  var indexersBox = document.getElementById('indexers');
  var addStore = document.getElementById('add-store');
  var addIndexer = document.getElementById('add-indexer');
  var usenetBox = document.getElementById('usenet');
  var addUsenet = document.getElementById('add-usenet');
  var cached = document.getElementById('cached');
  var acquire = document.getElementById('acquire');
  var checkButton = document.getElementById('check');
  var statusLine = document.getElementById('check-status');
  var formError = document.getElementById('form-error');
  var manifest = document.getElementById('manifest');
  var copyButton = document.getElementById('copy');
  var install = document.getElementById('install');
  var base = app.dataset.base;
  var maxStores = Number(app.dataset.maxStores);
  var maxIndexers = Number(app.dataset.maxIndexers);
  // The user-config field of the usenet indexers (chillproxy_stremio::USENET_INDEXERS_FIELD).
  var usenetField = app.dataset.usenetField;
  var maxBytes = Number(app.dataset.maxBytes);
  var authField = app.dataset.authField === '1';
  var authLabel = app.dataset.authLabel || '';
  var authNames = JSON.parse(app.dataset.authNames || '{}');
  var showAll = app.dataset.prefilled === '1';
  var touched = new WeakSet();
  var forced = new Map();
  var checkSeq = 0;
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  // The addon's path prefix comes from the server (chillproxy_stremio::routes::PREFIX); a proxy
  // may mount the server under a path of its own, kept from the page's location.
  var addon = app.dataset.prefix;
  var mount = location.pathname.indexOf(addon + '/') >= 0 ? location.pathname.slice(0, location.pathname.indexOf(addon + '/')) : '';
  var checkUrl = mount + addon + '/configure/check';
  var sealUrl = mount + addon + '/configure/seal';
  var sealing = app.dataset.seal === '1';
  var sealSeq = 0;
  var sealTimer = null;

  function rows(box) { return Array.prototype.slice.call(box.children); }
  function input(row, name) { return row.querySelector('[name="' + name + '"]'); }
  function value(row, name) { var el = input(row, name); return el ? el.value.trim() : ''; }

  function setError(el, message) {
    if (!el) return false;
    var field = el.closest('.field');
    if (!field) return !!message;
    message = forced.get(el) || message;
    var shown = message && (showAll || touched.has(el) || forced.has(el)) ? message : '';
    field.querySelector('.err').textContent = shown;
    field.classList.toggle('invalid', !!shown);
    return !!message;
  }

  function encode(text) {
    var bytes = new TextEncoder().encode(text);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // The server's rules (userconfig.rs), checked as the user types.
  function build() {
    var invalid = 0;
    var problems = [];
    var seen = {};
    var stores = rows(storesBox).map(function (row) {
      var select = input(row, 'c');
      var option = select.options[select.selectedIndex];
      var c = select.value;
      var t = value(row, 't');
      var auth = value(row, 'auth');
      var cError = '';
      if (!option || option.hasAttribute('data-unknown')) cError = 'This server does not offer this store.';
      else if (seen[c]) cError = option.textContent.split(' — ')[0] + ' is listed twice: remove one.';
      seen[c] = true;
      row.querySelector('.note').hidden = !(option && option.hasAttribute('data-stub'));
      var tError = '';
      var authEl = input(row, 'auth');
      var authShown = authEl && authEl.type !== 'hidden';
      if (!t && !(authShown && auth)) tError = authField ? 'Enter an API token or a ' + authLabel + '.' : 'Enter your API token.';
      var aError = authShown && auth && !UUID.test(auth) ? 'Not a user id: it looks like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.' : '';
      if (setError(select, cError) | setError(input(row, 't'), tError) | setError(authShown ? authEl : null, aError)) invalid++;
      var entry = { c: c };
      if (t) entry.t = t;
      if (auth) entry.auth = auth;
      return entry;
    });
    // Torrent indexers (`indexers`) and usenet ones (`usenetField`): the same fields and rules.
    function indexerList(box) {
      return rows(box).map(function (row) {
        var u = value(row, 'u');
        var uError = '';
        if (!u) uError = 'Enter the indexer URL.';
        else if (!/^https?:\/\//.test(u)) uError = 'The indexer URL must start with http:// or https://.';
        if (setError(input(row, 'u'), uError) | setError(input(row, 'n'), '')) invalid++;
        var indexer = { n: value(row, 'n') || 'generic', u: u };
        var ak = value(row, 'ak');
        if (ak) indexer.ak = ak;
        return indexer;
      });
    }
    var indexers = indexerList(indexersBox);
    var usenet = indexerList(usenetBox);
    if (!stores.length) problems.push('Add at least one store.');
    if (stores.length > maxStores) problems.push('At most ' + maxStores + ' stores are allowed.');
    if (indexers.length > maxIndexers) problems.push('At most ' + maxIndexers + ' indexers are allowed.');
    if (usenet.length > maxIndexers) problems.push('At most ' + maxIndexers + ' usenet indexers are allowed.');
    var config = { stores: stores };
    if (indexers.length) config.indexers = indexers;
    if (usenet.length) config[usenetField] = usenet;
    if (cached.checked) config.cached = true;
    // Acquiring applies to a cached-only list only (see the switch's text).
    acquire.disabled = !cached.checked;
    if (cached.checked && acquire.checked) config.acquire = true;
    invalid += prefs(config);
    var json = JSON.stringify(config);
    var encoded = encode(json);
    if (encoded.length > maxBytes) problems.push('The config is too long (' + encoded.length + ' of at most ' + maxBytes + ' characters): remove an entry.');
    if (forced.has(form)) problems.push(forced.get(form));
    return { ok: !invalid && !problems.length, json: json, encoded: encoded, problems: problems };
  }

  // The viewer's filters and order (preferences.rs): only what is set goes into the config.
  function prefs(config) {
    var invalid = 0;
    var box = document.getElementById('prefs');
    var el = function (name) { return box.querySelector('[name="' + name + '"]'); };
    var resolutions = Array.prototype.slice.call(box.querySelectorAll('input[name="resolution"]:checked')).map(function (r) { return r.value; });
    if (resolutions.length) config.resolutions = resolutions;
    var size = function (name) {
      var raw = el(name).value.trim();
      if (!raw) { setError(el(name), ''); return null; }
      var n = Number(raw);
      var bad = !(n > 0 && n <= 1000);
      if (setError(el(name), bad ? 'A number of GB above 0, at most 1000.' : '')) invalid++;
      if (!bad) config[name] = n;
      return bad ? null : n;
    };
    var min = size('min_size_gb');
    var max = size('max_size_gb');
    if (min !== null && max !== null && min > max && setError(el('min_size_gb'), 'Must not be above the largest size.')) invalid++;
    var cap = el('per_resolution').value.trim();
    var capBad = cap && !/^[0-9]+$/.test(cap) || Number(cap) > 100 || cap === '0';
    if (setError(el('per_resolution'), capBad ? 'A whole number from 1 to 100.' : '')) invalid++;
    if (cap && !capBad) config.per_resolution = Number(cap);
    var languages = Array.prototype.slice.call(box.querySelectorAll('input[name="language"]:checked')).map(function (l) { return l.value; });
    if (languages.length) config.languages = languages;
    ['exclude'].forEach(function (name) {
      var words = el(name).value.split(',').map(function (w) { return w.trim(); }).filter(function (w) { return w; });
      var bad = words.length > 20 ? 'At most 20 words.' : words.some(function (w) { return w.length > 40; }) ? 'A word is longer than 40 characters.' : '';
      if (setError(el(name), bad)) invalid++;
      if (words.length && !bad) config[name] = words;
    });
    var sort = el('sort').value;
    if (sort) config.sort = sort;
    return invalid;
  }

  function renumber(box, label) {
    rows(box).forEach(function (row, i) { row.querySelector('.num').textContent = label + ' ' + (i + 1); });
  }

  function update() {
    renumber(storesBox, 'Store');
    renumber(indexersBox, 'Indexer');
    renumber(usenetBox, 'Usenet indexer');
    addStore.disabled = storesBox.children.length >= maxStores;
    addIndexer.disabled = indexersBox.children.length >= maxIndexers;
    addUsenet.disabled = usenetBox.children.length >= maxIndexers;
    var built = build();
    formError.textContent = showAll ? built.problems.join(' ') : '';
    if (built.ok && sealing) {
      // The server seals the config (keys stay out of the URL): ask once typing pauses.
      showLink(null);
      manifest.placeholder = 'Sealing your link…';
      var seq = ++sealSeq;
      clearTimeout(sealTimer);
      sealTimer = setTimeout(function () { seal(built.json, seq); }, 250);
    } else if (built.ok) {
      showLink(built.encoded);
    } else {
      manifest.value = '';
      manifest.placeholder = 'Fix the fields marked in red to get your link';
      install.removeAttribute('href');
      install.classList.add('disabled');
      install.setAttribute('aria-disabled', 'true');
      copyButton.disabled = true;
    }
    return built;
  }

  function showLink(segment) {
    if (segment) {
      manifest.value = base + addon + '/' + segment + '/manifest.json';
      install.href = manifest.value.replace(/^https?:\/\//, 'stremio://');
      install.classList.remove('disabled');
      install.removeAttribute('aria-disabled');
      copyButton.disabled = false;
    } else {
      manifest.value = '';
      install.removeAttribute('href');
      install.classList.add('disabled');
      install.setAttribute('aria-disabled', 'true');
      copyButton.disabled = true;
    }
  }

  function seal(json, seq) {
    fetch(sealUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json, credentials: 'omit', cache: 'no-store' })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (seq !== sealSeq) return;
        if (answer.ok && answer.body.segment) {
          showLink(answer.body.segment);
        } else {
          manifest.placeholder = (answer.body && answer.body.problem) || 'The server could not seal this config';
        }
      })
      .catch(function () {
        if (seq === sealSeq) manifest.placeholder = 'The server could not be reached to seal your link; try again';
      });
  }

  function clearResult(row) {
    var result = row && row.querySelector('.result');
    if (result) { result.hidden = true; result.removeAttribute('data-state'); }
  }

  function showResult(row, state, title, message, badges) {
    var result = row.querySelector('.result');
    result.className = 'result ' + state;
    result.hidden = false;
    result.textContent = '';
    var mark = document.createElement('span');
    mark.className = 'mark';
    mark.textContent = state === 'ok' ? '✓' : state === 'bad' ? '!' : '';
    var text = document.createElement('span');
    text.className = 'text';
    var strong = document.createElement('strong');
    strong.textContent = title;
    text.appendChild(strong);
    if (message) { var span = document.createElement('span'); span.textContent = message; text.appendChild(span); }
    if (badges && badges.length) {
      var list = document.createElement('span');
      list.className = 'badges';
      badges.forEach(function (b) { var el = document.createElement('span'); el.className = 'badge ' + (b[1] || ''); el.textContent = b[0]; list.appendChild(el); });
      text.appendChild(list);
    }
    result.appendChild(mark);
    result.appendChild(text);
    result.setAttribute('data-state', state === 'pending' ? 'pending' : 'done');
  }

  function showStore(row, answer) {
    if (!row) return;
    var badges = [];
    if (answer.auth) badges.push(['via ' + (authNames[answer.auth] || answer.auth), '']);
    if (answer.account) badges.push([answer.name + ' ' + answer.account.subscription, answer.account.subscription === 'expired' ? 'warn' : 'good']);
    showResult(row, answer.ok ? 'ok' : 'bad', answer.ok ? answer.name + ' works' : answer.name + ' does not work', answer.message, badges);
  }

  // A problem the server found: next to its field when it names one.
  function serverProblem(problem, field) {
    var m = /^(\w+)\[(\d+)\](?:\.(\w+))?$/.exec(field || '');
    var box = !m ? null : m[1] === 'stores' ? storesBox : m[1] === 'indexers' ? indexersBox : m[1] === usenetField ? usenetBox : null;
    var target = null;
    if (box) {
      var row = rows(box)[Number(m[2])];
      if (row) target = input(row, m[3] || (m[1] === 'stores' ? 't' : 'u'));
    }
    if (target && target.closest('.field')) forced.set(target, 'Server: ' + problem);
    else forced.set(form, 'Server: ' + problem);
    update();
  }

  function setStatus(text, state) { statusLine.textContent = text; statusLine.className = 'status ' + (state || ''); }

  function check() {
    showAll = true;
    forced.clear();
    var built = update();
    if (!built.ok) {
      setStatus('Fix the fields marked in red first.', 'bad');
      var first = form.querySelector('.invalid input, .invalid select');
      if (first) first.focus();
      return;
    }
    var seq = ++checkSeq;
    var checked = rows(storesBox);
    checked.forEach(function (row) { showResult(row, 'pending', 'Checking…'); });
    checkButton.disabled = true;
    checkButton.textContent = 'Checking…';
    setStatus('');
    fetch(checkUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: built.json, credentials: 'omit', cache: 'no-store' })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (data) { return { status: response.status, ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (seq !== checkSeq) return;
        var data = answer.data;
        if (answer.ok && data && Array.isArray(data.stores)) {
          data.stores.forEach(function (store, i) { showStore(checked[i], store); });
          var good = data.stores.filter(function (s) { return s.ok; }).length;
          if (good === data.stores.length) setStatus(good === 1 ? 'Your store works. Install the addon below.' : 'All ' + good + ' stores work. Install the addon below.', 'ok');
          else setStatus(good + ' of ' + data.stores.length + ' stores work.', 'bad');
        } else {
          checked.forEach(clearResult);
          if (data && data.problem) { serverProblem(data.problem, data.field); setStatus('The server found a problem in the config.', 'bad'); }
          else setStatus('The check failed (HTTP ' + answer.status + '). Try again.', 'bad');
        }
      })
      .catch(function () {
        if (seq !== checkSeq) return;
        checked.forEach(clearResult);
        setStatus('Could not reach the server. Try again.', 'bad');
      })
      .then(function () {
        if (seq !== checkSeq) return;
        checkButton.disabled = false;
        checkButton.textContent = 'Check';
      });
  }

  function addRow(box, template, max) {
    if (box.children.length >= max) return;
    var row = template.content.firstElementChild.cloneNode(true);
    box.appendChild(row);
    update();
    var first = row.querySelector('select, input');
    if (first) first.focus();
  }

  addStore.addEventListener('click', function () { addRow(storesBox, document.getElementById('store-template'), maxStores); });
  addIndexer.addEventListener('click', function () { addRow(indexersBox, document.getElementById('indexer-template'), maxIndexers); });
  addUsenet.addEventListener('click', function () { addRow(usenetBox, document.getElementById('usenet-template'), maxIndexers); });
  form.addEventListener('click', function (event) {
    var remove = event.target.closest('.remove');
    if (remove) { remove.closest('.row').remove(); forced.clear(); update(); return; }
    var reveal = event.target.closest('.reveal');
    if (reveal) {
      var field = reveal.parentNode.querySelector('input');
      var show = field.type === 'password';
      field.type = show ? 'text' : 'password';
      reveal.textContent = show ? 'Hide' : 'Show';
      reveal.setAttribute('aria-pressed', String(show));
    }
  });
  function edited(event) {
    forced.delete(event.target);
    forced.delete(form);
    clearResult(event.target.closest('.store'));
    update();
  }
  form.addEventListener('input', edited);
  form.addEventListener('change', edited);
  // Leaving a field shows its error, which moves what is below it: while a button is being
  // pressed, wait for the release so the click still lands on it.
  var pointerDown = false;
  var pendingUpdate = false;
  function released() {
    pointerDown = false;
    if (pendingUpdate) { pendingUpdate = false; setTimeout(update, 0); }
  }
  document.addEventListener('pointerdown', function () { pointerDown = true; }, true);
  document.addEventListener('pointerup', released, true);
  document.addEventListener('pointercancel', released, true);
  form.addEventListener('focusout', function (event) {
    if (!event.target.matches('input, select')) return;
    touched.add(event.target);
    if (pointerDown) pendingUpdate = true;
    else update();
  });
  form.addEventListener('submit', function (event) { event.preventDefault(); check(); });
  copyButton.addEventListener('click', function () {
    var text = manifest.value;
    if (!text) return;
    function done() { copyButton.textContent = 'Copied ✓'; setTimeout(function () { copyButton.textContent = 'Copy'; }, 1500); }
    function fallback() { manifest.focus(); manifest.select(); try { if (document.execCommand('copy')) done(); } catch (e) { /* selected for a manual copy */ } }
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  });
  update();
})();
