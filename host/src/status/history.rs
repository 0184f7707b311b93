//! The last hour in memory: a ring of frames, one per sample, each a few numbers per series.
//! Series are interned once (chart, label, kind) and bounded in number; frames are bounded by
//! the hour. A counter is kept as its running total (its rate is worked out when drawn), a
//! gauge as its level.

use std::collections::VecDeque;

/// How long frames are kept, in seconds.
pub(crate) const WINDOW_S: u64 = 3600;
/// Most frames kept (one every 10 s for an hour, with room for a faster sampler in tests).
const MAX_FRAMES: usize = 400;
/// Most series kept; a series that would pass this is not recorded.
pub(crate) const MAX_SERIES: usize = 128;

/// Which chart a series belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Chart {
    /// HTTP requests per minute.
    Requests,
    /// Playbacks per minute, by outcome.
    Playback,
    /// Failed upstream calls per minute, by upstream.
    UpstreamErrors,
    /// Budget left, in percent, by store, key and window.
    Budgets,
    /// Breakers (by plugin) and the shared tier: 0 closed or ok, 0.5 half-open, 1 open or
    /// degraded.
    Breakers,
    /// Usage events waiting for delivery.
    Spool,
}

/// How a series' numbers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    /// A running total: drawn as its rate per minute.
    Counter,
    /// A level: drawn as it is.
    Gauge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Series {
    pub chart: Chart,
    pub label: String,
    pub measure: Measure,
}

/// One reading of every series, at a Unix time in seconds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reading {
    pub at: u64,
    pub values: Vec<(Series, f64)>,
}

impl Reading {
    pub fn push(&mut self, chart: Chart, label: impl Into<String>, measure: Measure, value: f64) {
        self.values.push((Series { chart, label: label.into(), measure }, value));
    }
}

#[derive(Debug, Clone)]
struct Frame {
    at: u64,
    /// (series index, value).
    values: Vec<(u16, f32)>,
}

/// The frames of the last hour.
#[derive(Debug, Default)]
pub(crate) struct History {
    series: Vec<Series>,
    frames: VecDeque<Frame>,
}

/// One series' points over the window: (Unix seconds, value as drawn).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub label: String,
    pub points: Vec<(u64, f64)>,
}

impl History {
    /// Keeps `reading` (frames older than the window, or past the bound, are dropped).
    pub fn record(&mut self, reading: &Reading) {
        let values = self.intern(reading);
        self.frames.push_back(Frame { at: reading.at, values });
        while self.frames.len() > MAX_FRAMES || self.frames.front().is_some_and(|f| f.at + WINDOW_S < reading.at) {
            self.frames.pop_front();
        }
    }

    fn intern(&mut self, reading: &Reading) -> Vec<(u16, f32)> {
        let mut values = Vec::with_capacity(reading.values.len());
        for (series, value) in &reading.values {
            let index = match self.series.iter().position(|s| s == series) {
                Some(index) => index,
                None if self.series.len() < MAX_SERIES => {
                    self.series.push(series.clone());
                    self.series.len() - 1
                }
                None => continue,
            };
            if let Ok(index) = u16::try_from(index) {
                values.push((index, *value as f32));
            }
        }
        values
    }

    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// When the oldest kept frame was read (Unix seconds).
    pub fn first_at(&self) -> Option<u64> {
        self.frames.front().map(|f| f.at)
    }

    /// The lines of `chart` over the kept frames and `live` (a reading taken now, not kept):
    /// counters as their rate per minute between frames (a total that went down restarted), gauges
    /// as they are. Series in the order they were first seen.
    pub fn lines(&self, chart: Chart, live: Option<&Reading>) -> Vec<Line> {
        let live_frame = live.map(|reading| {
            let values = reading
                .values
                .iter()
                .filter_map(|(series, value)| {
                    let index = self.series.iter().position(|s| s == series)?;
                    Some((u16::try_from(index).ok()?, *value as f32))
                })
                .collect();
            Frame { at: reading.at, values }
        });
        let frames: Vec<&Frame> = self.frames.iter().chain(live_frame.iter()).collect();
        let mut lines = Vec::new();
        for (index, series) in self.series.iter().enumerate() {
            if series.chart != chart {
                continue;
            }
            let Ok(index) = u16::try_from(index) else { continue };
            let values: Vec<(u64, f64)> = frames
                .iter()
                .filter_map(|f| f.values.iter().find(|(i, _)| *i == index).map(|(_, v)| (f.at, f64::from(*v))))
                .collect();
            let points = match series.measure {
                Measure::Gauge => values,
                Measure::Counter => values
                    .windows(2)
                    .filter_map(|pair| {
                        let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
                        let dt = t1.checked_sub(t0).filter(|dt| *dt > 0)?;
                        let delta = if v1 >= v0 { v1 - v0 } else { v1 };
                        Some((t1, delta * 60.0 / dt as f64))
                    })
                    .collect(),
            };
            lines.push(Line { label: series.label.clone(), points });
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: u64, requests: f64, depth: f64) -> Reading {
        let mut reading = Reading { at, values: Vec::new() };
        reading.push(Chart::Requests, "all", Measure::Counter, requests);
        reading.push(Chart::Spool, "depth", Measure::Gauge, depth);
        reading
    }

    #[test]
    fn counters_are_drawn_as_rates_per_minute_and_gauges_as_levels() {
        let mut history = History::default();
        history.record(&reading(1_000, 10.0, 3.0));
        history.record(&reading(1_010, 20.0, 4.0));
        // A restarted total counts from zero.
        history.record(&reading(1_020, 5.0, 5.0));
        let live = reading(1_030, 10.0, 6.0);
        let requests = history.lines(Chart::Requests, Some(&live));
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].points, vec![(1_010, 60.0), (1_020, 30.0), (1_030, 30.0)]);
        let spool = history.lines(Chart::Spool, None);
        assert_eq!(spool[0].points, vec![(1_000, 3.0), (1_010, 4.0), (1_020, 5.0)]);
        assert!(history.lines(Chart::Budgets, None).is_empty());
    }

    #[test]
    fn frames_older_than_the_hour_and_series_past_the_bound_are_dropped() {
        let mut history = History::default();
        for i in 0..500u64 {
            history.record(&reading(i * 10, i as f64, 0.0));
        }
        assert_eq!(history.frames(), (WINDOW_S / 10 + 1) as usize);
        let mut many = Reading { at: 5_000, values: Vec::new() };
        for i in 0..MAX_SERIES + 10 {
            many.push(Chart::UpstreamErrors, format!("u{i}"), Measure::Counter, 1.0);
        }
        history.record(&many);
        assert_eq!(history.series.len(), MAX_SERIES);
    }
}
