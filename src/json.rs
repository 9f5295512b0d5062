//! Python object -> JSON bytes in one pass, without Python's `json` module.
//!
//! The output is byte-for-byte what FastAPI sends for a value returned by a
//! handler, that is
//! `json.dumps(jsonable_encoder(obj), ensure_ascii=False, allow_nan=False,
//! separators=(",", ":")).encode()`.
//! Exact builtin types are written straight from their Python objects;
//! the types `jsonable_encoder` converts (models, dataclasses, enums, dates,
//! UUIDs, decimals, ...) are converted the same way and written in turn; the
//! rest goes to a fallback registered from Python, normally
//! `ignyx.encoders.jsonable_encoder`.

use std::sync::Mutex;

use pyo3::exceptions::{PyRecursionError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple, PyType,
};
use pyo3::{ffi, intern};

/// Deepest nesting of containers and conversions before giving up.
const MAX_DEPTH: u32 = 255;

/// The Python callable used for types the writer does not know.
static FALLBACK: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// Appends the JSON encoding of `obj` to `out`; on error `out` is left as it was.
pub fn write_json(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let start = out.len();
    let result = write_value(obj, out, 0, true);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Returns the JSON encoding of `obj`.
pub fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_json(obj, &mut out)?;
    Ok(out)
}

/// `json_dumps(obj) -> bytes`: `obj` encoded the way FastAPI encodes a response.
#[pyfunction]
fn json_dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let out = dumps(obj)?;
    Ok(PyBytes::new(py, &out))
}

/// `set_json_fallback(fn)`: `fn(obj)` converts objects of unknown types into
/// JSON-ready ones; `None` removes it.
#[pyfunction]
#[pyo3(signature = (func))]
fn set_json_fallback(func: Option<Bound<'_, PyAny>>) -> PyResult<()> {
    if let Some(func) = &func {
        if !func.is_callable() {
            return Err(PyTypeError::new_err("the JSON fallback must be callable"));
        }
    }
    let new = func.map(Bound::unbind);
    let old = {
        let mut slot = FALLBACK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *slot, new)
    };
    // Dropped outside the lock: a `__del__` run by the drop may come back here.
    drop(old);
    Ok(())
}

/// Adds `json_dumps` and `set_json_fallback` to the extension module.
pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(json_dumps, m)?)?;
    m.add_function(wrap_pyfunction!(set_json_fallback, m)?)?;
    Ok(())
}

/// Types `jsonable_encoder` knows, imported once.
struct KnownTypes {
    datetime: Py<PyType>,
    date: Py<PyType>,
    time: Py<PyType>,
    timedelta: Py<PyType>,
    uuid: Py<PyType>,
    decimal: Py<PyType>,
    enum_: Py<PyType>,
    pure_path: Py<PyType>,
    asdict: Py<PyAny>,
}

static KNOWN_TYPES: GILOnceCell<KnownTypes> = GILOnceCell::new();
/// `pydantic.BaseModel`, or `None` when pydantic cannot be imported.
static BASE_MODEL: GILOnceCell<Option<Py<PyType>>> = GILOnceCell::new();
/// `{"mode": "json", "by_alias": True}`, the arguments FastAPI gives `model_dump`.
static MODEL_DUMP_KWARGS: GILOnceCell<Py<PyDict>> = GILOnceCell::new();

fn known_types(py: Python<'_>) -> PyResult<&KnownTypes> {
    KNOWN_TYPES.get_or_try_init(py, || {
        let import_type = |module: &str, name: &str| -> PyResult<Py<PyType>> {
            Ok(py
                .import(module)?
                .getattr(name)?
                .downcast_into::<PyType>()?
                .unbind())
        };
        Ok(KnownTypes {
            datetime: import_type("datetime", "datetime")?,
            date: import_type("datetime", "date")?,
            time: import_type("datetime", "time")?,
            timedelta: import_type("datetime", "timedelta")?,
            uuid: import_type("uuid", "UUID")?,
            decimal: import_type("decimal", "Decimal")?,
            enum_: import_type("enum", "Enum")?,
            pure_path: import_type("pathlib", "PurePath")?,
            asdict: py.import("dataclasses")?.getattr("asdict")?.unbind(),
        })
    })
}

fn base_model(py: Python<'_>) -> Option<&Bound<'_, PyType>> {
    BASE_MODEL
        .get_or_init(py, || {
            let module = py.import("pydantic").ok()?;
            let model = module.getattr("BaseModel").ok()?;
            Some(model.downcast_into::<PyType>().ok()?.unbind())
        })
        .as_ref()
        .map(|model| model.bind(py))
}

fn model_dump_kwargs(py: Python<'_>) -> PyResult<&Bound<'_, PyDict>> {
    let kwargs = MODEL_DUMP_KWARGS.get_or_try_init(py, || -> PyResult<_> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("mode", "json")?;
        kwargs.set_item("by_alias", true)?;
        Ok(kwargs.unbind())
    })?;
    Ok(kwargs.bind(py))
}

fn deeper(depth: u32) -> PyResult<u32> {
    if depth >= MAX_DEPTH {
        return Err(PyRecursionError::new_err(
            "maximum recursion depth exceeded while encoding a JSON object",
        ));
    }
    Ok(depth + 1)
}

/// Writes `obj`. `fallback_ok` is false only for what the fallback itself
/// returned, so that a fallback returning an unknown type fails instead of
/// looping.
fn write_value(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    fallback_ok: bool,
) -> PyResult<()> {
    if let Ok(s) = obj.downcast_exact::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    if let Ok(i) = obj.downcast_exact::<PyInt>() {
        return write_int(out, i);
    }
    if let Ok(dict) = obj.downcast_exact::<PyDict>() {
        return write_dict(dict, out, depth);
    }
    if let Ok(list) = obj.downcast_exact::<PyList>() {
        return write_array(list.iter().map(Ok), out, depth);
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    if let Ok(b) = obj.downcast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        return Ok(());
    }
    if let Ok(f) = obj.downcast_exact::<PyFloat>() {
        return write_float(out, f.value());
    }
    if let Ok(tuple) = obj.downcast_exact::<PyTuple>() {
        return write_array(tuple.iter().map(Ok), out, depth);
    }
    write_other(obj, out, depth, fallback_ok)
}

/// Everything but the exact builtin types, in `jsonable_encoder`'s order.
fn write_other(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    fallback_ok: bool,
) -> PyResult<()> {
    let py = obj.py();
    let types = known_types(py)?;
    let ty = obj.get_type_ptr().cast::<ffi::PyObject>();

    // Exact instances of the types `jsonable_encoder` looks up in its table
    // cannot match any of its earlier checks, so they skip the isinstance calls.
    if ty == types.uuid.as_ptr() {
        return write_uuid(obj, out);
    }
    if let Ok(bytes) = obj.downcast_exact::<PyBytes>() {
        if let Ok(s) = std::str::from_utf8(bytes.as_bytes()) {
            write_str(out, s);
            return Ok(());
        }
    }
    if obj.is_exact_instance_of::<PySet>() || obj.is_exact_instance_of::<PyFrozenSet>() {
        return write_array(obj.try_iter()?, out, depth);
    }
    if [
        &types.datetime,
        &types.date,
        &types.time,
        &types.timedelta,
        &types.decimal,
    ]
    .iter()
    .any(|known| known.as_ptr() == ty)
    {
        if let Some(converted) = table_encoded(obj, types)? {
            return write_value(&converted, out, deeper(depth)?, true);
        }
    }

    if let Some(converted) = model_like(obj, types)? {
        return write_value(&converted, out, deeper(depth)?, true);
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    if let Ok(i) = obj.downcast::<PyInt>() {
        return write_int(out, i);
    }
    if let Ok(f) = obj.downcast::<PyFloat>() {
        return write_float(out, f.value());
    }
    if obj.is_instance_of::<PyDict>() {
        return write_dict_items(obj, out, depth);
    }
    if obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
        || obj.is_instance_of::<PySet>()
        || obj.is_instance_of::<PyFrozenSet>()
    {
        return write_array(obj.try_iter()?, out, depth);
    }
    if let Some(converted) = table_encoded(obj, types)? {
        return write_value(&converted, out, deeper(depth)?, true);
    }
    if fallback_ok {
        if let Some(converted) = call_fallback(obj)? {
            return write_value(&converted, out, deeper(depth)?, false);
        }
    }
    Err(PyTypeError::new_err(format!(
        "Object of type {} is not JSON serializable",
        obj.get_type().name()?
    )))
}

/// `jsonable_encoder`'s first rules: pydantic models, dataclasses, enums, paths.
fn model_like<'py>(
    obj: &Bound<'py, PyAny>,
    types: &KnownTypes,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    if let Some(model) = base_model(py) {
        if obj.is_instance(model)? {
            let dump = obj.getattr(intern!(py, "model_dump"))?;
            return Ok(Some(dump.call((), Some(model_dump_kwargs(py)?))?));
        }
    }
    if !obj.is_instance_of::<PyType>()
        && obj
            .get_type()
            .hasattr(intern!(py, "__dataclass_fields__"))?
    {
        return Ok(Some(types.asdict.bind(py).call1((obj,))?));
    }
    if obj.is_instance(types.enum_.bind(py))? {
        return Ok(Some(obj.getattr(intern!(py, "value"))?));
    }
    if obj.is_instance(types.pure_path.bind(py))? {
        return Ok(Some(obj.str()?.into_any()));
    }
    Ok(None)
}

/// `jsonable_encoder`'s table of per-type encoders, for the types handled here.
fn table_encoded<'py>(
    obj: &Bound<'py, PyAny>,
    types: &KnownTypes,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    if obj.is_instance_of::<PyBytes>() {
        return Ok(Some(obj.call_method0(intern!(py, "decode"))?));
    }
    // `datetime` is a subclass of `date`.
    if obj.is_instance(types.date.bind(py))? || obj.is_instance(types.time.bind(py))? {
        return Ok(Some(obj.call_method0(intern!(py, "isoformat"))?));
    }
    if obj.is_instance(types.timedelta.bind(py))? {
        return Ok(Some(obj.call_method0(intern!(py, "total_seconds"))?));
    }
    if obj.is_instance(types.decimal.bind(py))? {
        return decimal_to_number(obj).map(Some);
    }
    if obj.is_instance(types.uuid.bind(py))? {
        return Ok(Some(obj.str()?.into_any()));
    }
    Ok(None)
}

/// FastAPI's `decimal_encoder`: `int` when the exponent is a non-negative
/// integer, `float` otherwise.
fn decimal_to_number<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let exponent = obj
        .call_method0(intern!(py, "as_tuple"))?
        .getattr(intern!(py, "exponent"))?;
    let integral = exponent.is_instance_of::<PyInt>() && exponent.ge(0)?;
    if integral {
        py.get_type::<PyInt>().call1((obj,))
    } else {
        py.get_type::<PyFloat>().call1((obj,))
    }
}

fn call_fallback<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    let func = {
        let slot = FALLBACK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref().map(|func| func.clone_ref(py))
    };
    match func {
        Some(func) => Ok(Some(func.bind(py).call1((obj,))?)),
        None => Ok(None),
    }
}

fn write_array<'py>(
    items: impl Iterator<Item = PyResult<Bound<'py, PyAny>>>,
    out: &mut Vec<u8>,
    depth: u32,
) -> PyResult<()> {
    let depth = deeper(depth)?;
    out.push(b'[');
    let mut first = true;
    for item in items {
        if !first {
            out.push(b',');
        }
        first = false;
        write_value(&item?, out, depth, true)?;
    }
    out.push(b']');
    Ok(())
}

/// `jsonable_encoder` drops string keys starting with `_sa` (SQLAlchemy state).
fn is_sqlalchemy_key(key: &str) -> bool {
    key.starts_with("_sa")
}

/// Writes an exact dict, walking it in insertion order with `PyDict_Next`.
fn write_dict(dict: &Bound<'_, PyDict>, out: &mut Vec<u8>, depth: u32) -> PyResult<()> {
    let depth = deeper(depth)?;
    let py = dict.py();
    let len = dict.len();
    out.push(b'{');
    let mut first = true;
    let mut pos: ffi::Py_ssize_t = 0;
    loop {
        let mut key_ptr: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value_ptr: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: the GIL is held and `dict` is a live dict. PyDict_Next re-reads
        // the dict's table on every call, so it stays in bounds even if Python code
        // run below changed the dict; on success both pointers are valid borrowed
        // references, made owned at once so that such code cannot free them.
        let (key, value) = unsafe {
            if ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key_ptr, &mut value_ptr) == 0 {
                break;
            }
            (
                Bound::from_borrowed_ptr(py, key_ptr),
                Bound::from_borrowed_ptr(py, value_ptr),
            )
        };
        write_entry(&key, &value, out, depth, &mut first)?;
        if dict.len() != len {
            return Err(PyRuntimeError::new_err(
                "dictionary changed size during iteration",
            ));
        }
    }
    out.push(b'}');
    Ok(())
}

/// Writes a dict subclass through its own `items()`, as `jsonable_encoder` does.
fn write_dict_items(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: u32) -> PyResult<()> {
    let depth = deeper(depth)?;
    let items = obj.call_method0(intern!(obj.py(), "items"))?;
    out.push(b'{');
    let mut first = true;
    for item in items.try_iter()? {
        let (key, value) = item?.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
        write_entry(&key, &value, out, depth, &mut first)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_entry(
    key: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    first: &mut bool,
) -> PyResult<()> {
    let mut exact_str_key = None;
    if let Ok(s) = key.downcast::<PyString>() {
        let Ok(text) = s.to_str() else {
            // Lone surrogates: written escaped by `write_key`.
            if !*first {
                out.push(b',');
            }
            *first = false;
            write_pystr(out, s)?;
            out.push(b':');
            return write_value(value, out, depth, true);
        };
        if is_sqlalchemy_key(text) {
            return Ok(());
        }
        if key.is_exact_instance_of::<PyString>() {
            exact_str_key = Some(text);
        }
    }
    if !*first {
        out.push(b',');
    }
    *first = false;
    match exact_str_key {
        Some(text) => write_str(out, text),
        None => write_key(key, out, depth, true)?,
    }
    out.push(b':');
    write_value(value, out, depth, true)
}

/// Writes a dict key as a JSON string: the key `jsonable_encoder` would make,
/// then `json.dumps`'s rules for str, int, float, bool and None keys.
fn write_key(
    key: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: u32,
    fallback_ok: bool,
) -> PyResult<()> {
    if let Ok(s) = key.downcast_exact::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    if key.is_exact_instance_of::<PyInt>()
        || key.is_exact_instance_of::<PyFloat>()
        || key.is_instance_of::<PyBool>()
        || key.is_none()
    {
        return write_scalar_key(key, out);
    }
    let types = known_types(key.py())?;
    if let Some(converted) = model_like(key, types)? {
        return write_key(&converted, out, deeper(depth)?, true);
    }
    if key.is_instance_of::<PyString>()
        || key.is_instance_of::<PyInt>()
        || key.is_instance_of::<PyFloat>()
    {
        return write_scalar_key(key, out);
    }
    let is_container = key.is_instance_of::<PyDict>()
        || key.is_instance_of::<PyList>()
        || key.is_instance_of::<PyTuple>()
        || key.is_instance_of::<PySet>()
        || key.is_instance_of::<PyFrozenSet>();
    if !is_container {
        if let Some(converted) = table_encoded(key, types)? {
            return write_key(&converted, out, deeper(depth)?, true);
        }
        if fallback_ok {
            if let Some(converted) = call_fallback(key)? {
                return write_key(&converted, out, deeper(depth)?, false);
            }
        }
    }
    Err(PyTypeError::new_err(format!(
        "keys must be str, int, float, bool or None, not {}",
        key.get_type().name()?
    )))
}

/// A str, int, float, bool or None key (subclasses included), quoted.
fn write_scalar_key(key: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(s) = key.downcast::<PyString>() {
        write_pystr(out, s)?;
        return Ok(());
    }
    out.push(b'"');
    if let Ok(f) = key.downcast::<PyFloat>() {
        write_float(out, f.value())?;
    } else if let Ok(b) = key.downcast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = key.downcast::<PyInt>() {
        write_int(out, i)?;
    } else {
        out.extend_from_slice(b"null");
    }
    out.push(b'"');
    Ok(())
}

fn write_int(out: &mut Vec<u8>, int: &Bound<'_, PyInt>) -> PyResult<()> {
    if let Ok(value) = int.extract::<i64>() {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        return Ok(());
    }
    // `int.__repr__` rather than `str()`: subclasses may override the latter.
    let digits = int
        .py()
        .get_type::<PyInt>()
        .call_method1(intern!(int.py(), "__repr__"), (int,))?;
    out.extend_from_slice(digits.downcast_into::<PyString>()?.to_str()?.as_bytes());
    Ok(())
}

/// `str(uuid)` without the Python-level `UUID.__str__`.
fn write_uuid(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let value = obj.getattr(intern!(obj.py(), "int"))?.extract::<u128>()?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push(b'-');
        }
        let nibble = (value >> (124 - 4 * i)) & 0xf;
        out.push(HEX[nibble as usize]);
    }
    out.push(b'"');
    Ok(())
}

/// For each byte: 0 when it is written as is, otherwise the character after
/// the backslash (`u` for the `\u00XX` form).
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Writes a Python str; one holding lone surrogates (which UTF-8 cannot carry, e.g.
/// from a `"\\ud800"` escape in request JSON) gets them as `\\uXXXX` escapes, so such
/// input never turns into a 500.
fn write_pystr(out: &mut Vec<u8>, s: &Bound<'_, PyString>) -> PyResult<()> {
    if let Ok(text) = s.to_str() {
        write_str(out, text);
        return Ok(());
    }
    let encoded = s.call_method1(intern!(s.py(), "encode"), ("utf-8", "surrogatepass"))?;
    let encoded = encoded.downcast_into::<PyBytes>()?;
    let bytes = encoded.as_bytes();
    out.push(b'"');
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        // "surrogatepass" writes U+D800..U+DFFF as ED A0..BF xx; nothing else starts so.
        if bytes[i] == 0xED && i + 2 < bytes.len() && bytes[i + 1] >= 0xA0 {
            write_str_body(out, &bytes[start..i]);
            let code = ((u32::from(bytes[i]) & 0x0F) << 12)
                | ((u32::from(bytes[i + 1]) & 0x3F) << 6)
                | (u32::from(bytes[i + 2]) & 0x3F);
            out.extend_from_slice(format!("\\u{code:04x}").as_bytes());
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    write_str_body(out, &bytes[start..]);
    out.push(b'"');
    Ok(())
}

/// Writes `s` as a JSON string with `ensure_ascii=False`: non-ASCII stays raw
/// UTF-8, and only quotes, backslashes and control characters are escaped.
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    write_str_body(out, s.as_bytes());
    out.push(b'"');
}

/// The escaped inside of a JSON string, from UTF-8 bytes.
fn write_str_body(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPES[byte as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(byte >> 4) as usize],
                HEX[(byte & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes `value` as Python's `repr(float)` does; NaN and infinities are errors.
fn write_float(out: &mut Vec<u8>, value: f64) -> PyResult<()> {
    if !value.is_finite() {
        return Err(PyValueError::new_err(
            "Out of range float values are not JSON compliant",
        ));
    }
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return Ok(());
    }
    let mut buffer = ryu::Buffer::new();
    let shortest = ShortestDigits::parse(buffer.format_finite(value).as_bytes());
    shortest.write_python_repr(out);
    Ok(())
}

/// A nonzero float's shortest round-trip digits: `0.d1d2... * 10**point`.
struct ShortestDigits {
    negative: bool,
    digits: [u8; 32],
    len: usize,
    point: i32,
}

impl ShortestDigits {
    /// Reads ryu's output (`1.5e-7`, `0.0001`, `123.0`, `1e16`, ...).
    fn parse(text: &[u8]) -> Self {
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let (mantissa, exponent) = match text.iter().position(|&c| c == b'e') {
            Some(e) => (&text[..e], parse_exponent(&text[e + 1..])),
            None => (text, 0),
        };
        let mut digits = [0u8; 32];
        let mut len = 0;
        let mut integer_digits = 0i32;
        let mut seen_point = false;
        for &c in mantissa {
            if c == b'.' {
                seen_point = true;
                continue;
            }
            // Leading zeros only shift the decimal point.
            if len == 0 && c == b'0' {
                if seen_point {
                    integer_digits -= 1;
                }
                continue;
            }
            if len < digits.len() {
                digits[len] = c;
                len += 1;
            }
            if !seen_point {
                integer_digits += 1;
            }
        }
        while len > 1 && digits[len - 1] == b'0' {
            len -= 1;
        }
        Self {
            negative,
            digits,
            len,
            point: integer_digits + exponent,
        }
    }

    /// Python's `float_repr_style = 'short'`: positional when
    /// `-4 < point <= 16`, else `d.ddde+XX` with a sign and at least two digits.
    fn write_python_repr(&self, out: &mut Vec<u8>) {
        let digits = &self.digits[..self.len];
        if self.negative {
            out.push(b'-');
        }
        let point = self.point;
        if point > -4 && point <= 16 {
            if point <= 0 {
                out.extend_from_slice(b"0.");
                out.resize(out.len() + point.unsigned_abs() as usize, b'0');
                out.extend_from_slice(digits);
            } else if (point as usize) < digits.len() {
                let (integer, fraction) = digits.split_at(point as usize);
                out.extend_from_slice(integer);
                out.push(b'.');
                out.extend_from_slice(fraction);
            } else {
                out.extend_from_slice(digits);
                out.resize(out.len() + (point as usize - digits.len()), b'0');
                out.extend_from_slice(b".0");
            }
        } else {
            if let Some((first, rest)) = digits.split_first() {
                out.push(*first);
                if !rest.is_empty() {
                    out.push(b'.');
                    out.extend_from_slice(rest);
                }
            }
            let exponent = point - 1;
            out.push(b'e');
            out.push(if exponent < 0 { b'-' } else { b'+' });
            let magnitude = exponent.unsigned_abs();
            if magnitude < 10 {
                out.push(b'0');
            }
            out.extend_from_slice(itoa::Buffer::new().format(magnitude).as_bytes());
        }
    }
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .fold(0i32, |acc, &c| acc * 10 + i32::from(c.wrapping_sub(b'0')));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use pyo3::exceptions::PyValueError;
    use pyo3::types::PyModule;

    use super::*;

    /// Imports, and the classes the tests encode. `fastapi_bytes` is the
    /// reference: what FastAPI itself sends for a returned value.
    const PRELUDE: &str = r#"
import collections, dataclasses, datetime, decimal, enum, glob, json, os, pathlib, site, sys, uuid

venv = os.environ.get("VIRTUAL_ENV")
if venv:
    for path in glob.glob(os.path.join(venv, "lib", "python*", "site-packages")):
        sys.path.insert(0, path)
        site.addsitedir(path)

import pydantic
from fastapi.encoders import jsonable_encoder

def fastapi_bytes(obj):
    return json.dumps(
        jsonable_encoder(obj), ensure_ascii=False, allow_nan=False, indent=None,
        separators=(",", ":"),
    ).encode("utf-8")

def plain_bytes(obj):
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()

class Color(enum.Enum):
    RED = "red"
    GREEN = 2

class Level(enum.IntEnum):
    LOW = 1

class Mood(str, enum.Enum):
    HAPPY = "happy"

class Address(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)
    street_name: str = pydantic.Field(alias="streetName")

class User(pydantic.BaseModel):
    id: uuid.UUID
    name: str
    created: datetime.datetime
    address: Address
    tags: list[str]
    score: float
    price: decimal.Decimal
    color: Color
    extra: dict[str, int] = {}

@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str = "p"
    day: datetime.date = datetime.date(2024, 2, 29)

@dataclasses.dataclass
class Segment:
    a: Point
    b: Point

class Text(str):
    def __str__(self):
        return "nope"

class Big(int):
    def __repr__(self):
        return "nope"
    __str__ = __repr__

class Ratio(float):
    def __repr__(self):
        return "nope"

class Opaque:
    pass

def user():
    return User(
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        name="Zoë \"the\" <admin>\n",
        created=datetime.datetime(2024, 1, 2, 3, 4, 5, 6789, tzinfo=datetime.timezone.utc),
        address=Address(street_name="Rue de l'Église"),
        tags=["a", "b"],
        score=0.1,
        price=decimal.Decimal("12.50"),
        color=Color.GREEN,
        extra={"z": 1, "a": 2},
    )
"#;

    fn scope(py: Python<'_>) -> Bound<'_, PyDict> {
        let globals = PyDict::new(py);
        let code = CString::new(PRELUDE).expect("prelude has no NUL");
        py.run(&code, Some(&globals), None)
            .unwrap_or_else(|e| panic!("prelude failed: {e}"));
        globals
    }

    fn with_scope(test: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyDict>)) {
        pyo3::prepare_freethreaded_python();
        Python::with_gil(|py| test(py, &scope(py)));
    }

    fn eval<'py>(py: Python<'py>, scope: &Bound<'py, PyDict>, expr: &str) -> Bound<'py, PyAny> {
        let code = CString::new(expr).expect("expression has no NUL");
        py.eval(&code, Some(scope), None)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn encode(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str) -> PyResult<String> {
        let bytes = dumps(&eval(py, scope, expr))?;
        Ok(String::from_utf8(bytes).expect("output is UTF-8"))
    }

    /// Asserts that `expr` encodes exactly as FastAPI encodes it.
    fn assert_like_fastapi(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str) {
        let expected = eval(py, scope, &format!("fastapi_bytes({expr}).decode()"));
        let expected: String = expected.extract().expect("str");
        let actual = encode(py, scope, expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(actual, expected, "{expr}");
    }

    fn assert_json(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str, expected: &str) {
        let actual = encode(py, scope, expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(actual, expected, "{expr}");
    }

    fn error_of(py: Python<'_>, scope: &Bound<'_, PyDict>, expr: &str) -> PyErr {
        match encode(py, scope, expr) {
            Ok(json) => panic!("{expr} encoded as {json}, expected an error"),
            Err(err) => err,
        }
    }

    #[test]
    fn test_builtin_values_match_json_dumps() {
        with_scope(|py, scope| {
            for expr in [
                "None",
                "True",
                "False",
                "0",
                "-1",
                "2**63 - 1",
                "-2**63",
                "2**63",
                "-2**64 - 1",
                "10**100",
                "-(10**200)",
                "''",
                "'plain ascii'",
                "[]",
                "{}",
                "()",
                "[1, 'a', None, True, 2.5, [], {}, [[[]]]]",
                "(1, (2, (3,)))",
                "{'b': 1, 'a': [1, 2, {'c': None}], 'é': {'ß': 'ü'}}",
                "{'z': 1, 'a': 2, 'm': 3}",
                "{1: 'int', 2.5: 'float', True: 'bool', None: 'none', 'x': 'str'}",
                "{-5: 1, 10**30: 2, 1e16: 3, 1e-7: 4, 0.1: 5, False: 6}",
                "[0.0, -0.0, 1.0, -1.5, 1e16, 1e-5, 123456789.125, 5e-324, 1.7976931348623157e308]",
            ] {
                let expected = eval(py, scope, &format!("plain_bytes({expr}).decode()"));
                let expected: String = expected.extract().expect("str");
                assert_eq!(encode(py, scope, expr).expect(expr), expected, "{expr}");
                assert_like_fastapi(py, scope, expr);
            }
        });
    }

    #[test]
    fn test_strings_escape_like_json_dumps() {
        with_scope(|py, scope| {
            for expr in [
                "''.join(map(chr, range(0x80)))",
                "'quote \" backslash \\\\ slash /'",
                "'\\x7f \\x80 \\xa0 \\u2028 \\u2029 \\ufeff'",
                "'Zoë 日本語 🎉 \\U0010ffff'",
                "'tail control\\x1f'",
                "'\\x00'",
                "'é' * 1000 + '\\n'",
            ] {
                let expected = eval(py, scope, &format!("plain_bytes({expr}).decode()"));
                let expected: String = expected.extract().expect("str");
                assert_eq!(encode(py, scope, expr).expect(expr), expected, "{expr}");
            }
            assert_json(py, scope, "'\\b\\f\\n\\r\\t'", r#""\b\f\n\r\t""#);
            assert_json(py, scope, "'\\x01\\x1f\\x0b'", r#""\u0001\u001f\u000b""#);
            assert_json(py, scope, "'日本'", "\"日本\"");
        });
    }

    #[test]
    fn test_lone_surrogates_are_written_as_escapes() {
        with_scope(|py, scope| {
            assert_json(py, scope, "'\\ud800'", "\"\\ud800\"");
            assert_json(
                py,
                scope,
                "['ok', 'a\\udfffb\"']",
                "[\"ok\",\"a\\udfffb\\\"\"]",
            );
            assert_json(py, scope, "{'\\ud800': 1}", "{\"\\ud800\":1}");
        });
    }

    #[test]
    fn test_floats_match_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.1, "0.1"),
            (0.30000000000000004, "0.30000000000000004"),
            (123.456, "123.456"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.8, "1234567890123456.8"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (-2.5e300, "-2.5e+300"),
            (1e100, "1e+100"),
            (1e-100, "1e-100"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740993.0, "9007199254740992.0"),
            (1e22, "1e+22"),
            (1e23, "1e+23"),
            (0.5, "0.5"),
            (2.0 / 3.0, "0.6666666666666666"),
            (1e-4 * 3.0, "0.00030000000000000003"),
        ];
        for &(value, expected) in cases {
            let mut out = Vec::new();
            write_float(&mut out, value).expect("finite");
            assert_eq!(String::from_utf8_lossy(&out), expected, "{value:e}");
        }
    }

    #[test]
    fn test_random_floats_match_repr() {
        with_scope(|py, scope| {
            let code = CString::new(
                r#"
import math, random, struct
rng = random.Random(20240229)
floats = []
while len(floats) < 200_000:
    value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
    if math.isfinite(value):
        floats.append(value)
floats += [rng.uniform(-1e6, 1e6) for _ in range(50_000)]
floats += [round(rng.uniform(0, 1000), rng.randint(0, 6)) for _ in range(50_000)]
floats += [10.0 ** e for e in range(-323, 309)] + [2.0 ** e for e in range(-1074, 1024)]
floats += [x * 10.0 ** e for e in range(-8, 20) for x in (1, 1.5, 9.999999999999999, 0.1)]
"#,
            )
            .expect("no NUL");
            py.run(&code, Some(scope), None).expect("floats");
            let floats = eval(py, scope, "floats");
            for item in floats.try_iter().expect("iterable") {
                let item = item.expect("item");
                let expected: String = item.repr().expect("repr").extract().expect("str");
                let actual = String::from_utf8(dumps(&item).expect("finite")).expect("UTF-8");
                assert_eq!(actual, expected);
            }
        });
    }

    #[test]
    fn test_non_finite_floats_are_rejected() {
        with_scope(|py, scope| {
            for expr in [
                "float('nan')",
                "[float('inf')]",
                "{'a': -float('inf')}",
                "{float('nan'): 1}",
                "decimal.Decimal('NaN')",
                "decimal.Decimal('-Infinity')",
            ] {
                let err = error_of(py, scope, expr);
                assert!(err.is_instance_of::<PyValueError>(py), "{expr}: {err}");
                assert_eq!(
                    err.value(py).to_string(),
                    "Out of range float values are not JSON compliant"
                );
            }
        });
    }

    #[test]
    fn test_known_types_match_fastapi() {
        with_scope(|py, scope| {
            for expr in [
                "datetime.datetime(2024, 1, 2, 3, 4, 5)",
                "datetime.datetime(2024, 1, 2, 3, 4, 5, 123, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))",
                "datetime.date(1999, 12, 31)",
                "datetime.time(23, 59, 1, 500)",
                "datetime.timedelta(days=1, seconds=3, microseconds=7)",
                "datetime.timedelta(0)",
                "datetime.timedelta(days=-2, microseconds=1)",
                "uuid.UUID('12345678-1234-5678-1234-567812345678')",
                "uuid.UUID(int=0)",
                "uuid.UUID(int=2**128 - 1)",
                "uuid.UUID(int=0x0123456789ABCDEF0FEDCBA987654321)",
                "decimal.Decimal('12.50')",
                "decimal.Decimal('12')",
                "decimal.Decimal('1E+5')",
                "decimal.Decimal('-0.000001')",
                "decimal.Decimal('123456789012345678901234567890')",
                "Color.RED",
                "Color.GREEN",
                "Level.LOW",
                "Mood.HAPPY",
                "b'bytes \\xc3\\xa9'",
                "pathlib.PurePosixPath('/tmp/a b/c.txt')",
                "pathlib.Path('relative/file')",
                "{1, 2, 3}",
                "frozenset({'x'})",
                "set()",
                "user()",
                "[user(), user()]",
                "Address(street_name='x')",
                "Point(1, 2.5)",
                "Segment(Point(1, 2.0, 'a'), Point(3, 4.0, 'b'))",
                "{'when': datetime.date(2024, 1, 1), 'ids': [uuid.UUID(int=5)], 'who': user()}",
                "{Color.RED: 1, Level.LOW: 2, Mood.HAPPY: 3}",
                "{datetime.date(2024, 1, 1): 'day', uuid.UUID(int=1): 'id', decimal.Decimal('2'): 'two'}",
                "{b'key': 1, pathlib.PurePosixPath('p'): 2, decimal.Decimal('0.5'): 3}",
            ] {
                assert_like_fastapi(py, scope, expr);
            }
            assert_json(
                py,
                scope,
                "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)",
                r#""2024-01-02T03:04:05+00:00""#,
            );
            assert_json(
                py,
                scope,
                "datetime.timedelta(minutes=1, milliseconds=500)",
                "60.5",
            );
            assert_json(
                py,
                scope,
                "uuid.UUID('12345678-1234-5678-1234-567812345678')",
                r#""12345678-1234-5678-1234-567812345678""#,
            );
            assert_json(py, scope, "decimal.Decimal('12.50')", "12.5");
            assert_json(py, scope, "decimal.Decimal('1E+2')", "100");
            assert_json(py, scope, "[Color.RED, Level.LOW]", r#"["red",1]"#);
            assert_json(
                py,
                scope,
                "Segment(Point(1, 2.0), Point(3, 4.0, 'b'))",
                r#"{"a":{"x":1,"y":2.0,"label":"p","day":"2024-02-29"},"b":{"x":3,"y":4.0,"label":"b","day":"2024-02-29"}}"#,
            );
            assert_json(
                py,
                scope,
                "user()",
                concat!(
                    r#"{"id":"12345678-1234-5678-1234-567812345678","name":"Zoë \"the\" <admin>\n","#,
                    r#""created":"2024-01-02T03:04:05.006789Z","address":{"streetName":"Rue de l'Église"},"#,
                    r#""tags":["a","b"],"score":0.1,"price":"12.50","color":2,"extra":{"z":1,"a":2}}"#
                ),
            );
        });
    }

    #[test]
    fn test_subclasses_follow_jsonable_encoder() {
        with_scope(|py, scope| {
            let code = CString::new(
                "od = collections.OrderedDict(a=1, b=2, c=3)\nod.move_to_end('a')\n\
                 dd = collections.defaultdict(list, {'k': [Text('v')]})",
            )
            .expect("no NUL");
            py.run(&code, Some(scope), None).expect("setup");
            for expr in [
                "od",
                "dd",
                "Text('text')",
                "Big(7)",
                "Big(2**70)",
                "Ratio(0.25)",
                "{Text('k'): Big(1), Big(2): Ratio(1e20), Ratio(0.5): 1}",
                "[Text('a'), (Big(3),)]",
            ] {
                assert_like_fastapi(py, scope, expr);
            }
            assert_json(py, scope, "od", r#"{"b":2,"c":3,"a":1}"#);
            assert_json(py, scope, "Big(2**70)", "1180591620717411303424");
        });
    }

    #[test]
    fn test_sqlalchemy_keys_are_dropped_like_fastapi() {
        with_scope(|py, scope| {
            let expr =
                "{'_sa_instance_state': object(), 'id': 1, '_sample': 2, '_s': 3, Text('_sa'): 4}";
            assert_like_fastapi(py, scope, expr);
            assert_json(py, scope, expr, r#"{"id":1,"_s":3}"#);
            assert_json(py, scope, "{'_sa': 1}", "{}");
        });
    }

    #[test]
    fn test_unsupported_keys_are_type_errors() {
        with_scope(|py, scope| {
            let err = error_of(py, scope, "{(1, 2): 'tuple'}");
            assert!(err.is_instance_of::<PyTypeError>(py));
            assert_eq!(
                err.value(py).to_string(),
                "keys must be str, int, float, bool or None, not tuple"
            );
            let err = error_of(py, scope, "{frozenset(): 1}");
            assert!(err.is_instance_of::<PyTypeError>(py));
        });
    }

    #[test]
    fn test_nesting_limit_is_a_recursion_error() {
        with_scope(|py, scope| {
            let code = CString::new(
                "def nested(depth):\n    \
                     value = []\n    \
                     for _ in range(depth - 1):\n        \
                         value = [value]\n    \
                     return value\n\
                 loop = []\n\
                 loop.append(loop)\n\
                 hub = {}\n\
                 hub['self'] = hub",
            )
            .expect("no NUL");
            py.run(&code, Some(scope), None).expect("setup");
            assert_like_fastapi(py, scope, "nested(255)");
            for expr in ["nested(256)", "loop", "hub"] {
                let err = error_of(py, scope, expr);
                assert!(err.is_instance_of::<PyRecursionError>(py), "{expr}: {err}");
            }
        });
    }

    #[test]
    fn test_dict_resized_during_encoding_is_an_error() {
        with_scope(|py, scope| {
            let code = CString::new(
                "grow = {}\n\
                 class Grower(pydantic.BaseModel):\n    \
                     def model_dump(self, **kwargs):\n        \
                         grow['more'] = 1\n        \
                         return {}\n\
                 grow['first'] = Grower()",
            )
            .expect("no NUL");
            py.run(&code, Some(scope), None).expect("setup");
            let err = error_of(py, scope, "grow");
            assert!(err.is_instance_of::<PyRuntimeError>(py), "{err}");
        });
    }

    #[test]
    fn test_error_leaves_output_untouched() {
        with_scope(|py, scope| {
            let mut out = b"prefix".to_vec();
            let obj = eval(py, scope, "[1, 2, float('nan')]");
            assert!(write_json(&obj, &mut out).is_err());
            assert_eq!(out, b"prefix");
            write_json(&eval(py, scope, "[1]"), &mut out).expect("encodes");
            assert_eq!(out, b"prefix[1]");
        });
    }

    /// The fallback is process-wide, so everything touching it lives here.
    #[test]
    fn test_fallback_handles_unknown_types() {
        with_scope(|py, scope| {
            set_json_fallback(None).expect("cleared");
            let err = error_of(py, scope, "Opaque()");
            assert!(err.is_instance_of::<PyTypeError>(py));
            assert_eq!(
                err.value(py).to_string(),
                "Object of type Opaque is not JSON serializable"
            );

            let not_callable = eval(py, scope, "42");
            assert!(set_json_fallback(Some(not_callable)).is_err());

            set_json_fallback(Some(eval(py, scope, "jsonable_encoder"))).expect("set");
            for expr in [
                "__import__('ipaddress').ip_address('127.0.0.1')",
                "collections.deque([1, datetime.date(2020, 1, 1)])",
                "{'re': __import__('re').compile('a+b')}",
                "[__import__('ipaddress').ip_network('10.0.0.0/8')]",
            ] {
                assert_like_fastapi(py, scope, expr);
            }
            assert_json(py, scope, "(i * 2 for i in range(3))", "[0,2,4]");

            set_json_fallback(Some(eval(py, scope, "lambda obj: obj"))).expect("set");
            let err = error_of(py, scope, "[Opaque()]");
            assert!(err.is_instance_of::<PyTypeError>(py), "{err}");
            let err = error_of(py, scope, "{Opaque(): 1}");
            assert!(err.is_instance_of::<PyTypeError>(py), "{err}");

            set_json_fallback(Some(eval(py, scope, "lambda obj: [obj]"))).expect("set");
            let err = error_of(py, scope, "Opaque()");
            assert!(err.is_instance_of::<PyRecursionError>(py), "{err}");

            set_json_fallback(None).expect("cleared");
        });
    }

    #[test]
    fn test_module_functions_are_exposed() {
        with_scope(|py, scope| {
            let module = PyModule::new(py, "_core").expect("module");
            init(&module).expect("init");
            scope.set_item("core", module).expect("set");
            assert_json(
                py,
                scope,
                "core.json_dumps({'a': [1, 'é']}).decode()",
                r#""{\"a\":[1,\"é\"]}""#,
            );
            let bytes = eval(py, scope, "core.json_dumps({'a': [1, 'é']})");
            assert_eq!(
                bytes.downcast::<PyBytes>().expect("bytes").as_bytes(),
                "{\"a\":[1,\"é\"]}".as_bytes()
            );
        });
    }
}
