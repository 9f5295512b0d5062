//! The fast plan's extraction: a route's path and query scalars converted in Rust,
//! exactly as pydantic's lax mode would, or left to pydantic when in doubt; its JSON
//! body given to its pydantic validator as bytes.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyString, PyType};

use super::request::RequestData;
use super::route::{FastParam, FastPlan, ParamKind, ParamSource};
use crate::pycall::{call, call_method};

impl FastPlan {
    /// Calls the endpoint with its parameters, by vectorcall; `None` to take the general
    /// path.
    pub fn call<'py>(
        &self,
        py: Python<'py>,
        data: &RequestData,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        // Held here while the call borrows them: most routes' fit on the stack.
        let mut first: [Option<Bound<'py, PyAny>>; 8] = Default::default();
        let mut rest = Vec::new();
        for (index, param) in self.params.iter().enumerate() {
            let Some(value) = value(py, param, data)? else {
                return Ok(None);
            };
            match first.get_mut(index) {
                Some(slot) => *slot = Some(value),
                None => rest.push(value),
            }
        }
        let args = first.iter().flatten().chain(&rest);
        call(self.endpoint.bind(py), args).map(Some)
    }
}

/// One parameter's value from the request; `None` leaves the request to the general path.
fn value<'py>(
    py: Python<'py>,
    param: &FastParam,
    data: &RequestData,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(match param.source {
        ParamSource::Path => scalar(py, param, data.path_param(&param.name)),
        ParamSource::Query => scalar(py, param, data.query_last(&param.name)),
        ParamSource::Body => validated_body(py, param, data)?,
    })
}

/// A path or query parameter converted from `raw`, or its default when it is absent;
/// `None` leaves the request to the general path.
fn scalar<'py>(py: Python<'py>, param: &FastParam, raw: Option<&str>) -> Option<Bound<'py, PyAny>> {
    match raw {
        Some(raw) => convert(py, param.kind, raw),
        None => param
            .default
            .as_ref()
            .map(|default| default.clone_ref(py).into_bound(py)),
    }
}

/// The body validated from its JSON bytes, as the general path does first
/// (`ignyx.dependencies.solve`); `None` leaves the request to that path: an empty body,
/// one whose content type is not JSON, one that may hold an integer past the float range
/// (pydantic reads it as inf where FastAPI answers 422), or one that fails validation,
/// whose 422 FastAPI makes from `json.loads` and Python-mode validation.
fn validated_body<'py>(
    py: Python<'py>,
    param: &FastParam,
    data: &RequestData,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(validator) = &param.validator else {
        return Ok(None);
    };
    let body = &data.body;
    if body.is_empty() || !is_json(data) || may_hold_huge_integer(body) {
        return Ok(None);
    }
    let bytes = PyBytes::new(py, body);
    let validate_json = pyo3::intern!(py, "validate_json");
    match call_method(
        validator.bind(py),
        validate_json,
        &[bytes.as_any()],
        None,
        &[],
    ) {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_instance(py, validation_error(py)?) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether the request's content type is JSON (`application/json` or `application/*+json`,
/// parameters aside), as FastAPI decides it; no content type is not JSON.
fn is_json(data: &RequestData) -> bool {
    let Some(value) = data.headers.get(http::header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((main, sub)) = essence.split_once('/') else {
        return false;
    };
    main.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || (sub.len() >= 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json")))
}

/// Whether `body` has a run of 309 digits or more (an integer that may be past the float
/// range); bodies shorter than that are not searched.
fn may_hold_huge_integer(body: &[u8]) -> bool {
    const DIGITS: usize = 309;
    if body.len() < DIGITS {
        return false;
    }
    let mut run = 0;
    for &byte in body {
        run = if byte.is_ascii_digit() { run + 1 } else { 0 };
        if run >= DIGITS {
            return true;
        }
    }
    false
}

/// `pydantic_core.ValidationError`.
fn validation_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static TYPE: GILOnceCell<Py<PyType>> = GILOnceCell::new();
    TYPE.import(py, "pydantic_core", "ValidationError")
}

/// Converts `raw` the way pydantic's lax mode would, but only for inputs whose
/// result is beyond doubt; `None` defers to pydantic.
pub fn convert<'py>(py: Python<'py>, kind: ParamKind, raw: &str) -> Option<Bound<'py, PyAny>> {
    match kind {
        ParamKind::Json => None,
        ParamKind::Str => Some(PyString::new(py, raw).into_any()),
        ParamKind::Int => parse_int(raw)
            .map(|n| n.into_pyobject(py).ok())?
            .map(|n| n.into_any()),
        ParamKind::Float => parse_float(raw).map(|f| PyFloat::new(py, f).into_any()),
        ParamKind::Bool => parse_bool(raw).map(|b| PyBool::new(py, b).to_owned().into_any()),
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
