//! The registry's work: claiming names, the hot-path handle lookup, value functions read at render
//! time, and rendering (the types are in `mod.rs`).

use super::*;

impl Registry {
    /// Claims `name` for `kind`, keeping `help` when the name is new. `false` when the name or
    /// a label is invalid, or the name is already used by another kind: then the caller gets a
    /// handle that records nowhere, and a warning is logged.
    fn claim(&self, name: &str, help: &str, kind: Kind, labels: &[(&str, &str)]) -> bool {
        if !valid_metric_name(name) || !labels.iter().all(|(k, _)| valid_label_name(k)) {
            tracing::warn!(metric = name, "invalid metric or label name; not recorded");
            return false;
        }
        let known = self.families.read().unwrap_or_else(PoisonError::into_inner).get(name).map(|f| f.kind);
        let claimed = known.unwrap_or_else(|| {
            let mut families = self.families.write().unwrap_or_else(PoisonError::into_inner);
            families.entry(name.to_string()).or_insert_with(|| Family { kind, help: help.to_string() }).kind
        });
        if claimed != kind {
            tracing::warn!(metric = name, "metric name already used by another kind; not recorded");
        }
        claimed == kind
    }

    fn help(&self, name: &str) -> String {
        self.families
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|f| f.help.clone())
            .unwrap_or_default()
    }

    /// The counter `name{labels}`, created at 0 when new. `help` is kept from the first call.
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        if let Some(hot) = self.hot(Kind::Counter, name, labels, |h| h.counter.clone()) {
            return hot;
        }
        if !self.claim(name, help, Kind::Counter, labels) {
            return Counter::default();
        }
        let key = key(name, labels);
        let handle = self.recorder.register_counter(&key, &METADATA);
        let counter = Counter { handle, origin: Some(Arc::new((self.handle.clone(), key))) };
        self.keep_hot(Kind::Counter, name, labels, counter.clone(), Histogram::default());
        counter
    }

    /// A handle found before, if any.
    fn hot<T>(&self, kind: Kind, name: &str, labels: &[(&str, &str)], pick: impl Fn(&HotHandle) -> T) -> Option<T> {
        let hot = self.hot.read().unwrap_or_else(PoisonError::into_inner);
        hot.get(&hot_hash(kind, name, labels))?.iter().find(|h| h.is(kind, name, labels)).map(pick)
    }

    fn keep_hot(&self, kind: Kind, name: &str, labels: &[(&str, &str)], counter: Counter, histogram: Histogram) {
        let mut hot = self.hot.write().unwrap_or_else(PoisonError::into_inner);
        let slot = hot.entry(hot_hash(kind, name, labels)).or_default();
        if !slot.iter().any(|h| h.is(kind, name, labels)) {
            let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            slot.push(HotHandle { kind, name: name.to_string(), labels, counter, histogram });
        }
    }

    /// The gauge `name{labels}`, created at 0 when new.
    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        if !self.claim(name, help, Kind::Gauge, labels) {
            return Gauge::default();
        }
        Gauge(self.recorder.register_gauge(&key(name, labels), &METADATA))
    }

    /// The histogram `name{labels}` with [`LATENCY_BUCKETS`] (in seconds).
    pub fn histogram(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Histogram {
        if let Some(hot) = self.hot(Kind::Histogram, name, labels, |h| h.histogram.clone()) {
            return hot;
        }
        if !self.claim(name, help, Kind::Histogram, labels) {
            return Histogram::default();
        }
        let histogram = Histogram(self.recorder.register_histogram(&key(name, labels), &METADATA));
        self.keep_hot(Kind::Histogram, name, labels, Counter::default(), histogram.clone());
        histogram
    }

    /// Adds a value function for `name{labels}` (`kind` is `Counter` or `Gauge`), called at
    /// each render; once it returns `None` it is dropped. Several functions for one series are
    /// combined: counters summed, gauges the largest (and so is a recorded series of the same
    /// labels, like a [`Sample`]). Use a `Weak` to the owner so that a dropped owner disappears
    /// from the output.
    pub fn register_fn(&self, name: &str, help: &str, kind: Kind, labels: &[(&str, &str)], value: ValueFn) {
        if kind == Kind::Histogram {
            tracing::warn!(metric = name, "a value function cannot be a histogram; not recorded");
            return;
        }
        if !self.claim(name, help, kind, labels) {
            return;
        }
        let mut fns = lock(&self.fns);
        let family = fns.entry(name.to_string()).or_insert_with(|| FnFamily { kind, series: BTreeMap::new() });
        family.series.entry(own(labels)).or_default().push(value);
    }

    /// Everything in Prometheus text format.
    pub fn render(&self) -> String {
        self.render_with(&[])
    }

    /// Everything plus `extra`, in Prometheus text format: families sorted by name, each with
    /// its `# HELP` and `# TYPE` lines, series sorted by labels.
    pub fn render_with(&self, extra: &[Sample]) -> String {
        exposition::write(&self.families(extra))
    }

    /// Counters and gauges, read now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { families: self.families(&[]) }
    }

    fn families(&self, extra: &[Sample]) -> exposition::Families {
        let mut snapshot = exposition::parse(&self.handle.render());
        for (name, family) in &mut snapshot {
            family.help = self.help(name);
        }
        for sample in self.read_value_fns() {
            exposition::merge(&mut snapshot, &sample);
        }
        for sample in extra {
            exposition::merge(&mut snapshot, sample);
        }
        snapshot
    }

    /// Calls every value function outside the lock, combines those of one series, and removes
    /// the ones whose owner is gone.
    fn read_value_fns(&self) -> Vec<Sample> {
        let pending: Vec<(String, Kind, Labels, Vec<ValueFn>)> = lock(&self.fns)
            .iter()
            .flat_map(|(name, family)| {
                family.series.iter().map(|(labels, fns)| (name.clone(), family.kind, labels.clone(), fns.clone()))
            })
            .collect();
        let mut samples = Vec::new();
        let mut dead = Vec::new();
        for (name, kind, labels, fns) in pending {
            let mut combined: Option<f64> = None;
            for f in &fns {
                match f() {
                    Some(v) => combined = Some(combined.map_or(v, |c| combine(kind, c, v))),
                    None => dead.push((name.clone(), labels.clone(), f.clone())),
                }
            }
            if let Some(value) = combined {
                samples.push(Sample { help: self.help(&name), name, kind, labels, value });
            }
        }
        if !dead.is_empty() {
            let mut fns = lock(&self.fns);
            for (name, labels, f) in dead {
                let Some(family) = fns.get_mut(&name) else { continue };
                if let Some(series) = family.series.get_mut(&labels) {
                    series.retain(|g| !Arc::ptr_eq(g, &f));
                    if series.is_empty() {
                        family.series.remove(&labels);
                    }
                }
            }
        }
        samples
    }
}
