//! Request metrics, counted as requests are answered (`--metrics-port`): how many, by
//! method, route template and status, how long they took (a histogram with Prometheus'
//! default buckets), and how many are in progress; written in Prometheus' text format
//! with the server's own gauges (`server/metrics.rs`).
//!
//! Label values are bounded: the route is the template a request matched (`/users/{id}`,
//! never the path itself; `unmatched` when no route took the method and path, a 405
//! included) and a method outside HTTP's own is `OTHER`, so a client cannot grow the series
//! without bound. WebSocket handshakes are not counted here (open connections are a gauge).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};

/// Upper bounds of the duration buckets, in seconds (the Prometheus clients' default).
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<Key, Series>>,
    in_progress: AtomicI64,
}

#[derive(Hash, PartialEq, Eq)]
struct Key {
    method: &'static str,
    route: Option<Arc<str>>,
    status: u16,
}

#[derive(Default)]
struct Series {
    /// Requests per bucket (not cumulative; summed when written).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// A request counted as in progress until dropped (answered, or its connection gone).
pub struct InProgress<'a> {
    metrics: &'a Metrics,
    pub started: Instant,
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.metrics.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn start(&self) -> InProgress<'_> {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        InProgress {
            metrics: self,
            started: Instant::now(),
        }
    }

    /// Counts a request answered with `status` after `elapsed`, routed by `route`.
    pub fn observe(
        &self,
        method: &Method,
        route: Option<Arc<str>>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let key = Key {
            method: method_label(method),
            route,
            status: status.as_u16(),
        };
        let seconds = elapsed.as_secs_f64();
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let series = series.entry(key).or_default();
        if let Some(bucket) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            series.buckets[bucket] += 1;
        }
        series.count += 1;
        series.sum += seconds;
    }

    /// Writes the request families, each sample also labelled with `extra`
    /// (`worker="0"`, or empty).
    pub fn render(&self, out: &mut String, extra: &str) {
        let Ok(series) = self.series.lock() else {
            return;
        };
        let mut rows: Vec<(String, &Series)> = series
            .iter()
            .map(|(key, series)| {
                let mut labels = String::new();
                let route = key.route.as_deref().unwrap_or("unmatched");
                let _ = write!(labels, "method=\"{}\",route=\"", key.method);
                escape_label(&mut labels, route);
                let _ = write!(labels, "\",status=\"{}\"{extra}", key.status);
                (labels, series)
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));

        family(
            out,
            "ignyx_http_requests_total",
            "counter",
            "HTTP requests answered.",
        );
        for (labels, series) in &rows {
            let _ = writeln!(
                out,
                "ignyx_http_requests_total{{{labels}}} {}",
                series.count
            );
        }
        family(
            out,
            "ignyx_http_request_duration_seconds",
            "histogram",
            "Time from a request's head to its answer's head, in seconds.",
        );
        for (labels, series) in &rows {
            let mut cumulative = 0;
            for (bound, in_bucket) in BUCKETS.iter().zip(series.buckets) {
                cumulative += in_bucket;
                let _ = writeln!(
                    out,
                    "ignyx_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "ignyx_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                series.count
            );
            let _ = writeln!(
                out,
                "ignyx_http_request_duration_seconds_sum{{{labels}}} {}",
                series.sum
            );
            let _ = writeln!(
                out,
                "ignyx_http_request_duration_seconds_count{{{labels}}} {}",
                series.count
            );
        }
        gauge(
            out,
            "ignyx_http_requests_in_progress",
            "HTTP requests being answered.",
            extra,
            self.in_progress.load(Ordering::Relaxed) as f64,
        );
    }
}

/// `# HELP` and `# TYPE` of a family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A gauge family of one sample, labelled with `extra` (`,worker="0"` or empty).
pub fn gauge(out: &mut String, name: &str, help: &str, extra: &str, value: f64) {
    family(out, name, "gauge", help);
    let labels = extra.trim_start_matches(',');
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format asks.
pub fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_method_route_and_status() {
        let metrics = Metrics::default();
        let route: Arc<str> = Arc::from("/users/{id}");
        for ms in [1, 20, 30_000] {
            let elapsed = Duration::from_millis(ms);
            metrics.observe(&Method::GET, Some(route.clone()), StatusCode::OK, elapsed);
        }
        let odd = Method::from_bytes(b"BREW").unwrap();
        metrics.observe(&odd, None, StatusCode::NOT_FOUND, Duration::ZERO);
        let _held = metrics.start();
        let mut out = String::new();
        metrics.render(&mut out, ",worker=\"1\"");
        let labels = r#"method="GET",route="/users/{id}",status="200",worker="1""#;
        assert!(out.contains(&format!("ignyx_http_requests_total{{{labels}}} 3\n")));
        assert!(out.contains(&format!(
            "ignyx_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1\n"
        )));
        assert!(out.contains(&format!(
            "ignyx_http_request_duration_seconds_bucket{{{labels},le=\"0.025\"}} 2\n"
        )));
        assert!(out.contains(&format!(
            "ignyx_http_request_duration_seconds_bucket{{{labels},le=\"10\"}} 2\n"
        )));
        assert!(out.contains(&format!(
            "ignyx_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 3\n"
        )));
        assert!(out.contains(
            r#"ignyx_http_requests_total{method="OTHER",route="unmatched",status="404",worker="1"} 1"#
        ));
        assert!(out.contains("ignyx_http_requests_in_progress{worker=\"1\"} 1\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_label(&mut out, "a\"b\\c\nd");
        assert_eq!(out, r#"a\"b\\c\nd"#);
    }
}
