//! A route's compiled plan: how to call the user's code for one request.
//!
//! Python compiles each route once at registration (`ignyx.routing`) into a
//! general entry point `call(request)` and, when every parameter is a plain
//! path or query scalar, a fast plan that lets Rust convert the parameters and
//! call the endpoint directly. The fast plan only ever accepts input it can
//! convert exactly as pydantic would; anything else falls back to `call`, whose
//! pydantic validation produces FastAPI's 422 body.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use http::StatusCode;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString, PyTuple};

use crate::request::RequestData;

pub struct Route {
    /// `call(RequestData) -> result` (or a coroutine when `is_async`).
    pub call: Py<PyAny>,
    pub is_async: bool,
    pub fast: Option<FastCall>,
    pub status: StatusCode,
    /// Whether this sync route may run on the I/O thread itself.
    pub inline: InlinePolicy,
}

/// Sync routes start on the sync pool. One whose calls prove quick (`PROMOTE_AFTER`
/// calls under `QUICK`, with at most one slow call in 16: a quick call preempted on a
/// busy core looks slow now and then, a blocking one always does) is then run inline on
/// the I/O thread, saving two thread switches per request. An inline call that turns out
/// slow (over `SLOW`: a sleep, a blocking query, or just preemption) sends the route back
/// to the pool to prove itself again: a blocking handler stalls other requests at most
/// once (never, if it is slow from its first calls), while a quick one preempted by bad
/// luck soon returns. After `MAX_DEMOTIONS` the route stays on the pool.
///
/// Python holds one per sync callable of an async plan (`ignyx._core.InlinePolicy`): a
/// sync dependency, or a sync endpoint with async dependencies, runs on the threadpool
/// until it proves quick, then on the event loop itself.
#[pyclass(module = "ignyx._core", frozen)]
#[derive(Default)]
pub struct InlinePolicy {
    quick_calls: AtomicU32,
    slow_calls: AtomicU32,
    demotions: AtomicU32,
    inline: AtomicBool,
}

const QUICK: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_millis(2);
const PROMOTE_AFTER: u32 = 64;
const MAX_DEMOTIONS: u32 = 8;

impl InlinePolicy {
    pub fn is_inline(&self) -> bool {
        self.inline.load(Ordering::Relaxed)
    }

    /// Records how long a call took on the sync pool.
    pub fn observe_pooled(&self, took: Duration) {
        if self.is_inline() || self.demotions.load(Ordering::Relaxed) >= MAX_DEMOTIONS {
            return;
        }
        if took < QUICK {
            let quick = self.quick_calls.fetch_add(1, Ordering::Relaxed) + 1;
            if quick >= PROMOTE_AFTER && self.slow_calls.load(Ordering::Relaxed) * 16 <= quick {
                self.inline.store(true, Ordering::Relaxed);
            }
        } else {
            self.slow_calls.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records how long an inline call took on the I/O thread.
    pub fn observe_inline(&self, took: Duration) {
        if took > SLOW && self.inline.swap(false, Ordering::Relaxed) {
            self.demotions.fetch_add(1, Ordering::Relaxed);
            self.quick_calls.store(0, Ordering::Relaxed);
            self.slow_calls.store(0, Ordering::Relaxed);
        }
    }
}

#[pymethods]
impl InlinePolicy {
    #[new]
    fn py_new() -> Self {
        Self::default()
    }

    /// Whether the callable may run inline now.
    #[getter]
    fn inline(&self) -> bool {
        self.is_inline()
    }

    /// `observe_pooled`, with the call's duration in seconds.
    #[pyo3(name = "observe_pooled")]
    fn py_observe_pooled(&self, seconds: f64) {
        self.observe_pooled(Duration::try_from_secs_f64(seconds).unwrap_or_default());
    }

    /// `observe_inline`, with the call's duration in seconds.
    #[pyo3(name = "observe_inline")]
    fn py_observe_inline(&self, seconds: f64) {
        self.observe_inline(Duration::try_from_secs_f64(seconds).unwrap_or_default());
    }
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<InlinePolicy>()
}

pub struct FastCall {
    pub endpoint: Py<PyAny>,
    pub params: Vec<FastParam>,
}

pub struct FastParam {
    pub source: Source,
    pub name: String,
    pub kind: Kind,
    /// `None` when the parameter is required.
    pub default: Option<Py<PyAny>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Path,
    Query,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Str,
    Int,
    Float,
    Bool,
}

impl Source {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "path" => Some(Self::Path),
            "query" => Some(Self::Query),
            _ => None,
        }
    }
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "str" => Some(Self::Str),
            "int" => Some(Self::Int),
            "float" => Some(Self::Float),
            "bool" => Some(Self::Bool),
            _ => None,
        }
    }
}

impl FastCall {
    /// The positional arguments for the endpoint, or `None` to take the general path.
    pub fn args<'py>(
        &self,
        py: Python<'py>,
        data: &RequestData,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let mut args = Vec::with_capacity(self.params.len());
        for param in &self.params {
            let raw = match param.source {
                Source::Path => data.path_param(&param.name),
                Source::Query => data.query_last(&param.name),
            };
            let value = match raw {
                Some(raw) => match convert(py, param.kind, raw) {
                    Some(value) => value,
                    None => return Ok(None),
                },
                None => match &param.default {
                    Some(default) => default.clone_ref(py).into_bound(py),
                    None => return Ok(None),
                },
            };
            args.push(value);
        }
        PyTuple::new(py, args).map(Some)
    }
}

/// Converts `raw` the way pydantic's lax mode would, but only for inputs whose
/// result is beyond doubt; `None` defers to pydantic.
pub fn convert<'py>(py: Python<'py>, kind: Kind, raw: &str) -> Option<Bound<'py, PyAny>> {
    match kind {
        Kind::Str => Some(PyString::new(py, raw).into_any()),
        Kind::Int => parse_int(raw)
            .map(|n| n.into_pyobject(py).ok())?
            .map(|n| n.into_any()),
        Kind::Float => parse_float(raw).map(|f| PyFloat::new(py, f).into_any()),
        Kind::Bool => {
            parse_bool(raw).map(|b| pyo3::types::PyBool::new(py, b).to_owned().into_any())
        }
    }
}

/// Plain decimal integers only (`-12`, `42`); pydantic decides everything else.
pub fn parse_int(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// Plain decimal numbers only (`1.5`, `-2`, `0.25`); pydantic decides everything else.
pub fn parse_float(raw: &str) -> Option<f64> {
    let body = raw.strip_prefix('-').unwrap_or(raw);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || body.len() > 30 || !plain(int) || !plain(frac) || body.ends_with('.') {
        return None;
    }
    raw.parse().ok()
}

/// The spellings pydantic accepts for booleans, case-insensitively.
pub fn parse_bool(raw: &str) -> Option<bool> {
    if raw.len() > 5 {
        return None;
    }
    match raw.to_ascii_lowercase().as_str() {
        "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
        "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_are_only_plain_decimals() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-7"), Some(-7));
        for deferred in [
            "",
            "-",
            "+5",
            " 5",
            "5 ",
            "1_000",
            "4.0",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(parse_int(deferred), None, "{deferred:?}");
        }
    }

    #[test]
    fn floats_are_only_plain_decimals() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("-2"), Some(-2.0));
        for deferred in ["", ".5", "5.", "1e3", "nan", "inf", "1,5", " 1"] {
            assert_eq!(parse_float(deferred), None, "{deferred:?}");
        }
    }

    fn promote(policy: &InlinePolicy) {
        for _ in 0..PROMOTE_AFTER {
            policy.observe_pooled(Duration::from_micros(20));
        }
    }

    #[test]
    fn quick_routes_go_inline_and_a_slow_inline_call_sends_them_back_to_prove_again() {
        let policy = InlinePolicy::default();
        for _ in 0..PROMOTE_AFTER - 1 {
            policy.observe_pooled(Duration::from_micros(20));
        }
        assert!(!policy.is_inline());
        policy.observe_pooled(Duration::from_micros(20));
        assert!(policy.is_inline());
        policy.observe_inline(Duration::from_micros(30));
        assert!(policy.is_inline());
        policy.observe_inline(Duration::from_millis(50));
        assert!(!policy.is_inline());
        // Blocking on the pool too: it stays there.
        for _ in 0..PROMOTE_AFTER * 2 {
            policy.observe_pooled(Duration::from_millis(50));
        }
        assert!(!policy.is_inline());
        // Quick again on the pool (mostly): back inline.
        for _ in 0..PROMOTE_AFTER * 40 {
            policy.observe_pooled(Duration::from_micros(20));
        }
        assert!(policy.is_inline());
    }

    #[test]
    fn a_route_demoted_too_often_stays_on_the_pool() {
        let policy = InlinePolicy::default();
        for _ in 0..MAX_DEMOTIONS {
            promote(&policy);
            assert!(policy.is_inline());
            policy.observe_inline(Duration::from_millis(50));
        }
        promote(&policy);
        assert!(!policy.is_inline());
    }

    #[test]
    fn routes_that_are_often_slow_stay_on_the_pool() {
        let policy = InlinePolicy::default();
        for _ in 0..PROMOTE_AFTER * 4 {
            policy.observe_pooled(Duration::from_micros(20));
            policy.observe_pooled(Duration::from_secs(1));
        }
        assert!(!policy.is_inline());
    }

    #[test]
    fn an_occasional_slow_call_does_not_keep_a_quick_route_off_the_io_thread() {
        let policy = InlinePolicy::default();
        policy.observe_pooled(Duration::from_millis(5));
        policy.observe_pooled(Duration::from_millis(5));
        for _ in 0..PROMOTE_AFTER {
            policy.observe_pooled(Duration::from_micros(20));
        }
        assert!(policy.is_inline());
    }

    #[test]
    fn bools_follow_pydantic() {
        for t in ["true", "True", "1", "yes", "on", "t", "y"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "FALSE", "0", "no", "off", "f", "n"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool(""), None);
    }
}
